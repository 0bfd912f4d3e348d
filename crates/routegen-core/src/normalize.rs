//! Request path normalisation for the native format.
//!
//! Envoy hands us `:path` as the client sent it (unless the listener's own `normalize_path` /
//! `merge_slashes` options are on). Route tables are written against canonical paths, so
//! before matching we cut the query and fragment and, by default, apply the RFC 3986 steps that
//! cannot change which resource is meant. Every step is an option (`normalize` in the config).
//! The attributegen drop-in applies none of them: its conditions see `request.url_path` exactly
//! as Envoy's CEL does.

use std::borrow::Cow;

/// Which normalisation steps run before matching. Defaults are the safe, expected ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NormalizeOptions {
    /// `%41` → `A` for unreserved characters only (ALPHA, DIGIT, `-._~`); other escapes stay
    /// encoded with upper-case hex (`%2f` → `%2F`), RFC 3986's normal form.
    pub decode_unreserved: bool,
    /// `//` → `/`.
    pub merge_slashes: bool,
    /// `/a/./b/../c` → `/a/c` (RFC 3986 §5.2.4), after decoding, so `%2e%2e` is a dot segment too.
    pub remove_dot_segments: bool,
    /// `/books/` matches like `/books` (the root `/` stays).
    pub ignore_trailing_slash: bool,
    /// Compare paths case-insensitively (ASCII). Off: paths are case-sensitive per RFC 3986.
    pub case_insensitive: bool,
}

impl Default for NormalizeOptions {
    fn default() -> Self {
        NormalizeOptions {
            decode_unreserved: true,
            merge_slashes: true,
            remove_dot_segments: true,
            ignore_trailing_slash: true,
            case_insensitive: false,
        }
    }
}

impl NormalizeOptions {
    /// No normalisation at all: only the query and fragment are cut.
    pub fn raw() -> Self {
        NormalizeOptions {
            decode_unreserved: false,
            merge_slashes: false,
            remove_dot_segments: false,
            ignore_trailing_slash: false,
            case_insensitive: false,
        }
    }
}

/// `:path` up to the first `?` or `#`.
pub fn strip_query(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => &path[..end],
        None => path,
    }
}

/// Applies `options` to a path already cut at the query. Borrows when nothing changes,
/// which is the common case, so the hot path allocates nothing.
pub fn normalize<'a>(path: &'a [u8], options: &NormalizeOptions) -> Cow<'a, [u8]> {
    if already_normal(path, options) {
        let trimmed = match path {
            [rest @ .., b'/'] if options.ignore_trailing_slash && !rest.is_empty() => rest,
            _ => path,
        };
        return Cow::Borrowed(trimmed);
    }
    let mut path = Cow::Borrowed(path);
    if options.decode_unreserved && path.contains(&b'%') {
        path = Cow::Owned(decode_unreserved(&path));
    }
    if options.merge_slashes && path.windows(2).any(|w| w == b"//") {
        path = Cow::Owned(merge_slashes(&path));
    }
    if options.remove_dot_segments && has_dot_segment(&path) {
        path = Cow::Owned(remove_dot_segments(&path));
    }
    if options.ignore_trailing_slash && path.len() > 1 && path.ends_with(b"/") {
        path = match path {
            Cow::Borrowed(p) => Cow::Borrowed(&p[..p.len() - 1]),
            Cow::Owned(mut p) => {
                p.pop();
                Cow::Owned(p)
            }
        };
    }
    if options.case_insensitive && path.iter().any(u8::is_ascii_uppercase) {
        path = Cow::Owned(path.to_ascii_lowercase());
    }
    path
}

/// One scan for the common case: nothing but (perhaps) a trailing slash to do.
fn already_normal(path: &[u8], options: &NormalizeOptions) -> bool {
    let mut previous = 0u8;
    for (i, &b) in path.iter().enumerate() {
        let trouble = match b {
            b'%' => options.decode_unreserved,
            b'/' => options.merge_slashes && previous == b'/',
            // A dot right after a slash may start a `.` or `..` segment: leave it to the full pass.
            b'.' => options.remove_dot_segments && previous == b'/',
            b'A'..=b'Z' => options.case_insensitive,
            _ => false,
        };
        if trouble || (i == 0 && b == b'.' && options.remove_dot_segments) {
            return false;
        }
        previous = b;
    }
    true
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn decode_unreserved(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        if path[i] == b'%' {
            if let (Some(hi), Some(lo)) =
                (path.get(i + 1).copied().and_then(hex_value), path.get(i + 2).copied().and_then(hex_value))
            {
                let decoded = hi * 16 + lo;
                if is_unreserved(decoded) {
                    out.push(decoded);
                } else {
                    out.push(b'%');
                    out.push(path[i + 1].to_ascii_uppercase());
                    out.push(path[i + 2].to_ascii_uppercase());
                }
                i += 3;
                continue;
            }
        }
        out.push(path[i]);
        i += 1;
    }
    out
}

fn merge_slashes(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &b in path {
        if !(b == b'/' && out.last() == Some(&b'/')) {
            out.push(b);
        }
    }
    out
}

fn has_dot_segment(path: &[u8]) -> bool {
    path.split(|&b| b == b'/').any(|segment| segment == b"." || segment == b"..")
}

