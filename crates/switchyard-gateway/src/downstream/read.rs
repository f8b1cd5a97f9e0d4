//! Reading a request from the client: the head under the idle and head deadlines, the body
//! under the size limit and body deadline (content-length or chunked, decoded as it arrives).

use std::time::{Duration, Instant};

use super::ClientConn;
use switchyard_http::head::{BodyFraming, HeaderRef, Limits, RequestHead};
use switchyard_http::{ChunkedDecoder, parse_request, write};
use switchyard_wire::ApiError;

use super::{Buffers, send_raw};
use crate::io::until;
use crate::runtime::live::Live;

pub enum HeadRead {
    Head(RequestHead),
    Closed,
    Fail(ApiError),
}

pub enum BodyRead {
    /// The body is `buf[range]`.
    InBuf(std::ops::Range<usize>),
    /// The body was decoded into `Buffers::body`.
    Decoded,
}

/// The limits that apply while a connection waits for (and reads) a request head: a copy, so
/// a connection idle through reloads does not keep an old table alive.
#[derive(Clone, Copy)]
pub struct HeadWait {
    max_head_bytes: usize,
    head_timeout_ms: u64,
    idle_timeout_ms: u64,
}

impl HeadWait {
    pub fn of(s: &switchyard_config::ServerConfig) -> HeadWait {
        HeadWait {
            max_head_bytes: s.max_head_bytes,
            head_timeout_ms: s.head_timeout_ms,
            idle_timeout_ms: s.idle_timeout_ms,
        }
    }
}

/// Reads a request head. The head deadline runs from `accepted` for a connection's first
/// request (a socket that sends nothing is not held for the idle timeout, like nginx's
/// `client_header_timeout`), and from the head's first byte on a kept-alive connection.
pub async fn read_head(
    client: &mut ClientConn,
    buf: &mut Vec<u8>,
    headers: &mut Vec<HeaderRef>,
    wait: HeadWait,
    accepted: Option<Instant>,
) -> HeadRead {
    let limits = Limits { max_head_bytes: wait.max_head_bytes };
    let mut deadline = accepted.map(|t| t + Duration::from_millis(wait.head_timeout_ms));
    loop {
        if !buf.is_empty() {
            match parse_request(buf, limits, headers) {
                Ok(Some(h)) => return HeadRead::Head(h),
                Ok(None) => {}
                Err(e) => return HeadRead::Fail(ApiError::status(e.status(), e.to_string())),
            }
            deadline.get_or_insert_with(|| Instant::now() + Duration::from_millis(wait.head_timeout_ms));
        }
        let read = match deadline {
            None => monoio::time::timeout(Duration::from_millis(wait.idle_timeout_ms), client.read_append(buf)),
            Some(d) => until(d, client.read_append(buf)),
        };
        match read.await {
            Ok(Ok(0)) | Ok(Err(_)) if buf.is_empty() => return HeadRead::Closed,
            Ok(Ok(0)) => return HeadRead::Fail(ApiError::status(400, "incomplete request head")),
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return HeadRead::Closed,
            Err(_) if deadline.is_some() => {
                return HeadRead::Fail(ApiError::status(408, "timed out reading the request head"));
            }
            Err(_) => return HeadRead::Closed,
        }
    }
}

/// Reads the body; `Err(Some)` answers and closes, `Err(None)` just closes.
pub async fn read_body(
    client: &mut ClientConn,
    buf: &mut Vec<u8>,
    head: &RequestHead,
    live: &Live,
    b: &mut Buffers,
) -> Result<(BodyRead, usize), Option<ApiError>> {
    let max = live.server.max_body_bytes;
    let too_large = || ApiError::status(413, format!("request body larger than {max} bytes"));
    // Taken only when a read is needed: a small body usually arrives with its head.
    let deadline = || Instant::now() + Duration::from_millis(live.server.body_timeout_ms);
    let start = head.head_len;
    match head.framing {
        BodyFraming::None => Ok((BodyRead::InBuf(start..start), start)),
        BodyFraming::Length(n) => {
            if n > max as u64 {
                return Err(Some(too_large()));
            }
            let end = start + n as usize;
            // Room for the whole body up front: one read per arrival, not one per 16 KB.
            buf.reserve(end.saturating_sub(buf.len()));
            if head.expect_continue && buf.len() < end {
                send_raw(client, &mut b.out, write::CONTINUE).await.map_err(|_| None)?;
            }
            if buf.len() < end {
                let deadline = deadline();
                while buf.len() < end {
                    read_more(client, buf, deadline).await?;
                }
            }
            Ok((BodyRead::InBuf(start..end), end))
        }
        BodyFraming::Chunked => {
            if head.expect_continue && buf.len() == start {
                send_raw(client, &mut b.out, write::CONTINUE).await.map_err(|_| None)?;
            }
            let deadline = deadline();
            let mut dec = ChunkedDecoder::new();
            b.body.clear();
            let mut pos = start;
            loop {
                let body = &mut b.body;
                let n = dec
                    .feed(&buf[pos..], |d| push_bounded(body, d, max))
                    .map_err(|e| Some(ApiError::status(400, e.to_string())))?;
                pos += n;
                if dec.decoded_len() > max as u64 {
                    return Err(Some(too_large()));
                }
                if dec.is_done() {
                    return Ok((BodyRead::Decoded, pos));
                }
                // Not done means every byte after the head was consumed: its payload is in
                // `b.body`, so the framing is dropped. A connection then holds at most
                // `max_body_bytes` decoded plus one read, however the body is chunked (raw
                // framing used to pile up: 1-byte chunks held 6x the body, and an endless
                // extension 2.3 GB in 5 s).
                buf.truncate(start);
                pos = start;
                read_more(client, buf, deadline).await?;
            }
        }
    }
}

/// Appends a decoded piece unless the body would pass `max` (the caller answers 413 from the
/// decoder's count), growing by doubling but never past `max`: plain doubling took a 4 MiB
/// body's buffer to 8 MiB for its last byte.
fn push_bounded(body: &mut Vec<u8>, piece: &[u8], max: usize) {
    let need = body.len() + piece.len();
    if need > max {
        return;
    }
    if need > body.capacity() {
        body.reserve_exact(need.max(body.capacity() * 2).min(max) - body.len());
    }
    body.extend_from_slice(piece);
}

async fn read_more(client: &mut ClientConn, buf: &mut Vec<u8>, deadline: Instant) -> Result<(), Option<ApiError>> {
    match until(deadline, client.read_append(buf)).await {
        Ok(Ok(0)) => Err(Some(ApiError::status(400, "incomplete request body"))),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err(None),
        Err(_) => Err(Some(ApiError::status(408, "timed out reading the request body"))),
    }
}
