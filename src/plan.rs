//! What is dialled, signed and verified: the one place that turns a JDBC URL (or a connector
//! builder's settings) into the targets to try.
//!
//! For each host of the URL, in order, a [`Target`] says:
//! - what is **dialled**: the host and port as the URL writes them;
//! - what the token is **signed for** and the certificate **verified for**: `iamHost` when
//!   given (a tunnel, an IP address, a custom DNS name), else the dialled host, written without
//!   a trailing root dot and without IPv6 brackets (RDS, libpq and pgjdbc all refuse a token
//!   signed for `name.` with the dot); the port is `iamDefaultPort`, else the dialled port;
//! - the **region**: `iamRegion`, else the region in the signing host's name; a name that
//!   carries none (a tunnel, a custom DNS name, an IP address, an Aurora Global writer
//!   endpoint) needs `iamRegion`;
//! - the **user**, which every target shares.
//!
//! [`PlanOverrides`] replace any of these (user, region, signing host and port), as the
//! connector builders' methods and the commands' flags do. The token command, both connectors
//! and everything built on them get their targets from [`targets`], so a bad region is the same
//! error wherever it comes from.
//!
//! ```
//! use rds_iam::endpoint::EndpointKind;
//! use rds_iam::jdbc::JdbcUrl;
//! use rds_iam::plan::{ConnectPlan, PlanOverrides};
//! use rds_iam::tls_mode::TlsMode;
//!
//! let url = JdbcUrl::parse(
//!     "jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres\
//!      ?wrapperPlugins=iam&ssl=true&sslmode=require&user=harness_iam_user",
//! )?;
//! let plan = ConnectPlan::resolve(&url, &PlanOverrides::new())?;
//! let target = plan.first();
//! assert_eq!(target.token.host, "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com");
//! assert_eq!(target.token.port, 5432);
//! assert_eq!(target.token.region, "us-east-1");
//! assert_eq!(target.endpoint.kind, EndpointKind::ClusterWriter);
//! assert_eq!(plan.user, "harness_iam_user");
//! assert_eq!(plan.tls.mode(), TlsMode::Require);
//!
//! // A tunnel: dial localhost, sign and verify the RDS name, in its region.
//! let tunnel = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://localhost:15432/postgres?wrapperPlugins=iam&user=u")?;
//! let err = ConnectPlan::resolve(&tunnel, &PlanOverrides::new()).unwrap_err();
//! assert!(err.to_string().contains("iamRegion"));
//! let plan = ConnectPlan::resolve(
//!     &tunnel,
//!     &PlanOverrides::new().iam_host("mydb.abc123.eu-west-1.rds.amazonaws.com").iam_port(5432),
//! )?;
//! assert_eq!(plan.first().to_string(), "localhost:15432 (as mydb.abc123.eu-west-1.rds.amazonaws.com)");
//! assert_eq!(plan.first().token.region, "eu-west-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use crate::endpoint::{self, EndpointKind, RdsEndpoint};
use crate::jdbc::{Engine, HostPort, JdbcUrl};
use crate::tls_mode::{EffectiveTls, TlsModeError};
use crate::token::RdsTokenParams;

/// What the token is signed for, where given: each field replaces the URL's (`user`,
/// `iamRegion`, `iamHost`, `iamDefaultPort`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOverrides {
    /// The database user (instead of the URL's `user`).
    pub user: Option<String>,
    /// The signing region (instead of `iamRegion` or the host's region).
    pub region: Option<String>,
    /// The host name signed for and verified (instead of `iamHost` or the dialled host).
    pub iam_host: Option<String>,
    /// The port signed for (instead of `iamDefaultPort` or the dialled port).
    pub iam_port: Option<u16>,
}

impl PlanOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// The URL's own settings: `user`, `iamRegion`, `iamHost`, `iamDefaultPort`.
    pub(crate) fn from_url(url: &JdbcUrl) -> Self {
        Self {
            user: url.user().map(str::to_owned),
            region: url.iam_region().map(str::to_owned),
            iam_host: url.iam_host().map(str::to_owned),
            iam_port: url.iam_default_port(),
        }
    }

    /// These overrides, and `fallback`'s values where these give none.
    pub(crate) fn or(self, fallback: Self) -> Self {
        Self {
            user: self.user.or(fallback.user),
            region: self.region.or(fallback.region),
            iam_host: self.iam_host.or(fallback.iam_host),
            iam_port: self.iam_port.or(fallback.iam_port),
        }
    }

    /// Override the database user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }

    /// Override the signing region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Override the host name signed for and verified (as `iamHost`).
    pub fn iam_host(mut self, host: impl Into<String>) -> Self {
        self.iam_host = Some(host.into());
        self
    }

    /// Override the port signed for (as `iamDefaultPort`).
    pub fn iam_port(mut self, port: u16) -> Self {
        self.iam_port = Some(port);
        self
    }
}

