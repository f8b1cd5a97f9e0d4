//! Relaying an upstream answer to the client: event by event or whole, translated when the
//! dialects differ and with usage read on the way (`translated`); answers the gateway already
//! holds (`deliver`); and the client head with the upstream fields allowed through (`head`).

pub mod deliver;
pub mod head;
pub mod translated;

use crate::downstream::ClientConn;
use switchyard_http::head::ResponseHead;

use crate::downstream::{Outcome, Tags};
use crate::runtime::pool::UpStream;
use crate::upstream::body::Timing;

/// One upstream answer on its way to the client: both connections, the answer's head, the
/// reply's tags and keep-alive, and the deadlines for reading the rest of it. Every relay
/// takes one of these (with the connection's `Buffers`), instead of the same eight arguments.
pub struct Relay<'a, 't> {
    /// The client.
    pub client: &'a mut ClientConn,
    /// The provider connection the head was read from.
    pub up: &'a mut UpStream,
    /// The answer's head (offsets into `Buffers::up_resp`).
    pub head: &'a ResponseHead,
    /// `x-switchyard-*` tags for the reply.
    pub tags: &'a Tags<'t>,
    /// Whether the client connection stays open after this reply.
    pub keep: Outcome,
    /// Read deadlines.
    pub timing: Timing,
}
