//! How long a token is reused and when it is refreshed ahead.

use std::time::{Duration, SystemTime};

use crate::token::AuthToken;

/// How long a token is reused by default: 870 s, the AWS Advanced JDBC
/// Wrapper's `iamExpiration` default (15 minutes minus 30 s: its users saw
/// tokens used right at the 900 s edge rejected, aws-advanced-jdbc-wrapper
/// issue #612).
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(870);

/// How long before the end of its life a token stops being handed out, by
/// default: 30 s.
///
/// A token handed out still has to travel: the caller opens TCP, negotiates
/// TLS, and only then does the server check the token's date against its own
/// clock. The margin covers that trip (a connect timeout is typically 10-30 s;
/// a handshake that takes longer fails anyway) and clock skew between this
/// host and AWS (NTP and the Amazon Time Sync Service keep it well under a
/// second). With the default lifetime a token is handed out at most 840 s
/// after it was signed, 60 s before AWS stops accepting it; and never later
/// than 30 s before the temporary credentials that signed it expire (the
/// credentials cache refreshes them 5 minutes ahead, so this bound only bites
/// when that refresh keeps failing).
pub const DEFAULT_MARGIN: Duration = Duration::from_secs(30);

/// The share of a token's reuse window after which it is refreshed ahead by
/// default: 2/3 (560 s into the 840 s of the defaults).
pub const DEFAULT_REFRESH_FRACTION: f64 = 2.0 / 3.0;

/// When a cached token is refreshed ahead of the end of its reuse window.
///
/// Callers keep getting the current token at once while one refresh runs.
/// `From<f64>` and `From<Duration>` let the builder take either form:
///
/// ```
/// use rds_iam::provider::RefreshAhead;
/// use std::time::Duration;
///
/// assert_eq!(RefreshAhead::from(0.5), RefreshAhead::AtFraction(0.5));
/// assert_eq!(
///     RefreshAhead::from(Duration::from_secs(120)),
///     RefreshAhead::Before(Duration::from_secs(120))
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum RefreshAhead {
    /// Never: a new token is minted only when the cached one is no longer
    /// handed out (a caller then waits for it).
    Disabled,
    /// Once this share (0.0 to 1.0) of the reuse window (from signing to the
    /// last instant the token is handed out) has passed. Values outside 0..=1
    /// are clamped; NaN means [`DEFAULT_REFRESH_FRACTION`].
    AtFraction(f64),
    /// This long before the end of the reuse window (at the latest when the
    /// token is signed).
    Before(Duration),
}

impl Default for RefreshAhead {
    fn default() -> Self {
        Self::AtFraction(DEFAULT_REFRESH_FRACTION)
    }
}

impl From<f64> for RefreshAhead {
    fn from(fraction: f64) -> Self {
        Self::AtFraction(fraction)
    }
}

impl From<Duration> for RefreshAhead {
    fn from(before: Duration) -> Self {
        Self::Before(before)
    }
}

/// The reuse rules of one provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Policy {
    pub(crate) lifetime: Duration,
    pub(crate) margin: Duration,
    pub(crate) refresh_ahead: RefreshAhead,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            lifetime: DEFAULT_LIFETIME,
            margin: DEFAULT_MARGIN,
            refresh_ahead: RefreshAhead::default(),
        }
    }
}

/// When a freshly signed token is handed out until, and refreshed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    /// The token is handed out while `now < reuse_until`.
    pub(crate) reuse_until: SystemTime,
    /// A refresh is started by the first caller at or after this instant.
    pub(crate) refresh_at: Option<SystemTime>,
}

impl Policy {
    /// Whether tokens are reused at all (`lifetime` zero: every call mints).
    pub(crate) fn reuses(&self) -> bool {
        !self.lifetime.is_zero()
    }

