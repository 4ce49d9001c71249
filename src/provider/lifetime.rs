//! How long a token is reused and when it is refreshed ahead.

use std::sync::Arc;
use std::time::Duration;

use super::ProvidedToken;
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

/// How long a key may go unused before its entry is dropped, by default: 15
/// minutes (longer than a token is handed out).
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(15 * 60);

/// How many keys of each kind (RDS, DSQL) the cache holds at most, by
/// default. An entry is about 1 KB (its token and parameters).
pub const DEFAULT_CAPACITY: usize = 1024;

/// The share of a token's reuse window after which it is refreshed ahead by
/// default: 2/3 (560 s into the 840 s of the defaults).
pub const DEFAULT_REFRESH_FRACTION: f64 = 2.0 / 3.0;

/// When a cached token is refreshed ahead of the end of its reuse window.
///
/// `From<f64>` and `From<Duration>` let the builder take either form.
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

/// The reuse rules and bounds of one provider.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) lifetime: Duration,
    pub(crate) margin: Duration,
    pub(crate) refresh_ahead: RefreshAhead,
    pub(crate) max_idle: Duration,
    /// Keys of each kind.
    pub(crate) capacity: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            lifetime: DEFAULT_LIFETIME,
            margin: DEFAULT_MARGIN,
            refresh_ahead: RefreshAhead::default(),
            max_idle: DEFAULT_MAX_IDLE,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl Policy {
    /// `token` as the cache hands it out: while `now < reuse_until`, where
    /// `reuse_until = min(signed_at + lifetime, valid_until) - margin`, and
    /// refreshed ahead from `refresh_at`.
    /// A lifetime shorter than twice the margin (say `iamExpiration=20`) is
    /// far from the token's real expiry, so against the lifetime the margin
    /// shrinks to half of it; against `valid_until` it always applies.
    pub(crate) fn hand_out(&self, token: AuthToken) -> ProvidedToken {
        let signed = token.signed_at();
        let lifetime_margin = self.margin.min(self.lifetime / 2);
        let by_lifetime = signed + (self.lifetime - lifetime_margin);
        let by_validity = token.valid_until().checked_sub(self.margin);
        let by_validity = by_validity.unwrap_or(signed).max(signed);
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
        let (token, from_cache) = (Arc::new(token), false);
        ProvidedToken {
            token,
            reuse_until,
            refresh_at,
            from_cache,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::{RdsTokenParams, sign_rds_token};
    use aws_credential_types::Credentials;
    use std::time::{SystemTime, UNIX_EPOCH};

    fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_893_456_000) + Duration::from_secs_f64(secs)
    }

    #[test]
    fn windows_follow_lifetime_credentials_margin_and_refresh_ahead() {
        let (fraction, default) = (RefreshAhead::AtFraction, RefreshAhead::default());
        let before = |secs| RefreshAhead::Before(Duration::from_secs(secs));
        // Lifetime, refresh ahead, credentials expiry, then reuse_until and
        // refresh_at (seconds after signing).
        let cases = [
            (870, default, None, 840.0, Some(560.0)),
            // Credentials expiring first shorten the window; within the margin, leave none.
            (870, default, Some(600.0), 570.0, Some(380.0)),
            (870, default, Some(20.0), 0.0, Some(0.0)),
            // 900 s still keeps the margin to the token's expiry; 20 s halves the margin.
            (900, default, None, 870.0, Some(580.0)),
            (20, fraction(0.5), None, 10.0, Some(5.0)),
            (870, before(120), None, 840.0, Some(720.0)),
            (870, before(5000), None, 840.0, Some(0.0)),
            (870, fraction(2.0), None, 840.0, Some(840.0)),
            (870, fraction(f64::NAN), None, 840.0, Some(560.0)),
            (870, RefreshAhead::Disabled, None, 840.0, None),
        ];
        let params = RdsTokenParams::new("db.example.com", 5432, "app", "us-east-1");
        for (n, (lifetime, refresh_ahead, expiry, reuse_until, refresh_at)) in
            cases.into_iter().enumerate()
        {
            let lifetime = Duration::from_secs(lifetime);
            let policy = Policy {
                lifetime,
                refresh_ahead,
                ..Policy::default()
            };
            let creds = Credentials::new("AKID", "SECRET", None, expiry.map(at), "test");
            let token = sign_rds_token(&params, &creds, at(0.0)).unwrap();
            let token = policy.hand_out(token);
            let expected = (at(reuse_until), refresh_at.map(at));
            assert_eq!((token.reuse_until, token.refresh_at), expected, "case {n}");
        }
    }
}
