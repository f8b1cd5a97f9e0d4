//! Reads an upstream response body of any framing, piece by piece, de-chunked.

use std::time::Instant;

use switchyard_http::ChunkedDecoder;
use switchyard_http::head::{ResponseFraming, ResponseHead};

use crate::io::until;
use crate::runtime::pool::UpStream;

/// Reads a response body of any framing, piece by piece, de-chunked.
pub struct BodyReader {
    framing: ResponseFraming,
    remaining: u64,
    dec: ChunkedDecoder,
    first: Option<usize>,
    clean_end: bool,
    /// The upstream allows another request on the connection (its head said so).
    keep_alive: bool,
}

impl BodyReader {
    /// A reader for the body after `head` (whose first bytes may already be in the buffer).
    pub fn new(head: &ResponseHead) -> Self {
        BodyReader {
            framing: head.framing,
            remaining: match head.framing {
                ResponseFraming::Length(n) => n,
                _ => 0,
            },
            dec: ChunkedDecoder::new(),
            first: Some(head.head_len),
            clean_end: false,
            keep_alive: head.keep_alive,
        }
    }

    /// Whether the connection can carry another request: the body ended exactly and the
    /// upstream's head allowed keep-alive.
    pub fn reusable(&self) -> bool {
        self.keep_alive && self.clean_end
    }

    /// Appends the next piece of body to `out`; Ok(false) once the body has ended.
    pub async fn next(
        &mut self,
        up: &mut UpStream,
        rbuf: &mut Vec<u8>,
        out: &mut Vec<u8>,
        t: Timing,
    ) -> Result<bool, &'static str> {
        let start = match self.first.take() {
            Some(p) => p,
            None => {
                if self.finished() {
                    return Ok(false);
                }
                rbuf.clear();
                match until(t.wait_until(), up.read_append(rbuf)).await {
                    Ok(Ok(0)) if self.framing == ResponseFraming::UntilClose => {
                        self.clean_end = false;
                        self.framing = ResponseFraming::Empty;
                        return Ok(false);
                    }
                    Ok(Ok(0)) => return Err("the upstream closed the stream early"),
                    Ok(Ok(_)) => 0,
                    Ok(Err(_)) => return Err("the upstream connection failed mid-stream"),
                    Err(_) => return Err(t.expired_reason()),
                }
            }
        };
        let data = &rbuf[start..];
        match self.framing {
            ResponseFraming::Length(_) => {
                let take = data.len().min(self.remaining as usize);
                out.extend_from_slice(&data[..take]);
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    self.clean_end = take == data.len();
                }
            }
            ResponseFraming::Chunked => {
                let used = self
                    .dec
                    .feed(data, |d| out.extend_from_slice(d))
                    .map_err(|_| "the upstream sent an invalid chunked body")?;
                if self.dec.is_done() {
                    self.clean_end = used == data.len();
                }
            }
            ResponseFraming::UntilClose => out.extend_from_slice(data),
            ResponseFraming::Empty => self.clean_end = data.is_empty(),
        }
        Ok(!self.finished())
    }

    /// Appends the whole body to `out`, refusing one over `max` bytes; Ok([`Self::reusable`]).
    pub async fn read_all(
        &mut self,
        up: &mut UpStream,
        rbuf: &mut Vec<u8>,
        out: &mut Vec<u8>,
        t: Timing,
        max: usize,
    ) -> Result<bool, &'static str> {
        while self.next(up, rbuf, out, t).await? {
            if out.len() > max {
                return Err(TOO_LARGE);
            }
        }
        Ok(self.reusable())
    }

    fn finished(&self) -> bool {
        match self.framing {
            ResponseFraming::Length(_) => self.remaining == 0,
            ResponseFraming::Chunked => self.dec.is_done(),
            ResponseFraming::UntilClose => false,
            ResponseFraming::Empty => true,
        }
    }
}

/// `read_all`'s error for a body over its limit.
pub const TOO_LARGE: &str = "the upstream answer is too large";

/// Time limits while reading an upstream body: the exchange deadline, and the longest
/// silence allowed between two reads (a stalled stream).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// End of the whole exchange.
    pub deadline: Instant,
    /// Longest wait for the next piece.
    pub idle: std::time::Duration,
}

impl Timing {
    /// When the next read stops waiting.
    pub fn wait_until(&self) -> Instant {
        Instant::now().checked_add(self.idle).map_or(self.deadline, |t| t.min(self.deadline))
    }

    /// Why a read that waited until `wait_until()` timed out.
    pub fn expired_reason(&self) -> &'static str {
        if Instant::now() >= self.deadline {
            "the upstream did not finish before the deadline"
        } else {
            "the upstream stream stalled (no data within upstream.stream_idle_timeout_ms)"
        }
    }
}
