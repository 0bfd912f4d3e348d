//! Methods in auto names: the standard ones as sent, anything else `_OTHER` (OpenTelemetry's
//! rule), so a client inventing methods cannot invent names.

/// RFC 9110's methods, PATCH (RFC 5789) and QUERY (the safe method with a body).
pub const KNOWN: [&str; 10] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"];

pub const OTHER: &str = "_OTHER";

/// Methods are case-sensitive: `get` is not `GET`.
pub fn method_label(method: &[u8]) -> &'static str {
    // Length first: most methods are told apart without comparing bytes.
    KNOWN.into_iter().find(|m| m.len() == method.len() && m.as_bytes() == method).unwrap_or(OTHER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_other() {
        assert_eq!(method_label(b"GET"), "GET");
        assert_eq!(method_label(b"QUERY"), "QUERY");
        assert_eq!(method_label(b"get"), OTHER);
        assert_eq!(method_label(b"PROPFIND"), OTHER);
        assert_eq!(method_label(b"\xff"), OTHER);
    }
}
