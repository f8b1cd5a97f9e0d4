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

/// Serves connections from `listener` until shutdown, then waits for in-flight requests.
pub async fn run(listener: StdListener, w: Rc<Worker>) {
    let listener = match monoio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            crate::error!("worker {}: cannot register listener: {e}", w.core.0);
            return;
        }
    };
    let acceptor = {
        let w = w.clone();
        monoio::spawn(async move {
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
        })
    };
    // The control thread sets the shutdown flag, then shuts the listening socket down
    // (server.rs): that wakes the pending accept with an error and makes the kernel stop
    // queueing connections for it, so the accept loop ends without a timer polling the flag
    // (an idle worker sleeps until there is work). Cancelling a pending io_uring accept
    // instead could leak a connection accepted concurrently.
    acceptor.await;
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    // The in-flight gauge in the shared stats is this worker's count (only it writes it).
    let inflight = &w.meters.gauges.inflight;
    while inflight.load(std::sync::atomic::Ordering::Relaxed) > 0 && Instant::now() < deadline {
        monoio::time::sleep(Duration::from_millis(10)).await;
    }
}
