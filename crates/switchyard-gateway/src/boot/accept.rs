//! A worker's accept loop: the connection cap, then one task per connection; on shutdown,
//! waiting for in-flight requests.

use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::runtime::core::{DRAIN_TIMEOUT, Worker};

/// Serves `stream` from `ip`, or answers it 503 when the gateway holds `server.max_connections`
/// or the address its share of `server.max_connections_per_address`.
fn admit(w: &Rc<Worker>, stream: monoio::net::TcpStream, ip: std::net::IpAddr) {
    let live = w.shared.live.load();
    let max = live.server.max_connections;
    let tls = live.client_tls.is_some();
    // One shared counter for the cap: an atomic add per connection, not per request.
    if w.shared.connections.fetch_add(1, Ordering::Relaxed) >= max {
        w.shared.connections.fetch_sub(1, Ordering::Relaxed);
        w.shared.connections_refused.fetch_add(1, Ordering::Relaxed);
        monoio::spawn(crate::conn::refuse(stream, "too many open connections to this gateway; retry shortly", tls));
    } else if !w.open_from(ip, live.server.max_connections_per_address) {
        w.shared.connections.fetch_sub(1, Ordering::Relaxed);
        w.shared.connections_refused_per_address.fetch_add(1, Ordering::Relaxed);
        monoio::spawn(crate::conn::refuse(stream, "too many open connections from this address; retry shortly", tls));
    } else {
        monoio::spawn(crate::conn::serve(stream, ip, w.clone()));
    }
}

/// Accepts kept pending at once on an io_uring worker. One pending accept completes one
/// connection per turn of the event loop, and under a burst a turn carries hundreds of relay
/// completions, so connections queued in the backlog while streams were relayed (measured:
/// 5,000 streams started over 1 s, docs/benchmarks.md). The kernel wakes one pending accept per
/// connection (accept polls exclusively), so idle ones cost nothing. The epoll driver needs
/// one: its accept tries the socket first and so drains the backlog in one turn.
pub const URING_ACCEPTS_IN_FLIGHT: usize = 16;

/// Accepts from `listener` until an accept fails while the worker drains.
async fn accept_loop(listener: Rc<monoio::net::TcpListener>, w: Rc<Worker>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => admit(&w, stream, peer.ip()),
            Err(e) => {
                if w.draining() {
                    break;
                }
                // EMFILE and friends: back off instead of spinning.
                crate::warn!("worker {}: accept failed: {e}", w.core.0);
                monoio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serves connections from `listener` with `in_flight` accepts pending, until shutdown; then
/// waits for in-flight requests.
pub async fn run(listener: StdListener, w: Rc<Worker>, in_flight: usize) {
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => Rc::new(l),
        Err(e) => {
            crate::error!("worker {}: cannot register listener: {e}", w.core.0);
            return;
        }
    };
    let acceptors: Vec<_> =
        (0..in_flight.max(1)).map(|_| monoio::spawn(accept_loop(listener.clone(), w.clone()))).collect();
    // The control thread sets the shutdown flag, then shuts the listening socket down
    // (server.rs): that wakes every pending accept with an error and makes the kernel stop
    // queueing connections for it, so the accept loops end without a timer polling the flag
    // (an idle worker sleeps until there is work). Cancelling a pending io_uring accept
    // instead could leak a connection accepted concurrently.
    for a in acceptors {
        a.await;
    }
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    // The in-flight gauge in the shared stats is this worker's count (only it writes it).
    let inflight = &w.meters.gauges.inflight;
    while inflight.load(std::sync::atomic::Ordering::Relaxed) > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
}
