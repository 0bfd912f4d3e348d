//! One access-log line → one observed request, whatever format the proxy wrote it in.
//!
//! Formats are detected per line, so a file may mix them (a log rotated across a config change):
//! - JSON lines: Envoy `json_format` and Istio's `JSON` encoding. Keys are read by meaning, so
//!   `method`, `:method`, `REQ(:METHOD)` and `%REQ(:METHOD)%` are all the method.
//! - Envoy's default text format and Istio's default text format (`[START] "METHOD PATH PROTO" CODE …`),
//!   told apart by the fields between the request line and the next quoted field.
//! - `METHOD PATH [STATUS [DURATION_MS]]`, one request per line (what `routegen explain --history` reads).
//!
//! A line that is none of these is an error with a reason; blank lines and `#` comments are skipped.

use serde_json::{Map, Value};

/// What one log line says about one request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub method: String,
    /// As logged: the query, if any, is still on it.
    pub path: String,
    pub authority: Option<String>,
    pub status: Option<u16>,
    pub duration_ms: Option<f64>,
    /// A routegen route name the line carries (a JSON `route` field, as the examples log it).
    pub route: Option<String>,
    /// Start time, seconds since the Unix epoch.
    pub start: Option<f64>,
}

/// Which format a line was in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    EnvoyText,
    IstioText,
    Plain,
}

impl Format {
    pub const ALL: [Format; 4] = [Format::EnvoyText, Format::IstioText, Format::Json, Format::Plain];

    pub fn describe(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::EnvoyText => "Envoy default",
            Format::IstioText => "Istio default",
            Format::Plain => "METHOD PATH",
        }
    }
}

/// Lines longer than this are refused rather than read (a log line is a few hundred bytes).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Parses one line. `Ok(None)`: nothing to count (blank, comment).
pub fn parse(line: &str) -> Result<Option<(Observation, Format)>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(format!("longer than {MAX_LINE_BYTES} bytes"));
    }
    let parsed = if line.starts_with('{') {
        json_line(line).map(|o| (o, Format::Json))
    } else if line.starts_with('[') {
        text_line(line)
    } else {
        plain_line(line).map(|o| (o, Format::Plain))
    }?;
    check_request(&parsed.0)?;
    Ok(Some(parsed))
}

fn check_request(observation: &Observation) -> Result<(), String> {
    if !is_method(&observation.method) {
        return Err(format!("'{}' is not an HTTP method", shorten(&observation.method)));
    }
    if !observation.path.starts_with('/') {
        return Err(format!("'{}' is not a request path", shorten(&observation.path)));
    }
    Ok(())
}

/// A token of the characters HTTP allows in a method (custom methods included), with a letter
/// in it (Envoy logs `-` where a request had none).
fn is_method(text: &str) -> bool {
    text.len() <= 32
        && text.bytes().any(|b| b.is_ascii_alphabetic())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!#$%&'*+^`|~".contains(&b))
}

fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(40).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// What a JSON key means, whichever way the format spelled it.
fn json_field(key: &str) -> Option<Field> {
    let mut key = key.trim().trim_matches('%').to_ascii_lowercase();
    if let Some(inner) = key.strip_prefix("req(").and_then(|k| k.strip_suffix(')')) {
        // `REQ(X-ENVOY-ORIGINAL-PATH?:PATH)`: the header, else the fallback; both are the path.
        key = inner.rsplit('?').next().unwrap_or(inner).to_string();
    }
    let key = key.trim_start_matches(':');
    Some(match key {
        "method" | "request_method" | "http_method" => Field::Method,
        "path" | "url_path" | "request_path" | "x-envoy-original-path" | "uri" => Field::Path,
        "authority" | "host" | "request_authority" => Field::Authority,
        "response_code" | "code" | "status" | "status_code" | "response_status" => Field::Status,
        "duration" | "duration_ms" | "request_duration" => Field::Duration,
        "route" | "routegen_route" | "operation_id" | "istio_operationid" => Field::Route,
        "start_time" | "timestamp" | "time" => Field::Start,
        _ if key.starts_with("filter_state(wasm.") => Field::Route,
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Method,
    Path,
    Authority,
    Status,
    Duration,
    Route,
    Start,
}

fn json_line(line: &str) -> Result<Observation, String> {
    let object: Map<String, Value> = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut observation = Observation::default();
    for (key, value) in &object {
        let Some(field) = json_field(key) else { continue };
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        let Some(text) = present(&text) else { continue };
        match field {
            Field::Method => observation.method = text.to_string(),
            Field::Path => observation.path = text.to_string(),
            Field::Authority => observation.authority = Some(text.to_string()),
            Field::Status => observation.status = text.parse().ok(),
            Field::Duration => observation.duration_ms = text.parse().ok(),
            Field::Route => observation.route = Some(text.to_string()),
            Field::Start => observation.start = timestamp(text),
        }
    }
    if observation.method.is_empty() || observation.path.is_empty() {
        return Err("no method or path field".to_string());
    }
    Ok(observation)
}

/// Envoy writes `-` for a value it does not have.
fn present(text: &str) -> Option<&str> {
    (!text.is_empty() && text != "-").then_some(text)
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Bracketed(&'a str),
    Quoted(&'a str),
    Bare(&'a str),
}

/// Splits a text log line into `[…]`, `"…"` and bare fields. Envoy does not escape quotes in
/// text logs, so a quoted field ends at a quote followed by a space or the end of the line.
fn tokens(line: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (token, after) = if let Some(inner) = rest.strip_prefix('[') {
            match inner.find(']') {
                Some(end) => (Token::Bracketed(&inner[..end]), &inner[end + 1..]),
                None => (Token::Bare(rest), ""),
            }
        } else if let Some(inner) = rest.strip_prefix('"') {
            let end = inner
                .match_indices('"')
                .map(|(i, _)| i)
                .find(|&i| inner[i + 1..].is_empty() || inner[i + 1..].starts_with(' '));
            match end {
                Some(end) => (Token::Quoted(&inner[..end]), &inner[end + 1..]),
                None => (Token::Quoted(inner), ""),
            }
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (Token::Bare(&rest[..end]), &rest[end..])
        };
        out.push(token);
        rest = after.trim_start();
    }
    out
}

/// `[START] "METHOD PATH PROTOCOL" CODE FLAGS …`: Envoy's default has six bare fields after
/// the request line (code, flags, bytes in, bytes out, duration, upstream time) and the
/// authority in the fourth quoted field after it; Istio's has four (code, flags, details,
/// termination details), a quoted failure reason, then the byte counts and duration, and the
/// authority in the fifth quoted field.
fn text_line(line: &str) -> Result<(Observation, Format), String> {
    let tokens = tokens(line);
    let (start, request) = match tokens.as_slice() {
        [Token::Bracketed(start), Token::Quoted(request), ..] => (start, request),
        _ => return Err("not an access-log line: expected '[START_TIME] \"METHOD PATH PROTOCOL\" …'".to_string()),
    };
    let mut parts = request.split(' ');
    let method = parts.next().unwrap_or_default();
    let path = parts.next().unwrap_or_default();
    let after = &tokens[2..];
    let bare_run = after.iter().take_while(|t| matches!(t, Token::Bare(_))).count();
    let bare = |i: usize| match after.get(i) {
        Some(Token::Bare(text)) => present(text),
        _ => None,
    };
    let quoted: Vec<&str> =
        after.iter().filter_map(|t| if let Token::Quoted(q) = t { Some(*q) } else { None }).collect();
    let (format, duration, authority) = if bare_run >= 5 {
        (Format::EnvoyText, bare(4), quoted.get(3))
    } else if bare_run == 4 {
        // After the quoted failure reason: bytes in, bytes out, duration.
        (Format::IstioText, bare(bare_run + 3), quoted.get(4))
    } else {
        return Err(format!(
            "after the request line, {bare_run} plain fields: neither Envoy's nor Istio's default format"
        ));
    };
    let observation = Observation {
        method: method.to_string(),
        path: path.to_string(),
        authority: authority.and_then(|a| present(a)).map(str::to_string),
        status: bare(0).and_then(|c| c.parse().ok()),
        duration_ms: duration.and_then(|d| d.parse().ok()),
        route: None,
        start: timestamp(start),
    };
    Ok((observation, format))
}

fn plain_line(line: &str) -> Result<Observation, String> {
    let mut fields = line.split_ascii_whitespace();
    let method = fields.next().unwrap_or_default();
    let path = fields.next().ok_or("expected 'METHOD PATH'")?;
    if !path.starts_with('/') {
        return Err(format!("'{}' is not a request path", shorten(path)));
    }
    let status = fields
        .next()
        .map(|s| s.parse::<u16>().map_err(|_| format!("'{}' is not a status code", shorten(s))))
        .transpose()?;
    let duration_ms = fields
        .next()
        .map(|d| d.parse::<f64>().map_err(|_| format!("'{}' is not a duration", shorten(d))))
        .transpose()?;
    Ok(Observation {
        method: method.to_string(),
        path: path.to_string(),
        status,
        duration_ms,
        ..Observation::default()
    })
}

/// `2026-12-01T16:15:48.123Z` (Envoy's `%START_TIME%`; an offset other than Z is not read).
fn timestamp(text: &str) -> Option<f64> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.splitn(3, ':');
    let hours: f64 = time.next()?.parse().ok()?;
    let minutes: f64 = time.next()?.parse().ok()?;
    let seconds: f64 = time.next()?.parse().ok()?;
    Some(days_from_civil(year, month, day) as f64 * 86_400.0 + hours * 3600.0 + minutes * 60.0 + seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVOY: &str = r#"[2026-12-01T16:15:48.123Z] "GET /users/alice?tab=1 HTTP/1.1" 200 - 0 2 3 1 "-" "curl/8.5.0" "5c0a3c2e-1" "api.local:8080" "127.0.0.1:9000""#;
    const ISTIO: &str = r#"[2026-12-01T16:15:48.123Z] "POST /orders HTTP/2" 503 UF upstream_reset_before_response_started{connection_failure} - "delayed connect error: 111" 14 91 7 - "-" "grpc-go/1.60" "b6a1" "orders.shop.svc.cluster.local:8080" "10.0.0.5:8080" outbound|8080||orders.shop.svc.cluster.local - 10.96.0.10:8080 10.0.0.9:51000 - default"#;

    fn one(line: &str) -> (Observation, Format) {
        parse(line).expect("parses").expect("a request")
    }

    #[test]
    fn envoy_default_format() {
        let (o, format) = one(ENVOY);
        assert_eq!(format, Format::EnvoyText);
        assert_eq!((o.method.as_str(), o.path.as_str()), ("GET", "/users/alice?tab=1"));
        assert_eq!((o.status, o.duration_ms), (Some(200), Some(3.0)));
        assert_eq!(o.authority.as_deref(), Some("api.local:8080"));
        assert_eq!(o.start, Some(1_796_141_748.123));
    }

    #[test]
    fn istio_default_format() {
        let (o, format) = one(ISTIO);
        assert_eq!(format, Format::IstioText);
        assert_eq!(
            (o.method.as_str(), o.path.as_str(), o.status, o.duration_ms),
            ("POST", "/orders", Some(503), Some(7.0))
        );
        assert_eq!(o.authority.as_deref(), Some("orders.shop.svc.cluster.local:8080"));
    }

    #[test]
    fn json_keys_by_meaning() {
        let (o, _) = one(
            r#"{"%REQ(:METHOD)%":"PUT","REQ(X-ENVOY-ORIGINAL-PATH?:PATH)":"/a/1","authority":"h","response_code":404,"duration":"12","route":"PUT /a/{id}"}"#,
        );
        assert_eq!(
            (o.method.as_str(), o.path.as_str(), o.status, o.duration_ms),
            ("PUT", "/a/1", Some(404), Some(12.0))
        );
        assert_eq!((o.authority.as_deref(), o.route.as_deref()), (Some("h"), Some("PUT /a/{id}")));
        // Istio's JSON encoding, with `-` for an absent value.
        let (o, _) = one(r#"{"method":"GET","path":"/x","authority":"-","response_code":"200","duration":"1"}"#);
        assert_eq!((o.authority, o.status), (None, Some(200)));
    }

    #[test]
    fn plain_lines_and_skips() {
        let (o, format) = one("DELETE /books/12 204 3.5");
        assert_eq!(format, Format::Plain);
        assert_eq!(
            (o.method.as_str(), o.path.as_str(), o.status, o.duration_ms),
            ("DELETE", "/books/12", Some(204), Some(3.5))
        );
        assert_eq!(parse("   "), Ok(None));
        assert_eq!(parse("# a comment"), Ok(None));
    }

    #[test]
    fn bad_lines_say_why() {
        for (line, reason) in [
            ("hello", "expected 'METHOD PATH'"),
            ("GET books", "is not a request path"),
            ("{\"method\": \"GET\"}", "no method or path field"),
            ("{not json", "invalid JSON"),
            ("[x] \"- - -\" 0 - 0 0 0 - \"-\" \"-\" \"-\" \"-\" \"-\"", "is not an HTTP method"),
            ("[x] \"GET / HTTP/1.1\" 200", "neither Envoy's nor Istio's"),
            ("GET /a notastatus", "is not a status code"),
        ] {
            let error = parse(line).expect_err(line);
            assert!(error.contains(reason), "{line}: {error}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(timestamp("2000-03-01T00:00:01.5Z"), Some(951_868_801.5));
        assert_eq!(timestamp("yesterday"), None);
    }
}
