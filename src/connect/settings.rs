//! What a connector was configured with, and the targets it derives: for each host, where to
//! dial, which name the certificate must carry, and what the token is signed for.

use std::fmt;
use std::time::Duration;

use crate::endpoint::{self, EndpointKind};
use crate::jdbc::{Engine, HostPort, JdbcUrl};
use crate::plan::PlanError;
use crate::tls::{CaSource, TrustConfig};
use crate::tls_mode::{EffectiveTls, TlsMode};
use crate::token::RdsTokenParams;

use super::ConnectError;

/// The settings shared by the PostgreSQL and MySQL connector builders.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) hosts: Vec<HostPort>,
    pub(crate) iam_host: Option<String>,
    pub(crate) iam_port: Option<u16>,
    /// `iamRegion` or the builder's region.
    pub(crate) region: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) database: Option<String>,
    pub(crate) mode: TlsMode,
    pub(crate) trust: TrustConfig,
    pub(crate) connect_timeout: Option<Duration>,
    /// `iamExpiration`: the lifetime of the default token provider.
    pub(crate) iam_expiration: Option<Duration>,
    /// The URL's other parameters, for the engine's pass-through.
    pub(crate) params: Vec<(String, String)>,
}

impl Settings {
    /// Settings for one host, verify-full, system roots.
    pub(crate) fn new(host: String, port: u16) -> Self {
        Self {
            hosts: vec![HostPort { host, port }],
            iam_host: None,
            iam_port: None,
            region: None,
            user: None,
            database: None,
            mode: TlsMode::VerifyFull,
            trust: TrustConfig::new(),
            connect_timeout: None,
            iam_expiration: None,
            params: Vec::new(),
        }
    }

    /// The settings of `url`, which must be for one of `engines`.
    pub(crate) fn from_url(
        url: &JdbcUrl,
        connector: &'static str,
        engines: &[Engine],
    ) -> Result<Self, ConnectError> {
        if !engines.contains(&url.engine()) {
            return Err(ConnectError::WrongEngine {
                connector,
                found: url.engine(),
            });
        }
        let tls = EffectiveTls::resolve(url).map_err(|e| ConnectError::Plan(e.into()))?;
        let mut trust = TrustConfig::new();
        if let Some(path) = tls.ca_file() {
            let parameter = match url.engine() {
                Engine::Postgresql => "sslrootcert",
                Engine::Mysql | Engine::Mariadb if url.ssl_ca().is_some() => "sslCa",
                Engine::Mysql | Engine::Mariadb => "serverSslCert",
            };
            trust.add_source(CaSource::UrlFile {
                parameter,
                path: path.into(),
            });
        }
        if url.password().is_some() {
            tracing::warn!(
                target: "rds_iam::connect",
                "the JDBC URL has a password: it is not used, the connector logs in with an IAM token"
            );
        }
        Ok(Self {
            hosts: url.hosts().to_vec(),
            iam_host: url.iam_host().map(str::to_owned),
            iam_port: url.iam_default_port(),
            region: url.iam_region().map(str::to_ascii_lowercase),
            user: url.user().map(str::to_owned),
            database: url.database().map(str::to_owned),
            mode: tls.mode(),
            trust,
            connect_timeout: url.connect_timeout().filter(|d| !d.is_zero()),
            iam_expiration: url.iam_expiration(),
            params: url.extra_params().to_vec(),
        })
    }

    /// One target per host, in order.
    pub(crate) fn targets(&self) -> Result<Vec<Target>, ConnectError> {
        let user = self
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .ok_or(ConnectError::Plan(PlanError::MissingUser))?;
        if self.hosts.is_empty() {
            return Err(ConnectError::Plan(PlanError::MissingHost));
        }
        self.hosts
            .iter()
            .map(|dial| {
                let signing_host = self.iam_host.clone().unwrap_or_else(|| dial.host.clone());
                let signing_port = self.iam_port.unwrap_or(dial.port);
                let classified = endpoint::classify(&signing_host);
                let region = match (&self.region, classified.region) {
                    (Some(region), _) => region.clone(),
                    (None, Some(region)) => region,
                    (None, None) if classified.kind == EndpointKind::GlobalWriter => {
                        return Err(ConnectError::Plan(PlanError::GlobalEndpointNeedsRegion {
                            host: signing_host,
                        }));
                    }
                    (None, None) => {
                        return Err(ConnectError::Plan(PlanError::UnknownRegion {
                            host: signing_host,
                        }));
                    }
                };
                Ok(Target {
                    dial: dial.clone(),
                    tls_name: signing_host.clone(),
                    token: RdsTokenParams::new(signing_host, signing_port, user, region),
                })
            })
            .collect()
    }
}

