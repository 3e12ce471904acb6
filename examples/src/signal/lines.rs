//! Newline-delimited lines with a length bound, for both ends of the
//! signalling connection.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};

/// How long writing one line may take before the reader is deemed gone
/// (a peer that stops reading must not hold its writer forever).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`LineReader::next`] read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line, without its `\n` (or `\r\n`).
    Text(String),
    /// A line longer than the bound; the stream cannot be trusted after it.
    TooLong,
    /// A line that is not UTF-8.
    NotUtf8,
    /// The stream ended (a partial last line is dropped).
    Eof,
}

/// Reads lines of at most `max` bytes. Cancel-safe: a [`next`](Self::next)
/// dropped at its await point loses nothing.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    max: usize,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of lines of at most `max` bytes.
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::new(inner),
            buf: Vec::new(),
            max,
        }
    }

    /// The next line.
    pub async fn next(&mut self) -> io::Result<Line> {
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok(Line::Eof);
            }
            let (chunk, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (available.get(..i).unwrap_or_default(), true),
                None => (available, false),
            };
            if self.buf.len() + chunk.len() > self.max {
                let n = available.len();
                self.inner.consume(n);
                self.buf.clear();
                return Ok(Line::TooLong);
            }
            self.buf.extend_from_slice(chunk);
            let used = chunk.len() + usize::from(complete);
            self.inner.consume(used);
            if complete {
                let mut bytes = std::mem::take(&mut self.buf);
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
                return Ok(match String::from_utf8(bytes) {
                    Ok(s) => Line::Text(s),
                    Err(_) => Line::NotUtf8,
                });
            }
        }
    }
}

/// Writes `line` and a newline, within [`WRITE_TIMEOUT`].
pub async fn write_line<W: AsyncWrite + Unpin>(writer: &mut W, line: &str) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&bytes)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the other end stopped reading",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max: usize) -> Vec<Line> {
        let mut r = LineReader::new(input, max);
        let mut out = Vec::new();
        loop {
            let l = r.next().await.unwrap();
            let end = matches!(l, Line::Eof | Line::TooLong);
            out.push(l);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn lines_crlf_utf8_and_bounds() {
        let t = |s: &str| Line::Text(s.into());
        assert_eq!(
            read_all(b"a\r\nbc\n\nrest", 8).await,
            vec![t("a"), t("bc"), t(""), Line::Eof]
        );
        assert_eq!(
            read_all(b"\xff\xfe\nok\n", 8).await,
            vec![Line::NotUtf8, t("ok"), Line::Eof]
        );
        assert_eq!(
            read_all(b"12345678\n", 8).await,
            vec![t("12345678"), Line::Eof]
        );
        assert_eq!(read_all(b"123456789\n", 8).await, vec![Line::TooLong]);
        assert_eq!(read_all(b"123456789", 8).await, vec![Line::TooLong]);
    }

    #[tokio::test]
    async fn long_lines_across_reads_are_caught() {
        // A reader that hands out one byte at a time.
        let (mut tx, rx) = tokio::io::duplex(1);
        let writer = tokio::spawn(async move {
            let _ = tx.write_all(&[b'x'; 100]).await;
        });
        let mut r = LineReader::new(rx, 50);
        assert_eq!(r.next().await.unwrap(), Line::TooLong);
        writer.abort();
    }
}
