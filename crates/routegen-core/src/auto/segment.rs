//! The deterministic half of auto naming: what one path segment looks like.
//!
//! A pure function of the segment's bytes, so every worker, proxy and restart agrees. Rules are
//! tried in the order of [`Rule`]'s variants; the first that fits wins. A segment no rule
//! turns into a placeholder is a literal (a word, a version, a file name) and is left to the
//! fan-out half ([`super::namer`]) to judge.

/// The placeholders auto names use, as they appear in a name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Id,
    Uuid,
    Date,
    Email,
    Ip,
    Token,
    /// A position that fans out with word-like values (set by the namer, never by a rule).
    Param,
    /// Everything past `max_depth` segments.
    Rest,
}

impl Placeholder {
    pub const ALL: [Placeholder; 8] = [
        Placeholder::Id,
        Placeholder::Uuid,
        Placeholder::Date,
        Placeholder::Email,
        Placeholder::Ip,
        Placeholder::Token,
        Placeholder::Param,
        Placeholder::Rest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Placeholder::Id => "{id}",
            Placeholder::Uuid => "{uuid}",
            Placeholder::Date => "{date}",
            Placeholder::Email => "{email}",
            Placeholder::Ip => "{ip}",
            Placeholder::Token => "{token}",
            Placeholder::Param => "{param}",
            Placeholder::Rest => "{rest}",
        }
    }

    fn from_bytes(bytes: &[u8]) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.as_str().as_bytes() == bytes)
    }
}

/// Why a segment became what it became (shown by `routegen explain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Already a placeholder (`{id}`): naming a name's own path gives the same name.
    Placeholder,
    /// Not UTF-8, or a control character.
    Binary,
    /// Longer than [`MAX_LITERAL_BYTES`].
    Long,
    /// Still percent-encoded after normalisation.
    PercentEncoded,
    Email,
    Uuid,
    Date,
    Ipv4,
    Ipv6,
    /// `header.payload.signature` in base64url, header starting `eyJ`.
    Jwt,
    /// Only digits, any length.
    Digits,
    /// `v1`, `v2beta1`, `1.0`, `2.1.3`: kept literal.
    Version,
    /// Hex of 16 or more, or 6 or more mixing digits and letters.
    Hex,
    /// Digits mixed only with `.`, `_`, `-`, `:` (and no letters).
    DigitRun,
    /// 24 or more base64url characters with at least two digits.
    Base64,
    /// A run of 8+ letters and digits that looks random: digits in two or more places, or
    /// mixed case with a digit (`a1b2c3d4`, `cus_NffrFeUfNV2Hib`).
    MixedId,
    /// `<placeholder>.<ext>`: the placeholder rule applied to the part before a file extension.
    FileExtension,
    /// No rule fits: a word (the namer decides whether it is a resource or a parameter).
    Word,
}

impl Rule {
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Placeholder => "already a placeholder",
            Rule::Binary => "not UTF-8 or has a control character",
            Rule::Long => "longer than 64 bytes",
            Rule::PercentEncoded => "percent-encoded bytes",
            Rule::Email => "an e-mail address",
            Rule::Uuid => "a UUID (any version, dashes optional, may be embedded)",
            Rule::Date => "an ISO 8601 date",
            Rule::Ipv4 => "an IPv4 address",
            Rule::Ipv6 => "an IPv6 address",
            Rule::Jwt => "a JWT",
            Rule::Digits => "digits only",
            Rule::Version => "a version (kept literal)",
            Rule::Hex => "hex: 16+ characters, or 6+ mixing digits and letters",
            Rule::DigitRun => "digits mixed with . _ - :",
            Rule::Base64 => "a base64url token (24+ characters, 2+ digits)",
            Rule::MixedId => "a random-looking run of letters and digits",
            Rule::FileExtension => "a placeholder with a file extension",
            Rule::Word => "a word",
        }
    }
}

