//! Chunked bodies: the decoder gives the same bytes and verdict however the input is split.
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

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
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