/// One host to try: where to dial, the name its certificate is checked against, and what its
/// token is signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The address dialled (the URL's host and port).
    pub dial: HostPort,
    /// The name the server certificate must carry (and the TLS SNI): `iamHost` when given,
    /// else the dialled host.
    pub tls_name: String,
    /// What the token is signed for: `iamHost`/`iamDefaultPort` when given, else the dialled
    /// host and port; the user; the region.
    pub token: RdsTokenParams,
}

impl fmt::Display for Target {
    /// `host:port`, with `(as NAME)` when the certificate and token name another host.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.dial)?;
        if self.tls_name != self.dial.host {
            write!(f, " (as {})", self.tls_name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(url: &str) -> Result<Vec<Target>, ConnectError> {
        Settings::from_url(
            &JdbcUrl::parse(url).unwrap(),
            "PgConnector",
            &[Engine::Postgresql],
        )?
        .targets()
    }

    #[test]
    fn each_host_signs_its_own_token() {
        let t = targets(
            "jdbc:aws-wrapper:postgresql://a.abc123.us-east-1.rds.amazonaws.com,\
             b.abc123.eu-west-1.rds.amazonaws.com:5433/app?wrapperPlugins=iam&user=u",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[1].token,
            RdsTokenParams::new(
                "b.abc123.eu-west-1.rds.amazonaws.com",
                5433,
                "u",
                "eu-west-1"
            )
        );
        assert_eq!(t[0].token.region, "us-east-1");
        assert_eq!(
            t[1].to_string(),
            "b.abc123.eu-west-1.rds.amazonaws.com:5433"
        );
    }

    #[test]
    fn iam_host_names_the_certificate_and_the_token() {
        let t = targets(
            "jdbc:aws-wrapper:postgresql://127.0.0.1:15432/app?wrapperPlugins=iam&user=u\
             &iamHost=mydb.cluster-abc123.us-east-1.rds.amazonaws.com&iamDefaultPort=5432",
        )
        .unwrap();
        assert_eq!(t[0].dial.to_string(), "127.0.0.1:15432");
        assert_eq!(
            t[0].tls_name,
            "mydb.cluster-abc123.us-east-1.rds.amazonaws.com"
        );
        assert_eq!(t[0].token.port, 5432);
        assert_eq!(
            t[0].to_string(),
            "127.0.0.1:15432 (as mydb.cluster-abc123.us-east-1.rds.amazonaws.com)"
        );
    }

    #[test]
    fn errors() {
        let e = targets("jdbc:aws-wrapper:postgresql://localhost/app?user=u").unwrap_err();
        assert!(e.to_string().contains("iamRegion"), "{e}");
        let e =
            targets("jdbc:aws-wrapper:postgresql://localhost/app?iamRegion=us-east-1").unwrap_err();
        assert!(matches!(e, ConnectError::Plan(PlanError::MissingUser)));
        let e = Settings::from_url(
            &JdbcUrl::parse("jdbc:aws-wrapper:mysql://h/app").unwrap(),
            "PgConnector",
            &[Engine::Postgresql],
        )
        .unwrap_err();
        assert!(e.to_string().contains("MySqlConnector"), "{e}");
        let e = targets("jdbc:aws-wrapper:postgresql://h/app?wrapperPlugins=iam&sslmode=disable")
            .unwrap_err();
        assert!(e.to_string().contains("bearer secret"), "{e}");
    }

    #[test]
    fn the_url_ca_file_is_a_source() {
        let s = Settings::from_url(
            &JdbcUrl::parse("jdbc:aws-wrapper:mysql://h/app?sslCa=/ca.pem&sslMode=VERIFY_CA")
                .unwrap(),
            "MySqlConnector",
            &[Engine::Mysql, Engine::Mariadb],
        )
        .unwrap();
        assert_eq!(s.mode, TlsMode::VerifyCa);
        assert_eq!(
            s.trust.sources(),
            [CaSource::UrlFile {
                parameter: "sslCa",
                path: "/ca.pem".into()
            }]
        );
        assert_eq!(s.connect_timeout, None);
    }
}
