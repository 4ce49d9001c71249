//! Log-safe rendering of presigned URLs and tokens.

use std::fmt;

use crate::secret::REDACTED;

/// Query keys whose values are secret in a presigned URL.
const SECRET_KEYS: [&str; 2] = ["X-Amz-Signature", "X-Amz-Security-Token"];

/// A presigned URL or token, shown with the values of `X-Amz-Signature` and
/// `X-Amz-Security-Token` replaced by `***`, for logs and error reports.
///
/// Everything else (host, port, user, access key id, date, expiry) stays readable, which is
/// what one needs to debug a rejected token. Keys are matched without regard to case.
///
/// ```
/// use rds_iam::token::RedactedUrl;
///
/// let url = "db:5432/?Action=connect&X-Amz-Security-Token=abc%2F&X-Amz-Signature=0123";
/// assert_eq!(
///     RedactedUrl::new(url).to_string(),
///     "db:5432/?Action=connect&X-Amz-Security-Token=***&X-Amz-Signature=***"
/// );
/// ```
#[derive(Clone, Copy)]
pub struct RedactedUrl<'a>(&'a str);

impl<'a> RedactedUrl<'a> {
    /// Wrap a presigned URL or token for printing.
    pub fn new(url: &'a str) -> Self {
        Self(url)
    }
}

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((base, query)) = self.0.split_once('?') else {
            return f.write_str(self.0);
        };
        // Keep any `#fragment` apart so that it cannot hide a value's end.
        let (query, fragment) = match query.split_once('#') {
            Some((query, fragment)) => (query, Some(fragment)),
            None => (query, None),
        };
        f.write_str(base)?;
        f.write_str("?")?;
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            let key = pair.split_once('=').map_or(pair, |(key, _)| key);
            if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(key)) {
                write!(f, "{key}={REDACTED}")?;
            } else {
                f.write_str(pair)?;
            }
        }
        if let Some(fragment) = fragment {
            write!(f, "#{fragment}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedactedUrl(\"{self}\")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_signature_and_session_token_only() {
        let url = "h:1/?Action=connect&DBUser=u&X-Amz-Credential=AKID%2F20240229&\
                   X-Amz-Security-Token=SECRET%2Btoken&X-Amz-Signature=deadbeef";
        let shown = RedactedUrl::new(url).to_string();
        assert_eq!(
            shown,
            "h:1/?Action=connect&DBUser=u&X-Amz-Credential=AKID%2F20240229&\
             X-Amz-Security-Token=***&X-Amz-Signature=***"
        );
        assert_eq!(
            format!("{:?}", RedactedUrl::new(url)),
            format!("RedactedUrl(\"{shown}\")")
        );
    }

    #[test]
    fn keys_match_without_case_and_without_value() {
        let url = "https://h/?x-amz-signature=abc&X-AMZ-SECURITY-TOKEN&a=b#frag";
        assert_eq!(
            RedactedUrl::new(url).to_string(),
            "https://h/?x-amz-signature=***&X-AMZ-SECURITY-TOKEN=***&a=b#frag"
        );
    }

    #[test]
    fn text_without_query_is_unchanged() {
        assert_eq!(RedactedUrl::new("db:5432/").to_string(), "db:5432/");
    }
}
