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
    match quick_shape(segment) {
        Quick::Word => Class::literal(Rule::Word),
        Quick::Digits => Class::placeholder(Rule::Digits, Placeholder::Id),
        Quick::Unsure => classify_slowly(segment),
    }
}

enum Quick {
    Word,
    Digits,
    Unsure,
}

/// The two commonest shapes, told apart in one pass and with the same answer as the full
/// rules (a test holds them to it): a word of letters, `-` and `_` that no rule can take
/// (a hex-only word of 16+ is a hex ID; 36+ may hold a UUID), and plain digits (32 of them
/// are a UUID; over 64 are a token).
fn quick_shape(segment: &[u8]) -> Quick {
    let kinds = segment.iter().fold(0u8, |kinds, &b| kinds | BYTE_KINDS[usize::from(b)]);
    let len = segment.len();
    if len == 0 || kinds & OTHER != 0 {
        Quick::Unsure
    } else if kinds == DIGIT && len <= MAX_LITERAL_BYTES && len != 32 {
        Quick::Digits
    } else if kinds & DIGIT == 0 && len < 36 && (kinds & NOT_HEX != 0 || len < 16) {
        Quick::Word
    } else {
        Quick::Unsure
    }
}

const DIGIT: u8 = 1;
/// `a`–`f`, `A`–`F`.
const HEX: u8 = 2;
/// Other letters, `-` and `_`.
const NOT_HEX: u8 = 4;
const OTHER: u8 = 8;

/// Each byte's kind for [`quick_shape`], so the pass is one load and one OR a byte.
const BYTE_KINDS: [u8; 256] = {
    let mut kinds = [OTHER; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        kinds[b] = match c {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' | b'A'..=b'F' => HEX,
            b'g'..=b'z' | b'G'..=b'Z' | b'-' | b'_' => NOT_HEX,
            _ => OTHER,
        };
        b += 1;
    }
    kinds
};

/// Every rule, in order.
fn classify_slowly(segment: &[u8]) -> Class {
    classify_guarded(segment, true)
}

/// The rules in order. With `guarded`, a rule is tried only where the segment's [`Shape`]
/// allows it to fit (the answer is the same: a test compares both ways).
fn classify_guarded(segment: &[u8], guarded: bool) -> Class {
    if segment.first() == Some(&b'{') || !guarded {
        if let Some(p) = Placeholder::from_bytes(segment) {
            return Class::placeholder(Rule::Placeholder, p);
        }
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
                .or_else(|| classify_whole(stem, guarded));
            if let Some(Class { placeholder: Some(p), .. }) = stem_class {
                return Class { rule: Rule::FileExtension, placeholder: Some(p), extension: ext.len() + 1 };
            }
        }
    }
    classify_whole(text, guarded).unwrap_or(Class::literal(Rule::Word))
}

/// Counts of a segment's kinds of bytes, from one pass: each rule needs some of them.
#[derive(Default)]
struct Shape {
    digits: usize,
    /// `a`–`f`, `A`–`F`.
    hex_letters: usize,
    other_letters: usize,
    dots: usize,
    colons: usize,
    /// Anything but letters, digits and `._-:`.
    others: usize,
}

impl Shape {
    fn of(bytes: &[u8]) -> Shape {
        let mut shape = Shape::default();
        for &b in bytes {
            match b {
                b'0'..=b'9' => shape.digits += 1,
                b'a'..=b'f' | b'A'..=b'F' => shape.hex_letters += 1,
                b'g'..=b'z' | b'G'..=b'Z' => shape.other_letters += 1,
                b'.' => shape.dots += 1,
                b':' => shape.colons += 1,
                b'-' | b'_' => {}
                _ => shape.others += 1,
            }
        }
        shape
    }

    /// Whether `rule` can fit a segment of this shape (and length `len`).
    fn allows(&self, rule: Rule, len: usize) -> bool {
        let alnum = self.digits + self.hex_letters + self.other_letters;
        match rule {
            Rule::PercentEncoded | Rule::Email => self.others > 0,
            Rule::Uuid => len >= 32 && self.digits + self.hex_letters >= 32,
            Rule::Date => self.digits >= 6,
            Rule::Ipv4 => self.dots == 3 && self.digits + 3 == len,
            Rule::Ipv6 => self.colons >= 2,
            Rule::Jwt => self.dots == 2 && len > 3,
            Rule::Digits => self.digits == len,
            Rule::Version => self.digits > 0,
            Rule::Hex => self.digits + self.hex_letters == len && len >= 6,
            Rule::DigitRun => self.digits > 0 && alnum == self.digits,
            Rule::Base64 => len >= 24 && self.digits >= 2,
            Rule::MixedId => len >= 8 && self.digits > 0,
            _ => true,
        }
    }
}

type WholeRule = (Rule, fn(&str) -> bool, Option<Placeholder>);

