//! The provider side: connecting (`connect`), one request/response-head exchange on a pooled
//! connection (`send`) and reading a response body of any framing (`body`).

pub mod body;
pub mod connect;
pub mod request;
pub mod send;
