//! HTTP/1.1 framing for switchyard, with no I/O: request and response heads parsed by
//! `httparse` into offsets of the caller's buffer, body framing (content-length, chunked),
//! response writing helpers, and an SSE event splitter.

pub mod chunked;
pub mod head;
pub mod path;
pub mod sse;
pub mod write;

pub use chunked::{ChunkError, ChunkedDecoder};
pub use head::{
    BodyFraming, HeadError, HeaderRef, Limits, Method, RequestHead, ResponseFraming, ResponseHead, header_value,
    parse_request, parse_response,
};
pub use path::percent_decode;
pub use sse::{SseDecoder, SseEvent};
