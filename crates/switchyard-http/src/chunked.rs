//! Incremental decoder for `Transfer-Encoding: chunked` bodies.
//!
//! It can decode (handing data slices to a callback) or only observe, which lets the proxy
//! relay a chunked upstream body byte for byte while knowing exactly where it ends.

/// Why a chunked body is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// Bad chunk-size line, missing CRLF, or an oversized trailer.
    #[error("malformed chunked body: {0}")]
    Malformed(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Size { digits: u8 },
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    TrailerLine,
    TrailerEndLf,
    Done,
}

/// Largest trailer section accepted, in bytes.
const MAX_TRAILER: u32 = 8 * 1024;

/// Longest chunk extension accepted on one size line, in bytes. Extensions carry nothing we
/// use; without a cap, `1;` followed by bytes that never end the line kept a reader busy (and,
/// before the gateway dropped consumed framing, held every byte of it) until the body deadline.
/// nginx and hyper refuse extension lines of a few KiB too.
const MAX_EXTENSION: u32 = 4 * 1024;

/// State of one chunked body being read.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    remaining: u64,
    trailer_bytes: u32,
    extension_bytes: u32,
    decoded: u64,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            remaining: 0,
            trailer_bytes: 0,
            extension_bytes: 0,
            decoded: 0,
        }
    }

    /// True once the last chunk and trailers have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Payload bytes decoded so far.
    pub fn decoded_len(&self) -> u64 {
        self.decoded
    }

    /// Feeds bytes; calls `on_data` with each payload slice and returns how many input bytes
    /// belong to this body (fewer than `input.len()` only when the body ended inside it).
    pub fn feed(&mut self, input: &[u8], mut on_data: impl FnMut(&[u8])) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok(i),
                State::Size { digits } => {
                    let v = match b {
                        b'0'..=b'9' => Some(b - b'0'),
                        b'a'..=b'f' => Some(b - b'a' + 10),
                        b'A'..=b'F' => Some(b - b'A' + 10),
                        _ => None,
                    };
                    if let Some(v) = v {
                        if digits >= 15 {
                            return Err(ChunkError::Malformed("chunk size too large"));
                        }
                        self.size = self.size << 4 | u64::from(v);
                        self.state = State::Size { digits: digits + 1 };
                    } else {
                        if digits == 0 {
                            return Err(ChunkError::Malformed("missing chunk size"));
                        }
                        match b {
                            b';' | b' ' | b'\t' => {
                                self.extension_bytes = 0;
                                self.state = State::Ext;
                            }
                            b'\r' => self.state = State::SizeLf,
                            b'\n' => self.end_size_line(),
                            _ => return Err(ChunkError::Malformed("invalid chunk size")),
                        }
                    }
                    i += 1;
                }
                State::Ext => {
                    // Extensions are ignored; find the end of the line fast.
                    let line_end = memchr::memchr2(b'\r', b'\n', &input[i..]);
                    self.count_extension(line_end.unwrap_or(input.len() - i))?;
                    match line_end {
                        Some(p) => {
                            i += p;
                            if input[i] == b'\r' {
                                self.state = State::SizeLf;
                            } else {
                                self.end_size_line();
                            }
                            i += 1;
                        }
                        None => i = input.len(),
                    }
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError::Malformed("expected LF after chunk size"));
                    }
                    self.end_size_line();
                    i += 1;
                }
                State::Data => {
                    let take = (input.len() - i).min(self.remaining as usize);
                    on_data(&input[i..i + take]);
                    self.decoded += take as u64;
                    self.remaining -= take as u64;
                    i += take;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                }
                State::DataCr => {
                    match b {
                        b'\r' => self.state = State::DataLf,
                        b'\n' => self.state = State::Size { digits: 0 },
                        _ => return Err(ChunkError::Malformed("expected CRLF after chunk data")),
                    }
                    self.size = 0;
                    i += 1;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError::Malformed("expected LF after chunk data"));
                    }
                    self.state = State::Size { digits: 0 };
                    i += 1;
                }
                State::TrailerStart => {
                    self.state = match b {
                        b'\r' => State::TrailerEndLf,
                        b'\n' => State::Done,
                        _ => State::TrailerLine,
                    };
                    self.count_trailer(1)?;
                    i += 1;
                }
                State::TrailerLine => match memchr::memchr(b'\n', &input[i..]) {
                    Some(p) => {
                        self.count_trailer(p + 1)?;
                        i += p + 1;
                        self.state = State::TrailerStart;
                    }
                    None => {
                        self.count_trailer(input.len() - i)?;
                        i = input.len();
                    }
                },
                State::TrailerEndLf => {
                    if b != b'\n' {
                        return Err(ChunkError::Malformed("expected LF after trailers"));
                    }
                    self.state = State::Done;
                    i += 1;
                }
            }
        }
        Ok(i)
    }

    fn end_size_line(&mut self) {
        if self.size == 0 {
            self.state = State::TrailerStart;
        } else {
            self.remaining = self.size;
            self.state = State::Data;
        }
    }

    fn count_extension(&mut self, n: usize) -> Result<(), ChunkError> {
        self.extension_bytes = self.extension_bytes.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        if self.extension_bytes > MAX_EXTENSION {
            return Err(ChunkError::Malformed("chunk extension too long"));
        }
        Ok(())
    }

    fn count_trailer(&mut self, n: usize) -> Result<(), ChunkError> {
        self.trailer_bytes = self.trailer_bytes.saturating_add(n as u32);
        if self.trailer_bytes > MAX_TRAILER {
            return Err(ChunkError::Malformed("trailer section too large"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in input.chunks(step) {
            let n = d.feed(piece, |s| out.extend_from_slice(s))?;
            used += n;
            if d.is_done() {
                break;
            }
        }
        Ok((out, used, d.is_done()))
    }

    #[test]
    fn decodes_chunks_with_extensions_and_trailers() {
        let body = b"5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        for step in [1, 2, 3, 7, body.len()] {
            let (out, used, done) = decode_all(body, step).unwrap();
            assert_eq!(out, b"hello world", "step {step}");
            assert!(done);
            assert_eq!(used, body.len() - 4, "leftover must stay for the next message");
        }
    }

    #[test]
    fn uppercase_hex_and_large_chunk() {
        let data = vec![b'x'; 0x1AB];
        let mut body = b"1AB\r\n".to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n0\r\n\r\n");
        let (out, _, done) = decode_all(&body, 10).unwrap();
        assert_eq!(out, data);
        assert!(done);
    }

    #[test]
    fn truncated_body_is_not_done() {
        let (out, used, done) = decode_all(b"5\r\nhel", 2).unwrap();
        assert_eq!(out, b"hel");
        assert_eq!(used, 6);
        assert!(!done);
    }

    #[test]
    fn rejects_bad_size_and_missing_crlf() {
        assert!(decode_all(b"zz\r\n", 1).is_err());
        assert!(decode_all(b"\r\n", 1).is_err());
        assert!(decode_all(b"3\r\nabcX\r\n", 1).is_err());
        assert!(decode_all(b"ffffffffffffffffff\r\n", 4).is_err());
    }

    #[test]
    fn rejects_huge_trailers() {
        let mut body = b"0\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'a', 9000));
        assert!(decode_all(&body, 100).is_err());
    }

    #[test]
    fn rejects_an_extension_that_never_ends_whatever_the_piece_size() {
        let mut body = b"1;".to_vec();
        body.extend(std::iter::repeat_n(b'x', 5000));
        for step in [1, 100, 4096, body.len()] {
            assert_eq!(
                decode_all(&body, step).unwrap_err(),
                ChunkError::Malformed("chunk extension too long"),
                "step {step}"
            );
        }
        // The cap is per size line: many short extensions are fine.
        let mut ok = Vec::new();
        for _ in 0..100 {
            ok.extend_from_slice(b"1;name=");
            ok.extend(std::iter::repeat_n(b'v', 3000));
            ok.extend_from_slice(b"\r\na\r\n");
        }
        ok.extend_from_slice(b"0\r\n\r\n");
        let (out, _, done) = decode_all(&ok, 512).unwrap();
        assert_eq!(out.len(), 100);
        assert!(done);
    }

    #[test]
    fn observe_mode_counts_decoded() {
        let mut d = ChunkedDecoder::new();
        let n = d.feed(b"3\r\nabc\r\n0\r\n\r\n", |_| {}).unwrap();
        assert_eq!(n, 13);
        assert_eq!(d.decoded_len(), 3);
    }
}
