//! Request and response heads: never panic, and every offset handed back lies inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_http::head::Limits;
use switchyard_http::{parse_request, parse_response};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_head_bytes: 16 * 1024 };
    let mut headers = Vec::new();
    if let Ok(Some(h)) = parse_request(data, limits, &mut headers) {
        assert!(h.head_len <= data.len());
        assert!(h.path.end <= h.head_len);
        for f in &headers {
            assert!(f.name.end <= h.head_len && f.value.end <= h.head_len);
        }
    }
    for to_head in [false, true] {
        if let Ok(Some(h)) = parse_response(data, limits, &mut headers, to_head) {
            assert!(h.head_len <= data.len());
            for f in &headers {
                assert!(f.name.end <= h.head_len && f.value.end <= h.head_len);
            }
        }
    }
});