/// RFC 3986 §5.2.4 on a path made of `/`-separated segments: `.` disappears, `..` removes
/// the segment before it and never climbs above the root.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    let absolute = path.starts_with(b"/");
    let segments: Vec<&[u8]> = path.split(|&b| b == b'/').skip(usize::from(absolute)).collect();
    let mut kept: Vec<&[u8]> = Vec::with_capacity(segments.len());
    let last = segments.len().saturating_sub(1);
    let mut ends_in_directory = false;
    for (index, segment) in segments.iter().enumerate() {
        match *segment {
            b"." => ends_in_directory = index == last,
            b".." => {
                kept.pop();
                ends_in_directory = index == last;
            }
            other => {
                kept.push(other);
                ends_in_directory = false;
            }
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for segment in &kept {
        if absolute || !out.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(segment);
    }
    // "/a/.." is the directory "/", and "/a/b/." is "/a/b/".
    if ends_in_directory || out.is_empty() && absolute {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(path: &str) -> String {
        String::from_utf8(normalize(strip_query(path.as_bytes()), &NormalizeOptions::default()).into_owned()).unwrap()
    }

    #[test]
    fn query_and_fragment_are_cut() {
        assert_eq!(strip_query(b"/a?b=c"), b"/a");
        assert_eq!(strip_query(b"/a#frag"), b"/a");
        assert_eq!(strip_query(b"/a"), b"/a");
        assert_eq!(strip_query(b"?x"), b"");
    }

    #[test]
    fn defaults() {
        assert_eq!(n("/books/42"), "/books/42");
        assert_eq!(n("/books/42/"), "/books/42");
        assert_eq!(n("/"), "/");
        assert_eq!(n("//books///42"), "/books/42");
        assert_eq!(n("/%62ooks/%7E"), "/books/~");
        assert_eq!(n("/a%2Fb"), "/a%2Fb", "reserved characters stay encoded");
        assert_eq!(n("/a%2fb%c3%a9"), "/a%2Fb%C3%A9", "with upper-case hex");
        assert_eq!(n("/books/%2e%2e/admin"), "/admin");
        assert_eq!(n("/a/./b/../c"), "/a/c");
        assert_eq!(n("/../../x"), "/x");
        assert_eq!(n("/a/.."), "/");
        assert_eq!(n("/a/b/."), "/a/b");
        assert_eq!(n("/Books"), "/Books", "case is kept by default");
        assert_eq!(n("/a%zz%4"), "/a%zz%4", "broken escapes pass through");
    }

    #[test]
    fn unchanged_paths_are_borrowed() {
        let options = NormalizeOptions::default();
        assert!(matches!(normalize(b"/books/42", &options), Cow::Borrowed(_)));
        assert!(matches!(normalize(b"/books/42/", &options), Cow::Borrowed(_)));
    }

    #[test]
    fn each_option_can_be_turned_off() {
        let raw = NormalizeOptions::raw();
        assert_eq!(normalize(b"//a/./%62/", &raw).as_ref(), b"//a/./%62/");
        let insensitive = NormalizeOptions { case_insensitive: true, ..NormalizeOptions::default() };
        assert_eq!(normalize(b"/Books/ABC", &insensitive).as_ref(), b"/books/abc");
        let keep_slash = NormalizeOptions { ignore_trailing_slash: false, ..NormalizeOptions::default() };
        assert_eq!(normalize(b"/books/", &keep_slash).as_ref(), b"/books/");
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_pass() {
        let paths: [&[u8]; 14] = [
            b"/a/b",
            b"/a/b/",
            b"/",
            b"//",
            b"/a//b",
            b"/a/./b",
            b"/a/../b",
            b"/.hidden/x",
            b"/a/b.json",
            b"/A/B",
            b"/%41",
            b"a/b",
            b"./a",
            b"/a/..",
        ];
        let all = [
            NormalizeOptions::default(),
            NormalizeOptions::raw(),
            NormalizeOptions { case_insensitive: true, ..NormalizeOptions::default() },
            NormalizeOptions { merge_slashes: false, ..NormalizeOptions::default() },
        ];
        for options in &all {
            for path in paths {
                let fast = normalize(path, options).into_owned();
                // The full pass, forced by pretending the path is not normal.
                let mut slow = Cow::Borrowed(path);
                if options.decode_unreserved && slow.contains(&b'%') {
                    slow = Cow::Owned(decode_unreserved(&slow));
                }
                if options.merge_slashes && slow.windows(2).any(|w| w == b"//") {
                    slow = Cow::Owned(merge_slashes(&slow));
                }
                if options.remove_dot_segments && has_dot_segment(&slow) {
                    slow = Cow::Owned(remove_dot_segments(&slow));
                }
                let mut slow = slow.into_owned();
                if options.ignore_trailing_slash && slow.len() > 1 && slow.ends_with(b"/") {
                    slow.pop();
                }
                if options.case_insensitive {
                    slow = slow.to_ascii_lowercase();
                }
                assert_eq!(fast, slow, "{:?} with {options:?}", String::from_utf8_lossy(path));
            }
        }
    }

    #[test]
    fn non_utf8_is_fine() {
        let path = [b'/', 0xff, 0xfe, b'/', b'.', b'.', b'/', 0x00];
        assert_eq!(normalize(&path, &NormalizeOptions::default()).as_ref(), &[b'/', 0x00][..]);
    }
}
