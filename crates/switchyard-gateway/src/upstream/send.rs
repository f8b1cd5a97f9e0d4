//! One upstream exchange: send the request on a pooled (or new) connection and read the
//! response head.

use std::time::{Duration, Instant, SystemTime};

use switchyard_http::head::{HeaderRef, Limits, ResponseHead};
use switchyard_http::parse_response;
use switchyard_routing::Provider;

use crate::io::until;
use crate::runtime::core::Worker;
use crate::runtime::live::Live;
use crate::runtime::pool::UpStream;
use crate::upstream::connect::{UpError, connect};

/// Largest upstream response head accepted.
const MAX_UPSTREAM_HEAD: usize = 64 * 1024;

/// `retry-after-ms` or `retry-after` (seconds or an HTTP date) of an upstream response, in ms.
pub fn retry_after_ms(buf: &[u8], headers: &[HeaderRef]) -> Option<u64> {
    let header = |name: &str| switchyard_http::header_value(buf, headers, name);
    switchyard_wire::ratelimit::retry_after_ms(header("retry-after-ms"), header("retry-after"), SystemTime::now())
}

/// Sends the request and reads the response head, retrying once on a fresh connection when a
/// pooled one turns out to be closed before any response byte.
pub async fn exchange(
    w: &Worker,
    live: &Live,
    p: &Provider,
    mut req: Vec<u8>,
    (started, deadline): (Instant, Instant),
    rbuf: &mut Vec<u8>,
    headers: &mut Vec<HeaderRef>,
) -> Result<(UpStream, ResponseHead, Vec<u8>, Instant), UpError> {
    let max_idle = Duration::from_millis(live.upstream.pool_idle_timeout_ms);
    let mut pooled = w.pool.take(&p.pool_key, max_idle, started);
    loop {
        let reused = pooled.is_some();
        let mut s = match pooled.take() {
            Some(s) => s,
            // Boxed: a connect (TLS handshake included) is 3 KB of state that every request's
            // task would otherwise carry; one allocation per new connection is nothing beside it.
            None => Box::pin(connect(&w.shared.dns, live, p)).await?,
        };
        // Own time stops when the write is issued: the kernel's send work is every proxy's cost.
        let sent = Instant::now();
        let (r, back) = until(deadline, s.send_all(req)).await.map_err(|_| UpError::Timeout)?;
        req = back;
        if let Err(e) = r {
            if reused {
                continue;
            }
            return Err(UpError::Send(e));
        }
        rbuf.clear();
        let limits = Limits { max_head_bytes: MAX_UPSTREAM_HEAD };
        let head = loop {
            match parse_response(rbuf, limits, headers, false) {
                // Interim 1xx heads (other than 101) are skipped.
                Ok(Some(h)) if (100..200).contains(&h.status) && h.status != 101 => {
                    rbuf.drain(..h.head_len);
                    continue;
                }
                Ok(Some(h)) => break Some(h),
                Ok(None) => {}
                Err(e) => return Err(UpError::BadResponse(e.to_string())),
            }
            match until(deadline, s.read_append(rbuf)).await {
                Ok(Ok(0)) if reused && rbuf.is_empty() => break None,
                Ok(Ok(0)) => return Err(UpError::Closed),
                Ok(Ok(_)) => {}
                Ok(Err(_)) if reused && rbuf.is_empty() => break None,
                Ok(Err(e)) => return Err(UpError::Recv(e)),
                Err(_) => return Err(UpError::Timeout),
            }
        };
        match head {
            Some(h) => return Ok((s, h, req, sent)),
            None => continue, // stale pooled connection: retry on a new one
        }
    }
}
