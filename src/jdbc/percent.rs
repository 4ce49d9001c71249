//! Percent decoding (strict: a malformed escape is an error) and encoding.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything except RFC 3986 unreserved characters is escaped on output.
const ESCAPED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why decoding failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// `%` not followed by two hex digits.
    Malformed,
    /// The bytes are not UTF-8.
    NotUtf8,
}

/// Decode `%XX` escapes; with `plus_is_space`, `+` is a space (query-string rules, as
/// `java.net.URLDecoder` and the AWS JDBC wrapper decode parameter values).
pub(crate) fn decode(input: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let needs_decoding = input.contains('%') || (plus_is_space && input.contains('+'));
    if !needs_decoding {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(DecodeError::Malformed),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Escape everything but unreserved characters, so that [`decode`] (in either mode) gives the
/// input back.
pub(crate) fn encode(input: &str) -> impl std::fmt::Display + '_ {
    utf8_percent_encode(input, ESCAPED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_plus() {
        assert_eq!(decode("my%20db", false).as_deref(), Ok("my db"));
        assert_eq!(decode("a+b", false).as_deref(), Ok("a+b"));
        assert_eq!(decode("a+b", true).as_deref(), Ok("a b"));
        assert_eq!(decode("a%2Bb", true).as_deref(), Ok("a+b"));
        assert_eq!(decode("%C3%A9t%c3%a9", true).as_deref(), Ok("été"));
    }

    #[test]
    fn malformed_escapes_are_errors() {
        for bad in ["100%", "%", "%2", "%zz", "a%g1", "%%41"] {
            assert_eq!(decode(bad, true), Err(DecodeError::Malformed), "{bad}");
        }
        assert_eq!(decode("%ff%fe", false), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn encode_round_trips() {
        for s in ["plain", "a b+c%d&e=f?g/h#i", "été ✓", ""] {
            let e = encode(s).to_string();
            assert_eq!(decode(&e, true).as_deref(), Ok(s));
            assert_eq!(decode(&e, false).as_deref(), Ok(s));
        }
    }
}
