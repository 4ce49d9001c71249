//! What a cached token is for: the cache key, looked up by borrowed fields.
//!
//! A key is (kind, signing host, signing port, user, region); the credential
//! identity is the provider's own (see [`TokenProvider`](super::TokenProvider)).
//! A lookup hashes a [`KeyRef`] built from the caller's parameters without
//! allocating; the owned parameters live in the cache entry, made once per key.

use std::hash::{BuildHasher, Hash};
use std::time::Duration;

use crate::token::{DsqlAction, DsqlTokenParams, RdsTokenParams};

/// What kind of token: RDS `rds-db:connect` (the same token for PostgreSQL
/// and MySQL: the engine does not enter the signature) or Aurora DSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Rds,
    Dsql {
        action: DsqlAction,
        expires_in: Duration,
    },
}

/// A borrowed key, hashed and compared on every lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyRef<'a> {
    pub(crate) kind: Kind,
    pub(crate) host: &'a str,
    /// 0 for DSQL (its tokens carry no port).
    pub(crate) port: u16,
    /// Empty for DSQL (the action says who).
    pub(crate) user: &'a str,
    pub(crate) region: &'a str,
}

impl<'a> KeyRef<'a> {
    pub(crate) fn rds(params: &'a RdsTokenParams) -> Self {
        Self {
            kind: Kind::Rds,
            host: &params.host,
            port: params.port,
            user: &params.user,
            region: &params.region,
        }
    }

    pub(crate) fn dsql(params: &'a DsqlTokenParams) -> Self {
        Self {
            kind: Kind::Dsql {
                action: params.action,
                expires_in: params.expires_in,
            },
            host: &params.host,
            port: 0,
            user: "",
            region: &params.region,
        }
    }

    pub(crate) fn hash_with(&self, hasher: &impl BuildHasher) -> u64 {
        hasher.hash_one(self)
    }
}

/// The parameters to sign with, borrowed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TargetRef<'a> {
    Rds(&'a RdsTokenParams),
    Dsql(&'a DsqlTokenParams),
}

impl<'a> TargetRef<'a> {
    pub(crate) fn key(self) -> KeyRef<'a> {
        match self {
            Self::Rds(p) => KeyRef::rds(p),
            Self::Dsql(p) => KeyRef::dsql(p),
        }
    }

    pub(crate) fn to_owned(self) -> Target {
        match self {
            Self::Rds(p) => Target::Rds(p.clone()),
            Self::Dsql(p) => Target::Dsql(p.clone()),
        }
    }

    /// `host:port` or `host`, for logs and errors (nothing secret).
    pub(crate) fn endpoint(self) -> String {
        match self {
            Self::Rds(p) => format!("{}:{}", p.host, p.port),
            Self::Dsql(p) => p.host.clone(),
        }
    }

    /// The user (RDS) or the action (DSQL), for logs and errors.
    pub(crate) fn who(self) -> &'a str {
        match self {
            Self::Rds(p) => &p.user,
            Self::Dsql(p) => p.action.as_str(),
        }
    }

    pub(crate) fn region(self) -> &'a str {
        match self {
            Self::Rds(p) => &p.region,
            Self::Dsql(p) => &p.region,
        }
    }

    pub(crate) fn kind_name(self) -> &'static str {
        match self {
            Self::Rds(_) => "rds",
            Self::Dsql(_) => "dsql",
        }
    }
}

/// The parameters to sign with, owned by a cache entry.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Rds(RdsTokenParams),
    Dsql(DsqlTokenParams),
}

impl Target {
    pub(crate) fn as_ref(&self) -> TargetRef<'_> {
        match self {
            Self::Rds(p) => TargetRef::Rds(p),
            Self::Dsql(p) => TargetRef::Dsql(p),
        }
    }

    pub(crate) fn key(&self) -> KeyRef<'_> {
        self.as_ref().key()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::DefaultHashBuilder;

    #[test]
    fn owned_and_borrowed_keys_agree() {
        let hasher = DefaultHashBuilder::default();
        let params = RdsTokenParams::new("db.example.com", 5432, "app", "eu-west-1");
        let owned = Target::Rds(params.clone());
        assert_eq!(owned.key(), KeyRef::rds(&params));
        assert_eq!(
            owned.key().hash_with(&hasher),
            KeyRef::rds(&params).hash_with(&hasher)
        );
    }

    #[test]
    fn every_field_is_part_of_the_key() {
        let base = RdsTokenParams::new("db.example.com", 5432, "app", "eu-west-1");
        let variants = [
            RdsTokenParams::new("db2.example.com", 5432, "app", "eu-west-1"),
            RdsTokenParams::new("db.example.com", 5433, "app", "eu-west-1"),
            RdsTokenParams::new("db.example.com", 5432, "app2", "eu-west-1"),
            RdsTokenParams::new("db.example.com", 5432, "app", "eu-west-2"),
        ];
        for v in &variants {
            assert_ne!(KeyRef::rds(&base), KeyRef::rds(v));
        }
        let dsql = DsqlTokenParams::new("db.example.com", "eu-west-1", DsqlAction::DbConnect);
        assert_ne!(KeyRef::dsql(&dsql), KeyRef::rds(&base));
        let admin = DsqlTokenParams::new("db.example.com", "eu-west-1", DsqlAction::DbConnectAdmin);
        assert_ne!(KeyRef::dsql(&dsql), KeyRef::dsql(&admin));
        let longer = dsql.clone().with_expires_in(Duration::from_secs(3600));
        assert_ne!(KeyRef::dsql(&dsql), KeyRef::dsql(&longer));
    }
}