/// One host to try: what is dialled, and what its token is signed for and its certificate
/// verified for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The address dialled (the URL's host and port).
    pub dial: HostPort,
    /// What the token is signed for: host (also the name the certificate must carry, and the
    /// TLS SNI), port, user, region.
    pub token: RdsTokenParams,
    /// What the signing host is.
    pub endpoint: RdsEndpoint,
}

impl Target {
    /// The name the server certificate must carry: the signing host.
    pub fn tls_name(&self) -> &str {
        &self.token.host
    }

    /// Whether the certificate is checked for another name than the one dialled (`iamHost`, or
    /// a name written with a trailing dot).
    pub fn verifies_another_name(&self) -> bool {
        self.token.host != self.dial.host
    }
}

impl fmt::Display for Target {
    /// `host:port`, with `(as NAME)` when the certificate and token name another host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dial)?;
        if self.verifies_another_name() {
            write!(f, " (as {})", self.token.host)?;
        }
        Ok(())
    }
}

/// The targets for `hosts` (in order), signed as `signing` says: the one place that decides
/// what is dialled, signed and verified (see the [module docs](self)).
///
/// ```
/// use rds_iam::jdbc::HostPort;
/// use rds_iam::plan::{PlanError, PlanOverrides, targets};
///
/// let hosts = [HostPort { host: "db.abc123.eu-west-1.rds.amazonaws.com.".into(), port: 5432 }];
/// let t = targets(&hosts, &PlanOverrides::new().user("app"))?;
/// assert_eq!(t[0].token.host, "db.abc123.eu-west-1.rds.amazonaws.com"); // no root dot
/// assert_eq!(t[0].token.region, "eu-west-1");
///
/// let bad = targets(&hosts, &PlanOverrides::new().user("app").region("eu west"));
/// assert_eq!(bad.unwrap_err(), PlanError::InvalidRegion);
/// # Ok::<(), PlanError>(())
/// ```
pub fn targets(hosts: &[HostPort], signing: &PlanOverrides) -> Result<Vec<Target>, PlanError> {
    let user = signing
        .user
        .as_deref()
        .filter(|u| !u.is_empty())
        .ok_or(PlanError::MissingUser)?;
    let region = match signing.region.as_deref() {
        Some(region) if crate::jdbc::is_region_token(region) => Some(region.to_ascii_lowercase()),
        Some(_) => return Err(PlanError::InvalidRegion),
        None => None,
    };
    let iam_host = signing.iam_host.as_deref().filter(|h| !h.is_empty());
    hosts
        .iter()
        .map(|dial| {
            let signing_host = signing_name(iam_host.unwrap_or(&dial.host));
            let endpoint = endpoint::classify(&signing_host);
            let region = match (&region, &endpoint.region) {
                (Some(region), _) | (None, Some(region)) => region.clone(),
                (None, None) if endpoint.kind == EndpointKind::GlobalWriter => {
                    return Err(PlanError::GlobalEndpointNeedsRegion { host: signing_host });
                }
                (None, None) => return Err(PlanError::UnknownRegion { host: signing_host }),
            };
            let port = signing.iam_port.unwrap_or(dial.port);
            Ok(Target {
                dial: dial.clone(),
                token: RdsTokenParams::new(signing_host, port, user, region),
                endpoint,
            })
        })
        .collect()
}

/// The name a token is signed for and a certificate checked against: without one trailing root
/// dot, and an IPv6 address without brackets.
fn signing_name(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .to_owned()
}

/// Everything needed to sign IAM tokens for a URL and to connect with them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectPlan {
    /// The engine.
    pub engine: Engine,
    /// Whether the URL enables IAM authentication ([`JdbcUrl::is_iam`]).
    pub iam: bool,
    /// The database, if the URL names one.
    pub database: Option<String>,
    /// The database user the tokens are signed for.
    pub user: String,
    /// The effective TLS mode and CA file.
    pub tls: EffectiveTls,
    /// The hosts to try, in order (never empty).
    pub targets: Vec<Target>,
}

