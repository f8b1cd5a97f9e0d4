//! Chunked bodies: the decoder gives the same bytes and verdict however the input is split, and
//! a body built of tiny chunks with extensions decodes to its payload exactly when every
//! extension is within the decoder's cap (4 KiB per size line).
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_http::ChunkedDecoder;

fn decode(pieces: &[&[u8]]) -> (Vec<u8>, Option<bool>) {
    let mut d = ChunkedDecoder::new();
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for p in pieces {
        pending.extend_from_slice(p);
        match d.feed(&pending, |c| out.extend_from_slice(c)) {
            Ok(n) => {
                assert!(n <= pending.len());
                pending.drain(..n);
            }
            Err(_) => return (out, None),
        }
        if d.is_done() {
            assert_eq!(d.decoded_len(), out.len() as u64);
            return (out, Some(true));
        }
    }
    (out, Some(false))
}

/// Encodes `payload` as chunks of 1 to 4 bytes, each size line carrying an extension whose
/// length comes from `shape` (scaled so some pass the cap); returns the body and whether every
/// extension fits.
fn tiny_chunks(shape: &[u8], payload: &[u8]) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut fits = true;
    let mut rest = payload;
    let mut i = 0;
    while !rest.is_empty() {
        let s = shape.get(i % shape.len().max(1)).copied().unwrap_or(0);
        let take = (usize::from(s & 3) + 1).min(rest.len());
        body.extend_from_slice(format!("{take:x}").as_bytes());
        if s & 4 != 0 {
            // ';' plus the extension: up to 32 * 255 = 8160 bytes, past the cap from 4096.
            let ext_len = usize::from(s >> 3) * 255;
            body.push(b';');
            body.extend(std::iter::repeat_n(b'e', ext_len));
            fits &= ext_len < 4096;
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&rest[..take]);
        body.extend_from_slice(b"\r\n");
        rest = &rest[take..];
        i += 1;
    }
    body.extend_from_slice(b"0\r\n\r\n");
    (body, fits)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    if data[0] & 0x80 != 0 {
        let cut = (data.len() / 2).max(1);
        let (shape, payload) = data[1..].split_at((cut - 1).min(data.len() - 1));
        let (body, fits) = tiny_chunks(shape, payload);
        let whole = decode(&[&body]);
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        let single = decode(&bytes);
        if fits {
            assert_eq!(whole, (payload.to_vec(), Some(true)));
        } else {
            assert_eq!(whole.1, None, "an extension past the cap is refused");
        }
        assert_eq!(single.1, whole.1);
        return;
    }
    let split = data[0] as usize % data.len().max(1);
    let body = &data[1..];
    let split = split.min(body.len());
    let whole = decode(&[body]);
    let parts = decode(&[&body[..split], &body[split..]]);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let single = decode(&bytes);
    // Errors may surface at different points; successful results must agree.
    if whole.1 == Some(true) {
        assert_eq!(parts, whole);
        assert_eq!(single, whole);
    }
});
