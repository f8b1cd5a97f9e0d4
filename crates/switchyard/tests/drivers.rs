//! The same traffic through both monoio drivers: io_uring and the epoll fallback.

mod common;

use std::time::Duration;

use common::*;

fn exercise(gw: &Gateway, m: &MockServer) {
    let mut c = gw.client();
    for _ in 0..5 {
        let r = c.post("/v1/chat/completions", &chat_body("m", false));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["choices"][0]["message"]["content"], "t0 t1 t2 t3 t4");
    }
    let r = c.post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4");
    let events = r.events();
    assert!(events[0].0 < Duration::from_millis(250), "first event late: {events:?}");
    assert!(events.last().unwrap().0 >= Duration::from_millis(400));
    let r = c.post("/v1/chat/completions", &chat_body("unknown", false));
    assert_openai_error(&r, 404);
    // Concurrent clients across both workers.
    let addr = gw.addr;
    let handles: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                (0..5).all(|_| c.post("/v1/chat/completions", &chat_body("m", false)).status == 200)
            })
        })
        .collect();
    assert!(handles.into_iter().all(|h| h.join().unwrap()));
    assert!(m.request_count() >= 86);
}

fn mock_for_drivers() -> MockServer {
    mock(MockConfig { tokens: 5, token_interval_ms: 100, ..Default::default() })
}

#[test]
fn epoll_driver_when_forced() {
    let m = mock_for_drivers();
    let gw = Gateway::start_with_env(&basic_config(&m.base_url(), ""), &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    assert!(gw.log_text().contains("driver=epoll"), "{}", gw.log_text());
    exercise(&gw, &m);
}

#[test]
fn io_uring_driver_by_default() {
    let m = mock_for_drivers();
    let gw = Gateway::start_with_env(&basic_config(&m.base_url(), ""), &[]);
    let expected = if monoio::utils::detect_uring() { "driver=io_uring" } else { "driver=epoll" };
    assert!(gw.log_text().contains(expected), "{}", gw.log_text());
    exercise(&gw, &m);
}

#[test]
fn tls_upstream_on_epoll_driver() {
    let m = mock(MockConfig { tls: true, tokens: 5, ..Default::default() });
    let ca = temp_path("ca.pem");
    std::fs::write(&ca, m.cert_pem.as_ref().unwrap()).unwrap();
    let extra = format!("[upstream]\nca_file = \"{}\"\n", ca.display());
    let gw = Gateway::start_with_env(&basic_config(&m.base_url(), &extra), &[("MONOIO_FORCE_LEGACY_DRIVER", "1")]);
    let mut c = gw.client();
    let r = c.post("/v1/chat/completions", &chat_body("m", true));
    assert_eq!(r.streamed_content(), "t0 t1 t2 t3 t4");
    let r = c.post("/v1/chat/completions", &chat_body("m", false));
    assert_eq!(r.status, 200);
    let _ = std::fs::remove_file(ca);
}

#[test]
fn epoll_driver_by_config() {
    let m = mock_for_drivers();
    let gw = Gateway::start(&basic_config(&m.base_url(), "io = \"epoll\"\n"));
    assert!(gw.log_text().contains("driver=epoll"), "{}", gw.log_text());
    exercise(&gw, &m);
}
