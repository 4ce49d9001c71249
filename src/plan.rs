//! What would be signed: the signing target of an IAM token, resolved from a JDBC URL.
//!
//! As the AWS JDBC wrapper's IAM plugin does:
//! - the signing host is `iamHost` when given, else the URL's first host;
//! - the signing port is `iamDefaultPort` when given, else the first host's port (the engine's
//!   default port when the URL gives none);
//! - the region is `iamRegion` when given, else the region in the signing host's name; a host
//!   whose name carries no region (a tunnel, a custom DNS name, an IP address, an Aurora Global
//!   writer endpoint) needs `iamRegion`.
//!
//! [`PlanOverrides`] replace the URL's user and region (as the `token` example's `--user` and
//! `--region` do). Errors name URL parameters and these methods; a command adds its own flags.
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
//! assert_eq!(plan.signing_host, "my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com");
//! assert_eq!(plan.signing_port, 5432);
//! assert_eq!(plan.region, "us-east-1");
//! assert_eq!(plan.endpoint.kind, EndpointKind::ClusterWriter);
//! assert_eq!(plan.user, "harness_iam_user");
//! assert_eq!(plan.tls.mode(), TlsMode::Require);
//!
//! // A tunnel: the region must be given.
//! let tunnel = JdbcUrl::parse("jdbc:aws-wrapper:postgresql://localhost:15432/postgres?wrapperPlugins=iam&user=u")?;
//! let err = ConnectPlan::resolve(&tunnel, &PlanOverrides::new()).unwrap_err();
//! assert!(err.to_string().contains("iamRegion"));
//! let plan = ConnectPlan::resolve(&tunnel, &PlanOverrides::new().region("eu-west-1"))?;
//! assert_eq!(plan.region, "eu-west-1");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::endpoint::{self, EndpointKind, RdsEndpoint};
use crate::jdbc::{Engine, HostPort, JdbcUrl};
use crate::tls_mode::{EffectiveTls, TlsModeError};

/// Values that take precedence over the URL's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanOverrides {
    /// The database user (instead of the URL's `user`).
    pub user: Option<String>,
    /// The signing region (instead of `iamRegion` or the host's region).
    pub region: Option<String>,
}

impl PlanOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
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
}

/// Everything needed to sign an IAM token for a URL and to connect with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectPlan {
    /// The engine.
    pub engine: Engine,
    /// Whether the URL enables IAM authentication ([`JdbcUrl::is_iam`]).
    pub iam: bool,
    /// The hosts to connect to, in order.
    pub hosts: Vec<HostPort>,
    /// The database, if the URL names one.
    pub database: Option<String>,
    /// The database user the token is signed for.
    pub user: String,
    /// The host name the token is signed for.
    pub signing_host: String,
    /// The port the token is signed for.
    pub signing_port: u16,
    /// The AWS region the token is signed in (lower case).
    pub region: String,
    /// What the signing host is.
    pub endpoint: RdsEndpoint,
    /// The effective TLS mode and CA file.
    pub tls: EffectiveTls,
}