impl ConnectPlan {
    /// The plan of `url` with `overrides` applied. Pure: no I/O.
    pub fn resolve(url: &JdbcUrl, overrides: &PlanOverrides) -> Result<Self, PlanError> {
        let tls = EffectiveTls::resolve(url)?;
        let signing = overrides.clone().or(PlanOverrides::from_url(url));
        let targets = targets(url.hosts(), &signing)?;
        Ok(Self {
            engine: url.engine(),
            iam: url.is_iam(),
            database: url.database().map(str::to_owned),
            user: targets[0].token.user.clone(),
            tls,
            targets,
        })
    }

    /// The first target: the one a single token is minted for.
    pub fn first(&self) -> &Target {
        &self.targets[0]
    }
}

/// Refuse a URL that does not enable IAM authentication, saying what to add: minting a token
/// needs one, as in the AWS JDBC wrapper.
///
/// ```
/// use rds_iam::jdbc::JdbcUrl;
/// use rds_iam::plan::require_iam;
///
/// let plain = JdbcUrl::parse("jdbc:postgresql://db/app?user=u")?;
/// assert!(require_iam(&plain).unwrap_err().to_string().contains("jdbc:aws-wrapper:"));
/// let wrapper = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://db/app?user=u")?;
/// assert!(require_iam(&wrapper).unwrap_err().to_string().contains("wrapperPlugins=iam"));
/// # Ok::<(), rds_iam::jdbc::JdbcUrlError>(())
/// ```
pub fn require_iam(url: &JdbcUrl) -> Result<(), PlanError> {
    match (url.is_iam(), url.is_aws_wrapper()) {
        (true, _) => Ok(()),
        (false, true) => Err(PlanError::NotIam {
            fix: "add wrapperPlugins=iam to its query",
        }),
        (false, false) => Err(PlanError::NotIam {
            fix: "write it as jdbc:aws-wrapper:ENGINE://... (not jdbc:ENGINE://...) with \
                  wrapperPlugins=iam",
        }),
    }
}

