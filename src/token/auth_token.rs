//! The signed token: a secret with a lifetime.

use std::fmt;
use std::time::SystemTime;

use super::RedactedUrl;
use super::date::Rfc3339;
use crate::secret::REDACTED;

/// A signed IAM authentication token: the password for one database login.
///
/// It is a secret: `Debug` shows where and when it was signed but never the token text,
/// there is no `Display`, and the text is reached through [`AuthToken::expose`] (or
/// [`AuthToken::into_exposed`]). For logs, [`AuthToken::redacted`] shows the token with its
/// signature and session token hidden.
///
/// The token also knows its lifetime: [`AuthToken::expires_at`] (signing time plus the
/// token's expiry) and, when it was signed with temporary credentials, the credentials'
/// own expiry; [`AuthToken::valid_until`] is the earlier of the two.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthToken {
    token: String,
    /// Length of the `host[:port]` prefix of `token`.
    endpoint_len: usize,
    signed_at: SystemTime,
    expires_at: SystemTime,
    credentials_expiry: Option<SystemTime>,
}

impl AuthToken {
    pub(crate) fn new(
        token: String,
        endpoint_len: usize,
        signed_at: SystemTime,
        expires_at: SystemTime,
        credentials_expiry: Option<SystemTime>,
    ) -> Self {
        Self {
            token,
            endpoint_len,
            signed_at,
            expires_at,
            credentials_expiry,
        }
    }

    /// The token text, to send as the database password. The name is meant to be seen in
    /// review.
    pub fn expose(&self) -> &str {
        &self.token
    }

    /// The token text, by value.
    pub fn into_exposed(self) -> String {
        self.token
    }

    /// The token with `X-Amz-Signature` and `X-Amz-Security-Token` hidden, for logs.
    pub fn redacted(&self) -> RedactedUrl<'_> {
        RedactedUrl::new(&self.token)
    }

    /// The endpoint the token was signed for: `host:port` (RDS) or `host` (DSQL).
    pub fn endpoint(&self) -> &str {
        &self.token[..self.endpoint_len]
    }

    /// When the token was signed (its `X-Amz-Date`: whole seconds, sub-seconds dropped).
    pub fn signed_at(&self) -> SystemTime {
        self.signed_at
    }

    /// When the token itself expires: [`AuthToken::signed_at`] plus its expiry (900 s for
    /// RDS).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// When the credentials that signed the token expire, if they are temporary. The
    /// database rejects the token after this instant even if the token has not expired.
    pub fn credentials_expiry(&self) -> Option<SystemTime> {
        self.credentials_expiry
    }

    /// The last instant the token can be used: the earlier of [`AuthToken::expires_at`] and
    /// [`AuthToken::credentials_expiry`].
    pub fn valid_until(&self) -> SystemTime {
        match self.credentials_expiry {
            Some(credentials) => credentials.min(self.expires_at),
            None => self.expires_at,
        }
    }
}

impl fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthToken")
            .field("endpoint", &self.endpoint())
            .field("signed_at", &Rfc3339(self.signed_at))
            .field("expires_at", &Rfc3339(self.expires_at))
            .field("credentials_expiry", &self.credentials_expiry.map(Rfc3339))
            .field("token", &format_args!("{REDACTED}"))
            .finish()
    }
}