impl ConnectPlan {
    /// Resolve the plan of `url` with `overrides` applied. Pure: no I/O.
    pub fn resolve(url: &JdbcUrl, overrides: &PlanOverrides) -> Result<Self, PlanError> {
        let tls = EffectiveTls::resolve(url)?;
        let user = overrides
            .user
            .as_deref()
            .or(url.user())
            .filter(|u| !u.is_empty())
            .ok_or(PlanError::MissingUser)?
            .to_owned();

        let first = url.first_host().ok_or(PlanError::MissingHost)?;
        let signing_host = url.iam_host().unwrap_or(&first.host).to_owned();
        let signing_port = url.iam_default_port().unwrap_or(first.port);
        let endpoint = endpoint::classify(&signing_host);

        let region = match (&overrides.region, url.iam_region(), &endpoint.region) {
            (Some(region), _, _) => {
                let region = region.to_ascii_lowercase();
                if !crate::jdbc::is_region_token(&region) {
                    return Err(PlanError::InvalidRegionOverride);
                }
                region
            }
            (None, Some(region), _) => region.to_ascii_lowercase(),
            (None, None, Some(region)) => region.clone(),
            (None, None, None) if endpoint.kind == EndpointKind::GlobalWriter => {
                return Err(PlanError::GlobalEndpointNeedsRegion { host: signing_host });
            }
            (None, None, None) => return Err(PlanError::UnknownRegion { host: signing_host }),
        };

        Ok(Self {
            engine: url.engine(),
            iam: url.is_iam(),
            hosts: url.hosts().to_vec(),
            database: url.database().map(str::to_owned),
            user,
            signing_host,
            signing_port,
            region,
            endpoint,
            tls,
        })
    }
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The TLS settings are refused.
    #[error(transparent)]
    Tls(#[from] TlsModeError),
    /// No database user in the URL nor in the overrides.
    #[error(
        "no database user to sign the IAM token for: add user=NAME to the JDBC URL (or give it to \
         PlanOverrides::user or the connector builder's user method); it must match the user in \
         the IAM policy's rds-db:connect resource ARN"
    )]
    MissingUser,
    /// The URL has no host (cannot happen for a parsed URL; kept for completeness).
    #[error("the JDBC URL names no host: add one, as jdbc:aws-wrapper:ENGINE://HOST:PORT/DATABASE")]
    MissingHost,
    /// The signing host's name carries no region and none was given.
    #[error(
        "cannot tell the AWS region to sign the IAM token for `{host}`: it is not an RDS endpoint \
         name, so set iamRegion=REGION in the JDBC URL (or give it to PlanOverrides::region or the \
         connector builder's region method); tunnels, custom \
         DNS names and Aurora Global endpoints need it. RDS accepts only tokens signed for its own \
         endpoint name, so a token signed for a custom DNS name or tunnel address is not valid: \
         also set iamHost to the instance or cluster endpoint name"
    )]
    UnknownRegion {
        /// The signing host.
        host: String,
    },
    /// An Aurora Global writer endpoint and no region given.
    #[error(
        "`{host}` is an Aurora Global Database writer endpoint, whose name carries no region: set \
         iamRegion to the region of the current primary cluster in the JDBC URL (or give it to \
         PlanOverrides::region or the connector builder's region method)"
    )]
    GlobalEndpointNeedsRegion {
        /// The signing host.
        host: String,
    },
    /// The region override is not a region name.
    #[error(
        "the region override is not an AWS region name: use letters, digits and '-', such as us-east-1"
    )]
    InvalidRegionOverride,
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
        assert_eq!(
            (p.signing_host.as_str(), p.signing_port, p.region.as_str()),
            ("db.abc123.eu-west-3.rds.amazonaws.com", 3306, "eu-west-3")
        );
        assert_eq!(p.endpoint.kind, EndpointKind::Instance);
        assert_eq!(p.hosts[0].port, 13306);
    }

    #[test]
    fn overrides_win() {
        let p = plan(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/d?wrapperPlugins=iam&user=a&iamRegion=us-west-2",
            PlanOverrides::new().user("b").region("EU-WEST-1"),
        )
        .unwrap();
        assert_eq!((p.user.as_str(), p.region.as_str()), ("b", "eu-west-1"));
        let p = plan(
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/d?wrapperPlugins=iam&user=a&iamRegion=US-WEST-2",
            PlanOverrides::new(),
        )
        .unwrap();
        assert_eq!(p.region, "us-west-2");
    }

    #[test]
    fn errors_name_url_parameters_and_methods_not_flags() {
        for e in [
            PlanError::MissingUser,
            PlanError::UnknownRegion { host: "h".into() },
            PlanError::GlobalEndpointNeedsRegion { host: "h".into() },
            PlanError::MissingHost,
            PlanError::InvalidRegionOverride,
        ] {
            let message = e.to_string();
            assert!(!message.contains("--"), "a flag in: {message}");
        }
        assert!(
            PlanError::MissingUser
                .to_string()
                .contains("PlanOverrides::user")
        );
        assert!(
            PlanError::UnknownRegion { host: "h".into() }
                .to_string()
                .contains("PlanOverrides::region")
        );
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
        assert_eq!(e, PlanError::InvalidRegionOverride);
        let e = plan(
            "jdbc:aws-wrapper:postgresql://h/d?user=u&wrapperPlugins=iam&sslmode=disable",
            PlanOverrides::new(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("bearer secret"));
    }
}