/// What a segment is: a placeholder (and by which rule), or a literal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub rule: Rule,
    /// `None` for literals (words and versions).
    pub placeholder: Option<Placeholder>,
    /// With [`Rule::FileExtension`]: the byte length of the `.ext` suffix kept after the placeholder.
    pub extension: usize,
}

impl Class {
    fn literal(rule: Rule) -> Class {
        Class { rule, placeholder: None, extension: 0 }
    }

    fn placeholder(rule: Rule, placeholder: Placeholder) -> Class {
        Class { rule, placeholder: Some(placeholder), extension: 0 }
    }

    pub fn is_version(&self) -> bool {
        self.rule == Rule::Version
    }
}

/// Literal segments longer than this become `{token}`: it bounds every name's length.
pub const MAX_LITERAL_BYTES: usize = 64;

/// Classifies one path segment (the bytes between two `/`, query already cut).
pub fn classify(segment: &[u8]) -> Class {
    if let Some(p) = Placeholder::from_bytes(segment) {
        return Class::placeholder(Rule::Placeholder, p);
    }
    if segment.len() > MAX_LITERAL_BYTES {
        return Class::placeholder(Rule::Long, Placeholder::Token);
    }
    let Ok(text) = std::str::from_utf8(segment) else { return Class::placeholder(Rule::Binary, Placeholder::Token) };
    if text.chars().any(char::is_control) {
        return Class::placeholder(Rule::Binary, Placeholder::Token);
    }
    // `12345.png`, `{id}.json`: a placeholder stem keeps its extension literal.
    if let Some((stem, ext)) = text.rsplit_once('.') {
        if is_extension(ext) && !stem.is_empty() {
            let stem_class = Placeholder::from_bytes(stem.as_bytes())
                .map(|p| Class::placeholder(Rule::Placeholder, p))
                .or_else(|| classify_whole(stem));
            if let Some(Class { placeholder: Some(p), .. }) = stem_class {
                return Class { rule: Rule::FileExtension, placeholder: Some(p), extension: ext.len() + 1 };
            }
        }
    }
    classify_whole(text).unwrap_or(Class::literal(Rule::Word))
}

/// The rules that look at the whole segment; `None` when none fits.
fn classify_whole(text: &str) -> Option<Class> {
    let bytes = text.as_bytes();
    let placeholder = |rule, p| Some(Class::placeholder(rule, p));
    if bytes.is_empty() {
        return None;
    }
    if text.contains('%') {
        return placeholder(Rule::PercentEncoded, Placeholder::Token);
    }
    if is_email(text) {
        return placeholder(Rule::Email, Placeholder::Email);
    }
    if contains_uuid(bytes) {
        return placeholder(Rule::Uuid, Placeholder::Uuid);
    }
    if is_date(bytes) {
        return placeholder(Rule::Date, Placeholder::Date);
    }
    if is_ipv4(text) {
        return placeholder(Rule::Ipv4, Placeholder::Ip);
    }
    if is_ipv6(text) {
        return placeholder(Rule::Ipv6, Placeholder::Ip);
    }
    if is_jwt(text) {
        return placeholder(Rule::Jwt, Placeholder::Token);
    }
    if bytes.iter().all(u8::is_ascii_digit) {
        return placeholder(Rule::Digits, Placeholder::Id);
    }
    if is_version(text) {
        return Some(Class::literal(Rule::Version));
    }
    if is_hex_id(bytes) {
        return placeholder(Rule::Hex, Placeholder::Id);
    }
    if is_digit_run(bytes) {
        return placeholder(Rule::DigitRun, Placeholder::Id);
    }
    if is_base64_token(bytes) {
        return placeholder(Rule::Base64, Placeholder::Token);
    }
    if text.split(['_', '-', '.', '~']).any(is_mixed_id) {
        return placeholder(Rule::MixedId, Placeholder::Id);
    }
    None
}

