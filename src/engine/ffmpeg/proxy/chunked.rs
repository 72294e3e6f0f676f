//! A `Transfer-Encoding: chunked` decoder that only *watches*: the proxy relays the
//! encoded bytes unchanged and uses this to count the payload bytes (what the native
//! engine counts for the same body) and to find the end of the message.

/// Decoder state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// In the chunk-size hex digits.
    Size,
    /// After the size: extensions or whitespace up to the line end.
    Ext,
    /// Chunk data, this many bytes left.
    Data(u64),
    /// The CRLF after chunk data.
    DataEnd,
    /// At the start of a trailer line (after the last chunk).
    Trailer,
    /// Inside a trailer line.
    TrailerLine,
    /// The message is complete.
    Done,
}

/// Watches one chunked body.
#[derive(Debug, Clone)]
pub struct Chunked {
    st: St,
    size: u64,
    digits: u32,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            st: St::Size,
            size: 0,
            digits: 0,
        }
    }
}

impl Chunked {
    /// True once the last chunk and the trailers have been seen.
    pub fn done(&self) -> bool {
        self.st == St::Done
    }

    /// Feed encoded bytes; `payload` gets the chunk data in them. Returns how many bytes
    /// belong to this message (less than `buf.len()` only when it ended inside `buf`), or
    /// `Err` on a malformed encoding.
    pub fn feed(&mut self, buf: &[u8], mut payload: impl FnMut(&[u8])) -> Result<usize, ()> {
        let mut i = 0;
        while i < buf.len() && self.st != St::Done {
            let b = buf[i];
            match self.st {
                St::Data(left) => {
                    let take = (buf.len() - i).min(usize::try_from(left).unwrap_or(usize::MAX));
                    payload(&buf[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.st = if left == 0 {
                        St::DataEnd
                    } else {
                        St::Data(left)
                    };
                    continue;
                }
                St::Size => match (b as char).to_digit(16) {
                    Some(d) => {
                        self.digits += 1;
                        if self.digits > 15 {
                            return Err(());
                        }
                        self.size = self.size * 16 + u64::from(d);
                    }
                    None if self.digits == 0 => return Err(()),
                    None if b == b'\n' => self.end_size_line(),
                    None if matches!(b, b';' | b' ' | b'\t' | b'\r') => self.st = St::Ext,
                    None => return Err(()),
                },
                St::Ext => {
                    if b == b'\n' {
                        self.end_size_line();
                    }
                }
                St::DataEnd => match b {
                    b'\r' => {}
                    b'\n' => {
                        self.st = St::Size;
                        self.size = 0;
                        self.digits = 0;
                    }
                    _ => return Err(()),
                },
                St::Trailer => match b {
                    b'\r' => {}
                    b'\n' => self.st = St::Done,
                    _ => self.st = St::TrailerLine,
                },
                St::TrailerLine => {
                    if b == b'\n' {
                        self.st = St::Trailer;
                    }
                }
                St::Done => {}
            }
            i += 1;
        }
        Ok(i)
    }

    fn end_size_line(&mut self) {
        self.st = if self.size == 0 {
            St::Trailer
        } else {
            St::Data(self.size)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(parts: &[&[u8]]) -> (Result<usize, ()>, Vec<u8>, bool) {
        let mut c = Chunked::default();
        let mut out = Vec::new();
        let mut used = 0;
        for p in parts {
            match c.feed(p, |d| out.extend_from_slice(d)) {
                Ok(n) => used += n,
                Err(()) => return (Err(()), out, false),
            }
        }
        (Ok(used), out, c.done())
    }

    #[test]
    fn decodes_payload_and_finds_the_end() {
        let body = b"5\r\nhello\r\nA;ext=1\r\n0123456789\r\n0\r\n\r\nNEXT";
        let (used, out, done) = run(&[body]);
        assert_eq!(used, Ok(body.len() - 4));
        assert_eq!(out, b"hello0123456789");
        assert!(done);
        // Byte by byte gives the same.
        let parts: Vec<&[u8]> = body[..body.len() - 4].chunks(1).collect();
        let (used, out, done) = run(&parts);
        assert_eq!(used, Ok(body.len() - 4));
        assert_eq!(out, b"hello0123456789");
        assert!(done);
    }

    #[test]
    fn trailers_and_errors() {
        let (_, out, done) = run(&[b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"]);
        assert_eq!(out, b"abc");
        assert!(done);
        let (_, _, done) = run(&[b"3\r\nabc\r\n0\r\n"]);
        assert!(!done, "trailer section still open");
        assert_eq!(run(&[b"zz\r\n"]).0, Err(()));
        assert_eq!(run(&[b"3\r\nabcX"]).0, Err(()));
        assert_eq!(run(&[b"ffffffffffffffff\r\n"]).0, Err(()));
    }
}
