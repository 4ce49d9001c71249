//! RFC 3986 percent-encoding of query values, as SigV4 wants it.
//!
//! The unreserved characters `A-Z a-z 0-9 - _ . ~` are kept; every other byte of the
//! value's UTF-8 form becomes `%XX` with upper-case hex. This is the encoding of botocore's
//! `percent_encode` (`urllib.parse.quote(value, safe="-_.~")`) and of the SigV4
//! specification, and unlike `application/x-www-form-urlencoded` it never turns a space
//! into `+`.

const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `UNRESERVED[b]`: whether byte `b` is kept as is. A table keeps the per-byte loops
/// branch-light: session tokens are about a kilobyte and go through here twice.
const UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        table[b] = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// Whether `byte` is an RFC 3986 unreserved character (kept as is).
pub(crate) const fn is_unreserved(byte: u8) -> bool {
    UNRESERVED[byte as usize]
}

/// The length of `value` once encoded.
pub(crate) fn encoded_len(value: &str) -> usize {
    let escaped: usize = value.bytes().map(|b| usize::from(!is_unreserved(b))).sum();
    value.len() + 2 * escaped
}

/// Append `value`, percent-encoded, to `out`.
pub(crate) fn push_encoded(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut rest = 0;
    // Copy runs of unreserved bytes in one go, then escape the byte that ends the run.
    while let Some(offset) = bytes[rest..].iter().position(|&b| !is_unreserved(b)) {
        let escape = rest + offset;
        if offset > 0 {
            // A non-empty run holds only ASCII bytes, so both of its ends are char
            // boundaries (an empty one may sit inside a multi-byte character).
            out.push_str(&value[rest..escape]);
        }
        let byte = bytes[escape];
        let hex = [
            b'%',
            UPPER_HEX[usize::from(byte >> 4)],
            UPPER_HEX[usize::from(byte & 0x0f)],
        ];
        out.push_str(std::str::from_utf8(&hex).expect("'%' and hex digits are ASCII"));
        rest = escape + 1;
    }
    out.push_str(&value[rest..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(value: &str) -> String {
        let mut out = String::new();
        push_encoded(&mut out, value);
        out
    }

    /// The straightforward reference: one byte at a time, through `format!`.
    fn reference(value: &str) -> String {
        let mut out = String::new();
        for byte in value.bytes() {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    }

    #[test]
    fn known_values() {
        assert_eq!(encode(""), "");
        assert_eq!(encode("harness_iam_user"), "harness_iam_user");
        assert_eq!(encode("Az09-_.~"), "Az09-_.~");
        assert_eq!(encode("name with space"), "name%20with%20space");
        assert_eq!(encode("a+b"), "a%2Bb");
        assert_eq!(encode("user@corp"), "user%40corp");
        assert_eq!(encode("ünï"), "%C3%BCn%C3%AF");
        assert_eq!(encode("sl/ash;semi&amp=eq"), "sl%2Fash%3Bsemi%26amp%3Deq");
        assert_eq!(encode("%"), "%25");
        assert_eq!(encode("😀"), "%F0%9F%98%80");
        assert_eq!(encode("\u{7f}\0"), "%7F%00");
    }

    #[test]
    fn appends_to_existing_text() {
        let mut out = String::from("DBUser=");
        push_encoded(&mut out, "a b");
        assert_eq!(out, "DBUser=a%20b");
    }

    proptest! {
        #[test]
        fn matches_reference(value in any::<String>()) {
            let encoded = encode(&value);
            prop_assert_eq!(&encoded, &reference(&value));
            prop_assert_eq!(encoded.len(), encoded_len(&value));
        }

        #[test]
        fn matches_percent_encoding_crate(value in "\\PC*") {
            const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'-')
                .remove(b'_')
                .remove(b'.')
                .remove(b'~');
            let expected = percent_encoding::utf8_percent_encode(&value, NOT_UNRESERVED).to_string();
            prop_assert_eq!(encode(&value), expected);
        }

        #[test]
        fn output_is_only_unreserved_or_escapes(value in any::<String>()) {
            let encoded = encode(&value);
            let bytes = encoded.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    prop_assert!(bytes[i + 1..i + 3].iter().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b)));
                    i += 3;
                } else {
                    prop_assert!(is_unreserved(bytes[i]));
                    i += 1;
                }
            }
        }
    }
}