fn is_extension(ext: &str) -> bool {
    (1..=5).contains(&ext.len())
        && ext.as_bytes()[0].is_ascii_alphabetic()
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// 8-4-4-4-12 hex with dashes anywhere in the segment, or exactly 32 hex digits.
fn contains_uuid(bytes: &[u8]) -> bool {
    if bytes.len() == 32 && bytes.iter().all(u8::is_ascii_hexdigit) {
        return true;
    }
    bytes.len() >= 36 && bytes.windows(36).any(is_dashed_uuid)
}

fn is_dashed_uuid(window: &[u8]) -> bool {
    window.iter().enumerate().all(|(i, b)| match i {
        8 | 13 | 18 | 23 => *b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

/// `2024-01-31`, `2024-01`, or a date with a time (`2024-01-31T12:00:00Z`).
fn is_date(bytes: &[u8]) -> bool {
    let digits = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = bytes.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month)) = (digits(0..4), digits(5..7)) else { return false };
    if bytes.get(4) != Some(&b'-') || !(1900..=2999).contains(&year) || !(1..=12).contains(&month) {
        return false;
    }
    if bytes.len() == 7 {
        return true;
    }
    let Some(day) = digits(8..10) else { return false };
    if bytes.get(7) != Some(&b'-') || !(1..=31).contains(&day) {
        return false;
    }
    match bytes.get(10) {
        None => true,
        Some(b'T' | b't' | b'_' | b' ') => {
            bytes[11..].iter().all(|b| b.is_ascii_alphanumeric() || b":.+-Z".contains(b))
        }
        Some(_) => false,
    }
}

fn is_ipv4(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.iter().all(|p| p.parse::<u16>().is_ok_and(|n| n <= 255))
}

fn is_ipv6(text: &str) -> bool {
    text.len() >= 3
        && text.bytes().filter(|&b| b == b':').count() >= 2
        && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
}

fn is_base64url(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn is_jwt(text: &str) -> bool {
    let mut parts = text.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    header.starts_with("eyJ") && is_base64url(header) && is_base64url(payload) && is_base64url(signature)
}

/// `v1`, `v2beta1`, `v1alpha`, `v3.1`; `1.0`, `2.1.3` (2 to 3 numeric parts of up to 3 digits).
fn is_version(text: &str) -> bool {
    if let Some(rest) = text.strip_prefix(['v', 'V']) {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 3 {
            return false;
        }
        let tail = &rest[digits..];
        let suffix = tail.trim_start_matches(|c: char| c.is_ascii_lowercase());
        let word = &tail[..tail.len() - suffix.len()];
        return (word.is_empty() || ["alpha", "beta", "rc", "pre"].contains(&word))
            && (suffix.is_empty()
                || is_dotted_number(suffix.trim_start_matches('.'), 3)
                || suffix.bytes().all(|b| b.is_ascii_digit()));
    }
    is_dotted_number(text, 3) && text.contains('.')
}

fn is_dotted_number(text: &str, max_parts: usize) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() <= max_parts
        && parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_hex_id(bytes: &[u8]) -> bool {
    if !bytes.iter().all(u8::is_ascii_hexdigit) {
        return false;
    }
    let mixed = bytes.iter().any(u8::is_ascii_digit) && bytes.iter().any(u8::is_ascii_alphabetic);
    bytes.len() >= 16 || (bytes.len() >= 6 && mixed)
}

fn is_digit_run(bytes: &[u8]) -> bool {
    bytes.iter().any(u8::is_ascii_digit) && bytes.iter().all(|b| b.is_ascii_digit() || b"._-:".contains(b))
}

fn is_base64_token(bytes: &[u8]) -> bool {
    bytes.len() >= 24
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && bytes.iter().filter(|b| b.is_ascii_digit()).count() >= 2
}

/// A run of 8+ ASCII letters and digits that looks generated rather than written.
fn is_mixed_id(run: &str) -> bool {
    let bytes = run.as_bytes();
    if bytes.len() < 8 || !bytes.iter().all(u8::is_ascii_alphanumeric) || !bytes.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let digit_groups = bytes.split(|b| !b.is_ascii_digit()).filter(|g| !g.is_empty()).count();
    let letters_first = bytes.iter().position(u8::is_ascii_alphabetic);
    let mixed_case = bytes.iter().any(u8::is_ascii_uppercase) && bytes.iter().any(u8::is_ascii_lowercase);
    // A camel-case word with one number (`Release2024`) is not random; digits in 2+ places or
    // mixed case past the first letter is.
    let inner_upper = letters_first.is_some_and(|first| bytes[first + 1..].iter().any(u8::is_ascii_uppercase));
    digit_groups >= 2 || (mixed_case && inner_upper)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(segment: &str) -> String {
        let class = classify(segment.as_bytes());
        match class.placeholder {
            Some(p) => format!("{}{}", p.as_str(), &segment[segment.len() - class.extension..]),
            None => segment.to_string(),
        }
    }

    #[test]
    fn identifiers_become_placeholders() {
        let cases = [
            ("7", "{id}"),
            ("0042", "{id}"),
            ("123456789012345678901234567890", "{id}"),
            ("550e8400-e29b-41d4-a716-446655440000", "{uuid}"),
            ("018f6b1c-7d2e-7a3b-9c4d-5e6f70819203", "{uuid}"), // v7
            ("550e8400e29b41d4a716446655440000", "{uuid}"),
            ("order-550e8400-e29b-41d4-a716-446655440000", "{uuid}"),
            ("507f1f77bcf86cd799439011", "{id}"),                 // ObjectId
            ("9fceb02d0ae598e95dc970b74767f19372d61af8", "{id}"), // SHA-1
            ("3f9a2c1", "{id}"),                                  // short SHA
            ("deadbeefdeadbeef", "{id}"),
            ("2024-01-31", "{date}"),
            ("2024-01", "{date}"),
            ("2024-01-31T12:30:00Z", "{date}"),
            ("jane.doe@example.com", "{email}"),
            ("10.0.0.1", "{ip}"),
            ("2001:db8::1", "{ip}"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "{token}"),
            ("123-456-789", "{id}"),
            ("12_34", "{id}"),
            ("Zm9vYmFyYmF6MTIzNDU2Nzg5MA", "{token}"),
            ("a1b2c3d4", "{id}"),
            ("cus_NffrFeUfNV2Hib", "{id}"),
            ("hello%20world", "{token}"),
            ("12345.png", "{id}.png"),
            ("550e8400-e29b-41d4-a716-446655440000.json", "{uuid}.json"),
        ];
        for (segment, expected) in cases {
            assert_eq!(name(segment), expected, "{segment}");
        }
    }

    #[test]
    fn words_versions_and_names_stay_literal() {
        for segment in [
            "users",
            "v1",
            "v2beta1",
            "v1alpha",
            "1.0",
            "2.1.3",
            "hello.world",
            "index.html",
            "favicon.ico",
            "oauth2",
            "base64url",
            "utf8mb4",
            "x86_64",
            "Release2024",
            "vulnerability-alerts",
            "private-vulnerability-reporting",
            "decade",
            "facade",
            "helloWorld",
            "",
        ] {
            assert_eq!(classify(segment.as_bytes()).placeholder, None, "{segment}");
        }
        assert!(classify(b"v2beta1").is_version());
    }

    #[test]
    fn hostile_bytes_are_tokens() {
        assert_eq!(classify(b"\xff\xfe").placeholder, Some(Placeholder::Token));
        assert_eq!(classify(b"a\0b").placeholder, Some(Placeholder::Token));
        assert_eq!(classify(&[b'z'; 65]).placeholder, Some(Placeholder::Token));
        assert_eq!(classify(&[b'z'; 64]).placeholder, None);
    }

    #[test]
    fn placeholders_name_themselves() {
        for p in Placeholder::ALL {
            assert_eq!(classify(p.as_str().as_bytes()).placeholder, Some(p));
        }
        assert_eq!(name("{id}.png"), "{id}.png");
    }
}
