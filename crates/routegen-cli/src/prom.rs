//! A minimal Prometheus HTTP API client over `std::net::TcpStream`: instant queries only.
//!
//! Plain HTTP on purpose (no TLS stack in the binary): Prometheus is usually reached through
//! `kubectl port-forward`, which is plain HTTP on localhost. For an https endpoint, forward a
//! local port to it first.

use crate::common::{Exit, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct Prometheus {
    /// As given, for messages.
    url: String,
    host: String,
    port: u16,
    /// Path prefix (Prometheus behind `--web.route-prefix`), without a trailing `/`.
    prefix: String,
    /// What is at the URL, for messages (`top` reads Envoy's admin endpoint with this client too).
    what: &'static str,
}

/// One element of an instant vector.
#[derive(Debug, Clone)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Prometheus {
    pub fn new(url: &str) -> Result<Prometheus> {
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(Exit::usage(format!(
                "{url}: https is not supported; port-forward Prometheus and use http://localhost:PORT (e.g. kubectl -n istio-system port-forward svc/prometheus 9090)"
            )));
        } else if url.contains("://") {
            return Err(Exit::usage(format!("{url}: expected an http:// URL")));
        } else {
            url
        };
        let (authority, prefix) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, port.parse::<u16>().map_err(|_| Exit::usage(format!("{url}: bad port")))?)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(Exit::usage(format!("{url}: no host")));
        }
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        Ok(Prometheus { url: url.to_string(), host, port, prefix: prefix.to_string(), what: "Prometheus" })
    }

    /// Runs an instant query; the result must be a vector.
    pub fn query(&self, promql: &str) -> Result<Vec<Sample>> {
        let path = format!("/api/v1/query?query={}", encode(promql));
        let (status, body) = self.get(&path)?;
        let reply: Value = serde_json::from_slice(&body)
            .map_err(|e| Exit::usage(format!("{}: not a Prometheus API reply (HTTP {status}): {e}", self.url)))?;
        if reply.get("status").and_then(Value::as_str) != Some("success") {
            let error = reply.get("error").and_then(Value::as_str).unwrap_or("unknown error");
            return Err(Exit::usage(format!("Prometheus at {} refused the query {promql}: {error}", self.url)));
        }
        let result = reply.pointer("/data/result").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(result
            .iter()
            .filter_map(|r| {
                let labels = r
                    .get("metric")?
                    .as_object()?
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                let value = r.pointer("/value/1")?.as_str()?.parse::<f64>().ok()?;
                Some(Sample { labels, value })
            })
            .collect())
    }

    /// The same client for another plain-HTTP endpoint (Envoy's admin).
    pub fn endpoint(url: &str, what: &'static str) -> Result<Prometheus> {
        Ok(Prometheus { what, ..Prometheus::new(url)? })
    }

    /// GET a path under the base URL: status and body.
    pub fn get(&self, path: &str) -> Result<(u16, Vec<u8>)> {
        let path = format!("{}{path}", self.prefix);
        let unreachable = |e: std::io::Error| {
            let hint = if self.what == "Prometheus" {
                " (is it running, or port-forwarded? e.g. kubectl -n istio-system port-forward svc/prometheus 9090)"
            } else {
                ""
            };
            Exit::usage(format!("cannot reach {} at {}: {e}{hint}", self.what, self.url))
        };
        let addresses: Vec<_> = (self.host.as_str(), self.port).to_socket_addrs().map_err(unreachable)?.collect();
        let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
        let mut stream = None;
        for address in addresses {
            match TcpStream::connect_timeout(&address, TIMEOUT) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let mut stream = stream.ok_or_else(|| unreachable(last))?;
        stream.set_read_timeout(Some(TIMEOUT)).map_err(unreachable)?;
        stream.set_write_timeout(Some(TIMEOUT)).map_err(unreachable)?;
        let host_header = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host_header}\r\nAccept: application/json\r\nUser-Agent: routegen\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).map_err(unreachable)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).map_err(unreachable)?;
        parse_response(&raw).map_err(|e| Exit::usage(format!("{}: bad HTTP reply: {e}", self.url)))
    }
}

/// Status and body of an HTTP/1.x response (Content-Length, chunked, or read to close).
fn parse_response(raw: &[u8]) -> std::result::Result<(u16, Vec<u8>), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let body = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("no status line")?;
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if !chunked {
        return Ok((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| "bad chunk size")?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok((status, out));
        }
        if rest.len() < size + 2 {
            return Err("truncated chunk".to_string());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Percent-encoding for a query-string value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A PromQL string literal.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let p = Prometheus::new("http://localhost:9090/prom/").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.prefix.as_str()), ("localhost", 9090, "/prom"));
        let p = Prometheus::new("127.0.0.1:9090").unwrap();
        assert_eq!(p.port, 9090);
        assert!(Prometheus::new("https://x").unwrap_err().message.contains("port-forward"));
    }

    #[test]
    fn responses() {
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap(), (200, b"{}".to_vec()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (200, b"abcde".to_vec()));
        assert!(parse_response(b"garbage").is_err());
    }

    #[test]
    fn encoding() {
        assert_eq!(encode("sum(a{b=\"c d\"})"), "sum%28a%7Bb%3D%22c%20d%22%7D%29");
        assert_eq!(quote("GET /a\"b"), "\"GET /a\\\"b\"");
    }
}