/// The rules that look at the whole segment, in order: the rule, its test, and what a segment
/// it fits becomes (`None`: it stays literal, a version).
const WHOLE_RULES: [WholeRule; 13] = [
    (Rule::PercentEncoded, |t| t.contains('%'), Some(Placeholder::Token)),
    (Rule::Email, is_email, Some(Placeholder::Email)),
    (Rule::Uuid, |t| contains_uuid(t.as_bytes()), Some(Placeholder::Uuid)),
    (Rule::Date, |t| is_date(t.as_bytes()), Some(Placeholder::Date)),
    (Rule::Ipv4, is_ipv4, Some(Placeholder::Ip)),
    (Rule::Ipv6, is_ipv6, Some(Placeholder::Ip)),
    (Rule::Jwt, is_jwt, Some(Placeholder::Token)),
    (Rule::Digits, |t| t.bytes().all(|b| b.is_ascii_digit()), Some(Placeholder::Id)),
    (Rule::Version, is_version, None),
    (Rule::Hex, |t| is_hex_id(t.as_bytes()), Some(Placeholder::Id)),
    (Rule::DigitRun, |t| is_digit_run(t.as_bytes()), Some(Placeholder::Id)),
    (Rule::Base64, |t| is_base64_token(t.as_bytes()), Some(Placeholder::Token)),
    (Rule::MixedId, |t| t.split(['_', '-', '.', '~']).any(is_mixed_id), Some(Placeholder::Id)),
];

/// The first of [`WHOLE_RULES`] that fits; `None` when none does.
fn classify_whole(text: &str, guarded: bool) -> Option<Class> {
    if text.is_empty() {
        return None;
    }
    let shape = Shape::of(text.as_bytes());
    WHOLE_RULES
        .iter()
        .find(|&&(rule, fits, _)| (!guarded || shape.allows(rule, text.len())) && fits(text))
        .map(|&(rule, _, placeholder)| Class { rule, placeholder, extension: 0 })
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
    text.split('.').count() == 4
        && text.split('.').all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && text.split('.').all(|p| p.bytes().fold(0u16, |n, d| n * 10 + u16::from(d - b'0')) <= 255)
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
    text.split('.').count() <= max_parts
        && text.split('.').all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
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

    const CASES: [(&str, &str); 26] = [
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

    const LITERALS: [&str; 20] = [
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
    ];

    fn name(segment: &str) -> String {
        let class = classify(segment.as_bytes());
        match class.placeholder {
            Some(p) => format!("{}{}", p.as_str(), &segment[segment.len() - class.extension..]),
            None => segment.to_string(),
        }
    }

    #[test]
    fn identifiers_become_placeholders() {
        let cases = CASES;
        for (segment, expected) in cases {
            assert_eq!(name(segment), expected, "{segment}");
        }
    }

    #[test]
    fn words_versions_and_names_stay_literal() {
        for segment in LITERALS {
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

    /// The quick shapes and the guarded rules give what every rule tried in order gives.
    fn agree(segment: &[u8]) {
        let every_rule = classify_guarded(segment, false);
        let shown = String::from_utf8_lossy(segment);
        assert_eq!(classify(segment), every_rule, "{shown:?}");
        assert_eq!(classify_slowly(segment), every_rule, "{shown:?}");
    }

    /// On every short string over alphabets that reach each rule's edges, on lengths around
    /// 16, 32, 36 and 64, and on every case of the other tests.
    #[test]
    fn shortcuts_agree_with_the_rules() {
        let alphabet = b"0aFgZ-_.";
        let mut checked = 0;
        for len in 0..=6u32 {
            for mut n in 0..alphabet.len().pow(len) {
                let mut segment = Vec::new();
                for _ in 0..len {
                    segment.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                agree(&segment);
                checked += 1;
            }
        }
        for len in [15, 16, 31, 32, 33, 35, 36, 37, 63, 64, 65] {
            for fill in [&b"7"[..], b"a", b"ab1", b"abc-", b"g", b"eyJ"] {
                let segment: Vec<u8> = fill.iter().copied().cycle().take(len).collect();
                agree(&segment);
                checked += 1;
            }
        }
        for len in 0..=4u32 {
            let alphabet = b"0v:@%eyJ.";
            for mut n in 0..alphabet.len().pow(len) {
                let mut segment = Vec::new();
                for _ in 0..len {
                    segment.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                agree(&segment);
                checked += 1;
            }
        }
        for segment in CASES.iter().map(|(s, _)| *s).chain(LITERALS) {
            agree(segment.as_bytes());
            for cut in 0..segment.len() {
                agree(&segment.as_bytes()[cut..]);
            }
        }
        assert!(checked > 250_000);
    }

    #[test]
    fn placeholders_name_themselves() {
        for p in Placeholder::ALL {
            assert_eq!(classify(p.as_str().as_bytes()).placeholder, Some(p));
        }
        assert_eq!(name("{id}.png"), "{id}.png");
    }
}
