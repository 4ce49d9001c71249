//! What a connector was configured with; its targets come from [`plan::targets`].

use std::time::Duration;

use crate::jdbc::{Engine, HostPort, JdbcUrl};
use crate::plan::{self, PlanOverrides, Target};
use crate::tls::{CaSource, TrustConfig};
use crate::tls_mode::{EffectiveTls, TlsMode};

use super::ConnectError;

/// The settings shared by the PostgreSQL and MySQL connector builders.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) hosts: Vec<HostPort>,
    /// User, region, signing host and port: the URL's, replaced by the builder's methods.
    pub(crate) signing: PlanOverrides,
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
            signing: PlanOverrides::new(),
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
            signing: PlanOverrides::from_url(url),
            database: url.database().map(str::to_owned),
            mode: tls.mode(),
            trust,
            connect_timeout: url.connect_timeout().filter(|d| !d.is_zero()),
            iam_expiration: url.iam_expiration(),
            params: url.extra_params().to_vec(),
        })
    }

    /// One target per host, in order ([`plan::targets`]).
    pub(crate) fn targets(&self) -> Result<Vec<Target>, ConnectError> {
        Ok(plan::targets(&self.hosts, &self.signing)?)
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
    fn iam_host_names_the_certificate_and_the_token() {
        let t = targets(
            "jdbc:aws-wrapper:postgresql://127.0.0.1:15432/app?wrapperPlugins=iam&user=u\
             &iamHost=mydb.cluster-abc123.us-east-1.rds.amazonaws.com&iamDefaultPort=5432",
        )
        .unwrap();
        assert_eq!(t[0].dial.to_string(), "127.0.0.1:15432");
        assert_eq!(
            t[0].tls_name(),
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
        assert!(matches!(
            e,
            ConnectError::Plan(plan::PlanError::MissingUser)
        ));
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
