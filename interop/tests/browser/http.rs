//! Just enough HTTP/1.1 (RFC 9112) for the browser tests: a client for
//! chromedriver's W3C WebDriver endpoint (JSON bodies, one request per
//! connection) and a server that hands the browser the test page.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The most a response may hold (a WebDriver answer is a few kB).
const MAX_RESPONSE: usize = 4 << 20;

/// Sends `method path` with an optional JSON body to `addr`; returns the
/// status code and the JSON body.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let wire = encode(addr, method, path, body);
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .write_all(&wire)
        .await
        .map_err(|e| format!("{method} {path}: {e}"))?;
    // chromedriver answers `Connection: close` but keeps the connection
    // open: read until the response is complete, not until EOF.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    while !complete(&raw) && raw.len() < MAX_RESPONSE {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("{method} {path}: {e}")),
        }
    }
    decode(&raw).map_err(|e| format!("{method} {path}: {e}"))
}

/// The same request, blocking, with `limit` on each socket operation: for
/// `Drop`, which cannot wait on the runtime.
pub fn request_blocking(
    addr: SocketAddr,
    method: &str,
    path: &str,
    limit: Duration,
) -> Result<u16, String> {
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, limit).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(limit))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(&encode(addr, method, path, None))
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16384];
    while !complete(&raw) && raw.len() < MAX_RESPONSE {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    decode(&raw).map(|(status, _)| status)
}

fn encode(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Vec<u8> {
    let body = body.map(Value::to_string).unwrap_or_default();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether `raw` holds a whole response: its headers and the body its
/// `Content-Length` or last chunk announces.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let body = &raw[end + 4..];
    if head.contains("transfer-encoding: chunked") || head.contains("transfer-encoding:chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    let length = head.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        (name.trim() == "content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    length.is_some_and(|len| body.len() >= len)
}

/// Splits a whole response into its status and JSON body (an empty body is
/// `null`); a chunked body is reassembled.
fn decode(raw: &[u8]) -> Result<(u16, Value), String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut body = raw[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
            body = dechunk(&body)?;
        } else if name.eq_ignore_ascii_case("content-length") {
            let len: usize = value.trim().parse().map_err(|_| "bad Content-Length")?;
            body.truncate(len);
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((status, Value::Null));
    }
    let json = serde_json::from_slice(&body)
        .map_err(|e| format!("status {status}, body not JSON ({e}): {:?}", excerpt(&body)))?;
    Ok((status, json))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or("bad chunk size")?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("truncated chunk")?);
        data = data.get(size + 2..).ok_or("truncated chunk")?;
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
}

/// Serves one HTML page at every path on 127.0.0.1 until dropped.
pub struct PageServer {
    /// The page's URL.
    pub url: String,
    task: JoinHandle<()>,
}

impl PageServer {
    /// Starts serving `html` on a free loopback port.
    pub async fn start(html: &'static str) -> Result<PageServer, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    // The request head; its path does not matter (a favicon
                    // request gets the page too, and ignores it).
                    let mut head = Vec::new();
                    let mut buf = [0u8; 2048];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                        html.len()
                    );
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(PageServer {
            url: format!("http://{addr}/interop.html"),
            task,
        })
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
