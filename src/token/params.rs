//! What a token is signed for: RDS (`rds-db:connect`) and Aurora DSQL targets.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::TokenError;

/// What an RDS / Aurora IAM token is signed for: `rds-db:connect` to `user` at
/// `host:port` in `region`.
///
/// Nothing here is secret, so `Debug` shows everything.
///
/// ```
/// use rds_iam::token::RdsTokenParams;
///
/// let p = RdsTokenParams::new("db.example.com", 5432, "app_user", "eu-west-1");
/// assert_eq!((p.host.as_str(), p.port), ("db.example.com", 5432));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RdsTokenParams {
    /// The host name the client connects to and signs for (a DNS name, an IPv4 address or an
    /// IPv6 address, with or without brackets: the token has it in brackets either way),
    /// without the port.
    pub host: String,
    /// The database port. It is always part of the token, even 443.
    pub port: u16,
    /// The database user name (any UTF-8 text; it is percent-encoded in the token).
    pub user: String,
    /// The AWS region of the database, e.g. `us-east-1`.
    pub region: String,
}

impl RdsTokenParams {
    /// How long an RDS token is valid after it is signed: 15 minutes.
    pub const LIFETIME: Duration = Duration::from_secs(900);

    /// Parameters for `user` at `host:port` in `region`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        region: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            user: user.into(),
            region: region.into(),
        }
    }
}

/// The Aurora DSQL action a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DsqlAction {
    /// `dsql:DbConnect`: connect as a custom database role.
    DbConnect,
    /// `dsql:DbConnectAdmin`: connect as the `admin` role.
    DbConnectAdmin,
}

impl DsqlAction {
    /// The action's name as it appears in the token (`DbConnect`, `DbConnectAdmin`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DbConnect => "DbConnect",
            Self::DbConnectAdmin => "DbConnectAdmin",
        }
    }
}

impl fmt::Display for DsqlAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DsqlAction {
    type Err = TokenError;

    /// Parse `DbConnect` or `DbConnectAdmin` (exact spelling, as botocore requires).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "DbConnect" => Ok(Self::DbConnect),
            "DbConnectAdmin" => Ok(Self::DbConnectAdmin),
            other => Err(TokenError::UnknownDsqlAction {
                found: other.to_owned(),
            }),
        }
    }
}

/// What an Aurora DSQL token is signed for: `action` on the cluster endpoint `host` in
/// `region`, valid for `expires_in`.
///
/// ```
/// use rds_iam::token::{DsqlAction, DsqlTokenParams};
/// use std::time::Duration;
///
/// let p = DsqlTokenParams::new("abc.dsql.us-east-1.on.aws", "us-east-1", DsqlAction::DbConnectAdmin);
/// assert_eq!(p.expires_in, DsqlTokenParams::DEFAULT_EXPIRES_IN);
/// let p = p.with_expires_in(Duration::from_secs(3600));
/// assert_eq!(p.expires_in.as_secs(), 3600);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DsqlTokenParams {
    /// The cluster endpoint host name (no port: DSQL tokens carry none).
    pub host: String,
    /// The AWS region of the cluster, e.g. `us-east-1`.
    pub region: String,
    /// Which connect action the token allows.
    pub action: DsqlAction,
    /// How long the token is valid: whole seconds from 1 to [`Self::MAX_EXPIRES_IN`].
    pub expires_in: Duration,
}

impl DsqlTokenParams {
    /// The default lifetime of a DSQL token: 900 seconds (15 minutes).
    pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(900);
    /// The longest lifetime a DSQL token can have: 604800 seconds (7 days).
    pub const MAX_EXPIRES_IN: Duration = Duration::from_secs(604_800);

    /// Parameters for `action` on `host` in `region`, valid for the default 900 seconds.
    pub fn new(host: impl Into<String>, region: impl Into<String>, action: DsqlAction) -> Self {
        Self {
            host: host.into(),
            region: region.into(),
            action,
            expires_in: Self::DEFAULT_EXPIRES_IN,
        }
    }

    /// The same parameters with another lifetime (checked when signing).
    #[must_use]
    pub fn with_expires_in(mut self, expires_in: Duration) -> Self {
        self.expires_in = expires_in;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsql_action_round_trips() {
        for action in [DsqlAction::DbConnect, DsqlAction::DbConnectAdmin] {
            assert_eq!(action.as_str().parse::<DsqlAction>(), Ok(action));
            assert_eq!(action.to_string(), action.as_str());
        }
        let err = "dbconnect".parse::<DsqlAction>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown DSQL action \"dbconnect\"; use DbConnect or DbConnectAdmin"
        );
    }
}