/// Why no plan could be made. Messages name URL parameters and [`PlanOverrides`] methods (the
/// connector builders have methods of the same names); commands add their own flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The TLS settings are refused.
    #[error(transparent)]
    Tls(#[from] TlsModeError),
    /// The URL does not enable IAM authentication.
    #[error(
        "the JDBC URL does not enable IAM authentication, so it gets no IAM token: {fix}, e.g. \
         jdbc:aws-wrapper:postgresql://HOST:5432/DB?wrapperPlugins=iam&user=USER"
    )]
    NotIam {
        /// What to change.
        fix: &'static str,
    },
    /// No database user in the URL nor in the overrides.
    #[error(
        "no database user to sign the IAM token for: add user=NAME to the JDBC URL (or give it to \
         the user method of PlanOverrides or of the connector builder); it must match the user in \
         the IAM policy's rds-db:connect resource ARN"
    )]
    MissingUser,
    /// The signing host's name carries no region and none was given.
    #[error(
        "cannot tell the AWS region to sign the IAM token for `{host}`: it is not an RDS endpoint \
         name, so set iamRegion=REGION in the JDBC URL (or give it to the region method of \
         PlanOverrides or of the connector builder); tunnels, custom DNS names and Aurora Global \
         endpoints need it. RDS accepts only tokens signed for its own endpoint name, so a token \
         signed for a custom DNS name or tunnel address is not valid: also set iamHost to the \
         instance or cluster endpoint name"
    )]
    UnknownRegion {
        /// The signing host.
        host: String,
    },
    /// An Aurora Global writer endpoint and no region given.
    #[error(
        "`{host}` is an Aurora Global Database writer endpoint, whose name carries no region: set \
         iamRegion to the region of the current primary cluster in the JDBC URL (or give it to the \
         region method of PlanOverrides or of the connector builder)"
    )]
    GlobalEndpointNeedsRegion {
        /// The signing host.
        host: String,
    },
    /// The region given (to a builder or as an override) is not a region name.
    #[error(
        "the region given is not an AWS region name: use letters, digits and '-', such as \
         us-east-1 (the same rule as iamRegion in the URL)"
    )]
    InvalidRegion,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str, o: PlanOverrides) -> Result<ConnectPlan, PlanError> {
        ConnectPlan::resolve(&JdbcUrl::parse(url).unwrap(), &o)
    }

    #[test]
    fn iam_host_and_port_take_precedence() {
        let p = plan(
            "jdbc:aws-wrapper:mysql://127.0.0.1:13306/app?wrapperPlugins=iam&user=u\
             &iamHost=db.abc123.eu-west-3.rds.amazonaws.com&iamDefaultPort=3306",
            PlanOverrides::new(),
        )
        .unwrap();
        let t = p.first();
        assert_eq!(
            (t.token.host.as_str(), t.token.port, t.token.region.as_str()),
            ("db.abc123.eu-west-3.rds.amazonaws.com", 3306, "eu-west-3")
        );
        assert_eq!(t.endpoint.kind, EndpointKind::Instance);
        assert_eq!(t.dial.port, 13306);
        assert!(t.verifies_another_name());
        assert_eq!(t.tls_name(), "db.abc123.eu-west-3.rds.amazonaws.com");
    }

    #[test]
    fn each_host_signs_its_own_token() {
        let p = plan(
            "jdbc:aws-wrapper:postgresql://a.abc123.us-east-1.rds.amazonaws.com,\
             b.abc123.eu-west-1.rds.amazonaws.com:5433/app?wrapperPlugins=iam&user=u",
            PlanOverrides::new(),
        )
        .unwrap();
        assert_eq!(p.targets.len(), 2);
        assert_eq!(
            p.targets[1].token,
            RdsTokenParams::new(
                "b.abc123.eu-west-1.rds.amazonaws.com",
                5433,
                "u",
                "eu-west-1"
            )
        );
        assert_eq!(p.targets[0].token.region, "us-east-1");
        assert_eq!(
            p.targets[1].to_string(),
            "b.abc123.eu-west-1.rds.amazonaws.com:5433"
        );
    }

    #[test]
    fn overrides_win() {
        let p = plan(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/d?wrapperPlugins=iam&user=a&iamRegion=us-west-2",
            PlanOverrides::new().user("b").region("EU-WEST-1"),
        )
        .unwrap();
        assert_eq!(
            (p.user.as_str(), p.first().token.region.as_str()),
            ("b", "eu-west-1")
        );
        let p = plan(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/d?wrapperPlugins=iam&user=a&iamRegion=US-WEST-2",
            PlanOverrides::new(),
        )
        .unwrap();
        assert_eq!(p.first().token.region, "us-west-2");
        // An overriding signing host gives its own region, unless one is given.
        let p = plan(
            "jdbc:aws-wrapper:postgresql://localhost:15432/d?wrapperPlugins=iam&user=a",
            PlanOverrides::new().iam_host("db.abc123.ap-south-1.rds.amazonaws.com"),
        )
        .unwrap();
        assert_eq!(p.first().token.region, "ap-south-1");
        assert_eq!(p.first().token.port, 15432);
    }

    #[test]
    fn a_trailing_root_dot_is_not_signed_nor_verified() {
        for url in [
            "jdbc:aws-wrapper:postgresql://mydb.abc123.us-east-1.rds.amazonaws.com.:5432/d?user=u",
            "jdbc:aws-wrapper:postgresql://127.0.0.1:5432/d?user=u\
             &iamHost=mydb.abc123.us-east-1.rds.amazonaws.com.",
        ] {
            let p = plan(url, PlanOverrides::new()).unwrap();
            let t = p.first();
            assert_eq!(
                t.token.host, "mydb.abc123.us-east-1.rds.amazonaws.com",
                "{url}"
            );
            assert_eq!(t.tls_name(), "mydb.abc123.us-east-1.rds.amazonaws.com");
            assert_eq!(t.token.region, "us-east-1");
            assert!(t.verifies_another_name(), "{url}");
        }
    }

    #[test]
    fn ipv6_signing_hosts_have_one_form() {
        for url in [
            "jdbc:aws-wrapper:postgresql://[::1]:5432/d?user=u&iamRegion=us-east-1",
            "jdbc:aws-wrapper:postgresql://h:5432/d?user=u&iamRegion=us-east-1&iamHost=::1",
        ] {
            assert_eq!(
                plan(url, PlanOverrides::new()).unwrap().first().token.host,
                "::1"
            );
        }
        let p = plan(
            "jdbc:aws-wrapper:postgresql://h:5432/d?user=u&iamRegion=us-east-1",
            PlanOverrides::new().iam_host("[::1]"),
        )
        .unwrap();
        assert_eq!(p.first().token.host, "::1");
    }

    #[test]
    fn errors_name_the_fix() {
        let e = plan(
            "jdbc:aws-wrapper:postgresql://db.example.com/d?wrapperPlugins=iam",
            PlanOverrides::new(),
        )
        .unwrap_err();
        assert_eq!(e, PlanError::MissingUser);
        let e = plan(
            "jdbc:aws-wrapper:postgresql://db.example.com/d?user=u",
            PlanOverrides::new(),
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::UnknownRegion { .. }));
        assert!(e.to_string().contains("iamRegion") && e.to_string().contains("iamHost"));
        let e = plan(
            "jdbc:aws-wrapper:postgresql://g.global-abc.global.rds.amazonaws.com/d?user=u",
            PlanOverrides::new(),
        )
        .unwrap_err();
        assert!(matches!(e, PlanError::GlobalEndpointNeedsRegion { .. }));
        let e = plan(
            "jdbc:postgresql://h/d?user=u&iamRegion=x",
            PlanOverrides::new().region("us east"),
        )
        .unwrap_err();
        assert_eq!(e, PlanError::InvalidRegion);
        let e = plan(
            "jdbc:aws-wrapper:postgresql://h/d?user=u&wrapperPlugins=iam&sslmode=disable",
            PlanOverrides::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("bearer secret"));
    }

    /// Every message, pinned: what a user reads when the plan fails.
    #[test]
    fn messages() {
        let host = || "h.example.com".to_owned();
        for (e, text) in [
            (
                PlanError::NotIam {
                    fix: "add wrapperPlugins=iam to its query",
                },
                "the JDBC URL does not enable IAM authentication, so it gets no IAM token: add \
                 wrapperPlugins=iam to its query, e.g. \
                 jdbc:aws-wrapper:postgresql://HOST:5432/DB?wrapperPlugins=iam&user=USER",
            ),
            (
                PlanError::MissingUser,
                "no database user to sign the IAM token for: add user=NAME to the JDBC URL (or \
                 give it to the user method of PlanOverrides or of the connector builder); it \
                 must match the user in the IAM policy's rds-db:connect resource ARN",
            ),
            (
                PlanError::UnknownRegion { host: host() },
                "cannot tell the AWS region to sign the IAM token for `h.example.com`: it is not \
                 an RDS endpoint name, so set iamRegion=REGION in the JDBC URL (or give it to the \
                 region method of PlanOverrides or of the connector builder); tunnels, custom DNS \
                 names and Aurora Global endpoints need it. RDS accepts only tokens signed for \
                 its own endpoint name, so a token signed for a custom DNS name or tunnel address \
                 is not valid: also set iamHost to the instance or cluster endpoint name",
            ),
            (
                PlanError::GlobalEndpointNeedsRegion { host: host() },
                "`h.example.com` is an Aurora Global Database writer endpoint, whose name carries \
                 no region: set iamRegion to the region of the current primary cluster in the \
                 JDBC URL (or give it to the region method of PlanOverrides or of the connector \
                 builder)",
            ),
            (
                PlanError::NotIam {
                    fix: "write it as jdbc:aws-wrapper:ENGINE://... (not jdbc:ENGINE://...) with \
                          wrapperPlugins=iam",
                },
                "the JDBC URL does not enable IAM authentication, so it gets no IAM token: write \
                 it as jdbc:aws-wrapper:ENGINE://... (not jdbc:ENGINE://...) with \
                 wrapperPlugins=iam, e.g. \
                 jdbc:aws-wrapper:postgresql://HOST:5432/DB?wrapperPlugins=iam&user=USER",
            ),
            (
                PlanError::InvalidRegion,
                "the region given is not an AWS region name: use letters, digits and '-', such as \
                 us-east-1 (the same rule as iamRegion in the URL)",
            ),
        ] {
            assert_eq!(e.to_string(), text);
            assert!(
                !text.contains("--"),
                "a command's flag in a library error: {text}"
            );
        }
    }

    /// The fixes `require_iam` gives are the ones pinned above.
    #[test]
    fn require_iam_fixes() {
        for (url, fix) in [
            (
                "jdbc:aws-wrapper:postgresql://h/d?user=u",
                "add wrapperPlugins=iam to its query",
            ),
            (
                "jdbc:postgresql://h/d?user=u",
                "write it as jdbc:aws-wrapper:ENGINE://... (not jdbc:ENGINE://...) with \
                 wrapperPlugins=iam",
            ),
        ] {
            assert_eq!(
                require_iam(&JdbcUrl::parse(url).unwrap()),
                Err(PlanError::NotIam { fix })
            );
        }
    }

    /// A TLS refusal is shown as `TlsModeError` shows it, once: same text, same source.
    #[test]
    fn tls_errors_are_shown_once() {
        use std::error::Error as _;
        let inner = TlsModeError::ConflictingCaFiles;
        let e = PlanError::from(inner.clone());
        assert_eq!(e.to_string(), inner.to_string());
        assert!(e.source().is_none() && inner.source().is_none());
    }
}