    /// The window of `token`: handed out until
    /// `min(signed_at + lifetime, valid_until) - margin`, where `valid_until`
    /// is the earlier of the token's own expiry and its credentials' expiry.
    /// A lifetime shorter than twice the margin (say `iamExpiration=20`) is
    /// far from the token's real expiry, so against the lifetime the margin
    /// shrinks to half of it; against `valid_until` it always applies.
    pub(crate) fn window(&self, token: &AuthToken) -> Window {
        let signed = token.signed_at();
        let lifetime_margin = self.margin.min(self.lifetime / 2);
        let by_lifetime = signed + (self.lifetime - lifetime_margin);
        let by_validity = token
            .valid_until()
            .checked_sub(self.margin)
            .unwrap_or(signed)
            .max(signed);
        let reuse_until = by_lifetime.min(by_validity);
        let span = reuse_until.duration_since(signed).unwrap_or_default();
        let refresh_at = match self.refresh_ahead {
            RefreshAhead::Disabled => None,
            RefreshAhead::AtFraction(f) => {
                let f = if f.is_nan() {
                    DEFAULT_REFRESH_FRACTION
                } else {
                    f.clamp(0.0, 1.0)
                };
                Some(signed + span.mul_f64(f))
            }
            RefreshAhead::Before(before) => Some(signed + span.saturating_sub(before)),
        };
        Window {
            reuse_until,
            refresh_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_credential_types::Credentials;
    use std::time::UNIX_EPOCH;

    use crate::token::{RdsTokenParams, sign_rds_token};

    const T0: u64 = 1_893_456_000;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0 + secs)
    }

    fn token(credentials_expiry: Option<SystemTime>) -> AuthToken {
        let params = RdsTokenParams::new("db.example.com", 5432, "app", "us-east-1");
        let creds = Credentials::new("AKID", "SECRET", None, credentials_expiry, "test");
        sign_rds_token(&params, &creds, at(0)).unwrap()
    }

    #[test]
    fn defaults_reuse_840_s_and_refresh_at_560_s() {
        let w = Policy::default().window(&token(None));
        assert_eq!(w.reuse_until, at(840));
        assert_eq!(w.refresh_at, Some(at(560)));
    }

    #[test]
    fn credentials_expiring_first_shorten_the_window() {
        let w = Policy::default().window(&token(Some(at(600))));
        assert_eq!(w.reuse_until, at(570));
        assert_eq!(w.refresh_at, Some(at(380)));
    }

    #[test]
    fn credentials_expiring_within_the_margin_leave_no_window() {
        let w = Policy::default().window(&token(Some(at(20))));
        assert_eq!(w.reuse_until, at(0));
    }

    #[test]
    fn lifetime_900_still_keeps_the_margin_to_the_token_expiry() {
        let policy = Policy {
            lifetime: Duration::from_secs(900),
            ..Policy::default()
        };
        assert_eq!(policy.window(&token(None)).reuse_until, at(870));
    }

    #[test]
    fn short_lifetimes_halve_the_margin() {
        let policy = Policy {
            lifetime: Duration::from_secs(20),
            ..Policy::default()
        };
        assert_eq!(policy.window(&token(None)).reuse_until, at(10));
        assert!(policy.reuses());
        let zero = Policy {
            lifetime: Duration::ZERO,
            ..Policy::default()
        };
        assert!(!zero.reuses());
    }

    #[test]
    fn refresh_ahead_forms() {
        let mut policy = Policy {
            refresh_ahead: RefreshAhead::Before(Duration::from_secs(120)),
            ..Policy::default()
        };
        assert_eq!(policy.window(&token(None)).refresh_at, Some(at(720)));
        policy.refresh_ahead = RefreshAhead::Before(Duration::from_secs(5000));
        assert_eq!(policy.window(&token(None)).refresh_at, Some(at(0)));
        policy.refresh_ahead = RefreshAhead::AtFraction(2.0);
        assert_eq!(policy.window(&token(None)).refresh_at, Some(at(840)));
        policy.refresh_ahead = RefreshAhead::AtFraction(f64::NAN);
        assert_eq!(policy.window(&token(None)).refresh_at, Some(at(560)));
        policy.refresh_ahead = RefreshAhead::Disabled;
        assert_eq!(policy.window(&token(None)).refresh_at, None);
    }
}
