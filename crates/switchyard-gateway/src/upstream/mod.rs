//! The provider side: connecting (`connect`), one request/response-head exchange on a pooled
//! connection (`send`), reading a response body of any framing (`body`), and whole JSON calls
//! to endpoints other than chat (`call`).

pub mod body;
pub mod call;
pub mod connect;
pub mod request;
pub mod send;
