//! Helpers that append HTTP/1.1 response heads and chunk framing to a byte buffer.

/// The final chunk of a chunked body, with no trailers.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The interim response to `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Reason phrase for the status codes the gateway emits.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Unknown",
    }
}

/// Appends the decimal form of `n`.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub fn status_line(out: &mut Vec<u8>, status: u16) {
    out.extend_from_slice(b"HTTP/1.1 ");
    push_u64(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Appends `name: value\r\n`.
pub fn header(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `content-length: n\r\n`.
pub fn content_length(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"content-length: ");
    push_u64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// Appends one chunk of a chunked body (nothing for empty data, which would end the body).
pub fn chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut n = data.len();
    while n > 0 {
        i -= 1;
        tmp[i] = HEX[n & 15];
        n >>= 4;
    }
    out.extend_from_slice(&tmp[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// A whole response with a fixed body, `connection: close` when `close` is set.
pub fn simple_response(
    out: &mut Vec<u8>,
    status: u16,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    close: bool,
) {
    status_line(out, status);
    header(out, b"content-type", content_type.as_bytes());
    for (k, v) in extra {
        header(out, k.as_bytes(), v.as_bytes());
    }
    content_length(out, body.len() as u64);
    if close {
        header(out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ChunkedDecoder;

    #[test]
    fn numbers_and_chunks() {
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        v.push(b' ');
        push_u64(&mut v, 18446744073709551615);
        assert_eq!(v, b"0 18446744073709551615");

        let mut body = Vec::new();
        let data = vec![b'z'; 300];
        chunk(&mut body, &data);
        chunk(&mut body, b"");
        body.extend_from_slice(LAST_CHUNK);
        assert!(body.starts_with(b"12c\r\n"));
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        d.feed(&body, |s| out.extend_from_slice(s)).unwrap();
        assert!(d.is_done());
        assert_eq!(out, data);
    }

    #[test]
    fn simple_response_parses_back() {
        let mut v = Vec::new();
        simple_response(&mut v, 404, "application/json", &[("x-a", "1")], b"{}", true);
        let mut h = Vec::new();
        let r = crate::parse_response(&v, crate::Limits::default(), &mut h, false).unwrap().unwrap();
        assert_eq!(r.status, 404);
        assert_eq!(r.framing, crate::ResponseFraming::Length(2));
        assert!(!r.keep_alive);
    }
}
