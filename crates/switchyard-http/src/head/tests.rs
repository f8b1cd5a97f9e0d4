use super::*;

fn req(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let mut h = Vec::new();
    parse_request(buf, Limits::default(), &mut h)
}

#[test]
fn parses_post_with_length_and_offsets() {
    let buf = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nX-A: b\r\n\r\n{\"model\":1}";
    let mut headers = Vec::new();
    let head = parse_request(buf, Limits::default(), &mut headers).unwrap().unwrap();
    assert_eq!(head.method, Method::Post);
    assert_eq!(&buf[head.path.clone()], b"/v1/chat/completions");
    assert_eq!(head.framing, BodyFraming::Length(12));
    assert!(head.keep_alive);
    assert_eq!(&buf[head.head_len..], b"{\"model\":1}");
    assert_eq!(header_value(buf, &headers, "x-a"), Some(&b"b"[..]));
    assert_eq!(header_value(buf, &headers, "HOST"), Some(&b"x"[..]));
    assert_eq!(header_value(buf, &headers, "missing"), None);
}

#[test]
fn split_across_many_small_reads() {
    let full = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
    for cut in 0..full.len() {
        assert_eq!(req(&full[..cut]).unwrap(), None, "partial at {cut}");
    }
    let head = req(full).unwrap().unwrap();
    assert_eq!(head.framing, BodyFraming::Chunked);
    assert!(head.expect_continue);
    assert_eq!(head.head_len, full.len());
}

#[test]
fn connection_semantics() {
    let h = req(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap().unwrap();
    assert!(!h.keep_alive);
    let h = req(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
    assert!(!h.keep_alive);
    let h = req(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap().unwrap();
    assert!(h.keep_alive);
    let h = req(b"GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n").unwrap().unwrap();
    assert!(!h.keep_alive);
}

#[test]
fn malformed_inputs_are_400() {
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"POST / HTTP/2.0\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
    ] {
        let e = req(bad).unwrap_err();
        assert_eq!(e.status(), 400, "{:?} -> {e:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn duplicate_equal_content_length_is_accepted() {
    let h = req(b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n").unwrap().unwrap();
    assert_eq!(h.framing, BodyFraming::Length(2));
}

#[test]
fn unsupported_codings_and_expectations() {
    let e = req(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").unwrap_err();
    assert_eq!(e.status(), 501);
    let e = req(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n").unwrap_err();
    assert_eq!(e.status(), 501);
    let e = req(b"POST / HTTP/1.1\r\nExpect: something\r\n\r\n").unwrap_err();
    assert_eq!(e.status(), 417);
}

#[test]
fn oversized_heads_are_431() {
    let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 20_000));
    // Partial and over the limit: refuse without waiting for the end.
    assert_eq!(req(&big).unwrap_err(), HeadError::HeadTooLarge);
    big.extend_from_slice(b"\r\n\r\n");
    assert_eq!(req(&big).unwrap_err().status(), 431);

    let mut many = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..(MAX_HEADERS + 1) {
        many.extend_from_slice(format!("h{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(req(&many).unwrap_err(), HeadError::TooManyHeaders);
}

#[test]
fn back_to_back_requests_parse_in_turn() {
    let buf = b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
    let first = req(buf).unwrap().unwrap();
    assert_eq!(&buf[first.path.clone()], b"/a");
    let rest = &buf[first.head_len..];
    let second = req(rest).unwrap().unwrap();
    assert_eq!(&rest[second.path.clone()], b"/b");
}

fn resp(buf: &[u8], to_head: bool) -> ResponseHead {
    let mut h = Vec::new();
    parse_response(buf, Limits::default(), &mut h, to_head).unwrap().unwrap()
}

#[test]
fn response_framings() {
    let r = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false);
    assert_eq!((r.status, r.framing, r.keep_alive), (200, ResponseFraming::Length(5), true));
    let r = resp(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false);
    assert_eq!(r.framing, ResponseFraming::Chunked);
    let r = resp(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n", false);
    assert_eq!(r.framing, ResponseFraming::UntilClose);
    assert!(!r.keep_alive, "a close-delimited body ends the connection");
    let r = resp(b"HTTP/1.1 204 No Content\r\n\r\n", false);
    assert_eq!(r.framing, ResponseFraming::Empty);
    let r = resp(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true);
    assert_eq!(r.framing, ResponseFraming::Empty);
    let r = resp(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", false);
    assert!(!r.keep_alive);
    let r = resp(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false);
    assert!(!r.keep_alive);
}

#[test]
fn truncated_response_head_is_partial() {
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
    for cut in 0..full.len() {
        let mut h = Vec::new();
        assert_eq!(parse_response(&full[..cut], Limits::default(), &mut h, false).unwrap(), None);
    }
    let mut h = Vec::new();
    assert!(parse_response(b"HTTX/1.1 200 OK\r\n\r\n", Limits::default(), &mut h, false).is_err());
}
