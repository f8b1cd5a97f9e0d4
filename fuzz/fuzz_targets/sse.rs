//! SSE framing: the same events come out however the stream is split into reads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_http::SseDecoder;

fn events(pieces: &[&[u8]]) -> Vec<(Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>)> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for p in pieces {
        d.push(p);
        while let Some(e) = d.next_event() {
            out.push((e.raw.to_vec(), e.event().map(<[u8]>::to_vec), e.data().map(|c| c.into_owned())));
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let whole = events(&[data]);
    let mid = data.len() / 2;
    assert_eq!(events(&[&data[..mid], &data[mid..]]), whole);
    let bytes: Vec<&[u8]> = data.chunks(3).collect();
    assert_eq!(events(&bytes), whole);
});
