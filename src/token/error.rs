//! Why a token could not be signed.

use std::time::{Duration, SystemTime};

use super::date::Rfc3339;

/// Why a token could not be signed. Every message says what to change.
///
/// No variant carries a secret: the user name, credentials and signature never appear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The signing host is empty.
    #[error(
        "the signing host is empty; pass the database endpoint's DNS name \
         (e.g. mydb.cluster-abc123.us-east-1.rds.amazonaws.com)"
    )]
    EmptyHost,
    /// The signing host holds a character no host name has (a port, path, space, ...).
    #[error(
        "the signing host contains {found:?}, which no host name has; pass a DNS name, an IPv4 \
         address or an IPv6 address (with or without brackets), and the port in its own field"
    )]
    InvalidHost {
        /// The first offending character.
        found: char,
    },
    /// Port 0.
    #[error(
        "port 0 is not a database port; pass the port the database listens on (e.g. 5432 or 3306)"
    )]
    InvalidPort,
    /// The database user name is empty.
    #[error("the database user name is empty; pass the IAM-enabled database user to log in as")]
    EmptyUser,
    /// The region is empty.
    #[error(
        "the region is empty; pass the database's AWS region (e.g. us-east-1): \
         it is part of the signature and is never guessed"
    )]
    EmptyRegion,
    /// The region holds a character no AWS region name has.
    #[error(
        "the region contains {found:?}; AWS region names have only lower-case letters, \
         digits and '-' (e.g. us-east-1, cn-north-1, us-gov-west-1)"
    )]
    InvalidRegion {
        /// The first offending character.
        found: char,
    },
    /// The credentials' access key id or secret access key is empty.
    #[error(
        "the credentials have an empty access key id or secret access key; \
         check where they come from (environment variables, profile, role)"
    )]
    IncompleteCredentials,
    /// The credentials had expired at the signing instant: no database would accept a token
    /// signed with them (its real end, [`AuthToken::valid_until`](super::AuthToken::valid_until),
    /// would be before its start).
    #[error(
        "the AWS credentials expired at {}, at or before the signing time {}, so no database \
         would accept a token signed with them: sign with fresh credentials (fetch them again \
         from their source), or check the signing time",
        Rfc3339(*expiry),
        Rfc3339(*at)
    )]
    CredentialsExpired {
        /// When the credentials expired.
        expiry: SystemTime,
        /// The signing instant (whole seconds).
        at: SystemTime,
    },
    /// A DSQL token expiry outside 1 s ..= 604800 s, or not whole seconds.
    #[error(
        "DSQL token expiry {expires_in:?} is out of range: use whole seconds from 1 to \
         604800 (7 days); the default is 900 (15 minutes)"
    )]
    ExpiryOutOfRange {
        /// The rejected expiry.
        expires_in: Duration,
    },
    /// An unknown DSQL action name.
    #[error("unknown DSQL action {found:?}; use DbConnect or DbConnectAdmin")]
    UnknownDsqlAction {
        /// The rejected name.
        found: String,
    },
    /// The signing time is before the Unix epoch.
    #[error(
        "the signing time is before 1970-01-01T00:00:00Z; sign at the current time \
         (a Clock's now(), or SystemTime::now())"
    )]
    TimeBeforeEpoch,
    /// The signing time is after the year 9999, which SigV4 dates cannot express.
    #[error(
        "the signing time is after 9999-12-31T23:59:59Z, which SigV4 dates cannot express; \
         sign at the current time (a Clock's now(), or SystemTime::now())"
    )]
    TimeAfterYear9999,
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    /// Every message, pinned: what a user reads when a token cannot be signed.
    #[test]
    fn messages() {
        let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        for (e, text) in [
            (
                TokenError::EmptyHost,
                "the signing host is empty; pass the database endpoint's DNS name (e.g. \
                 mydb.cluster-abc123.us-east-1.rds.amazonaws.com)",
            ),
            (
                TokenError::InvalidHost { found: '/' },
                "the signing host contains '/', which no host name has; pass a DNS name, an IPv4 \
                 address or an IPv6 address (with or without brackets), and the port in its own \
                 field",
            ),
            (
                TokenError::InvalidPort,
                "port 0 is not a database port; pass the port the database listens on (e.g. \
                 5432 or 3306)",
            ),
            (
                TokenError::EmptyUser,
                "the database user name is empty; pass the IAM-enabled database user to log in as",
            ),
            (
                TokenError::EmptyRegion,
                "the region is empty; pass the database's AWS region (e.g. us-east-1): it is \
                 part of the signature and is never guessed",
            ),
            (
                TokenError::InvalidRegion { found: 'U' },
                "the region contains 'U'; AWS region names have only lower-case letters, digits \
                 and '-' (e.g. us-east-1, cn-north-1, us-gov-west-1)",
            ),
            (
                TokenError::IncompleteCredentials,
                "the credentials have an empty access key id or secret access key; check where \
                 they come from (environment variables, profile, role)",
            ),
            (
                TokenError::CredentialsExpired {
                    expiry: at(1_709_164_800),
                    at: at(1_709_164_801),
                },
                "the AWS credentials expired at 2024-02-29T00:00:00Z, at or before the signing \
                 time 2024-02-29T00:00:01Z, so no database would accept a token signed with \
                 them: sign with fresh credentials (fetch them again from their source), or \
                 check the signing time",
            ),
            (
                TokenError::ExpiryOutOfRange {
                    expires_in: Duration::from_secs(604_801),
                },
                "DSQL token expiry 604801s is out of range: use whole seconds from 1 to 604800 \
                 (7 days); the default is 900 (15 minutes)",
            ),
            (
                TokenError::UnknownDsqlAction {
                    found: "DbAdmin".into(),
                },
                "unknown DSQL action \"DbAdmin\"; use DbConnect or DbConnectAdmin",
            ),
            (
                TokenError::TimeBeforeEpoch,
                "the signing time is before 1970-01-01T00:00:00Z; sign at the current time (a \
                 Clock's now(), or SystemTime::now())",
            ),
            (
                TokenError::TimeAfterYear9999,
                "the signing time is after 9999-12-31T23:59:59Z, which SigV4 dates cannot \
                 express; sign at the current time (a Clock's now(), or SystemTime::now())",
            ),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }
}
