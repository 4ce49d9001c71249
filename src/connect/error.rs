//! [`ConnectError`]: why a connector could not be built or could not connect, with the fix.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::credentials::CredentialsError;
use crate::jdbc::Engine;
use crate::plan::PlanError;
use crate::provider::ProviderError;
use crate::tls::{CaError, TlsSetupError};

/// A boxed cause (a driver's error).
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a connector could not be built, or a connection not made.
///
/// `Display` says what went wrong and what to change; the driver's or library's error is the
/// [`source`](StdError::source), not repeated in the message. No variant holds a token, a
/// password or a secret key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is for the other engine family.
    #[error("the JDBC URL is for {found}, which {connector} does not connect to: use {fix}", fix = other_connector(*.found))]
    WrongEngine {
        /// The connector used.
        connector: &'static str,
        /// The URL's engine.
        found: Engine,
    },
    /// No signing target: a user, host or region is missing, or the TLS settings are refused.
    #[error(transparent)]
    Plan(PlanError),
    /// A URL parameter passed through to the driver has a value it cannot take.
    #[error("the URL parameter {key} has a value the connector cannot use: use {accepted}")]
    Parameter {
        /// The parameter.
        key: String,
        /// What is accepted.
        accepted: &'static str,
    },
    /// A CA source could not be loaded.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The TLS connector could not be built.
    #[error(transparent)]
    TlsSetup(#[from] TlsSetupError),
    /// No token provider was given and the default AWS credentials chain could not be set up.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// No token provider was given, and rds-iam was built without its `aws-config` feature, so
    /// there is no default AWS credentials chain to make one from.
    #[error(
        "no token provider was given to the connector builder, and rds-iam was built without \
         its `aws-config` feature (the default AWS credentials chain): give one with \
         .token_provider(TokenProvider::builder(credentials).build()), the credentials from \
         CredentialsConfig::static_credentials(..) or CredentialsConfig::provider(..), or \
         enable the `aws-config` feature"
    )]
    NoTokenProvider,
    /// No IAM token could be had (credentials or signing failed).
    #[error(
        "could not get an IAM token for user `{user}` at {endpoint}, so no login was tried: fix \
         what the cause names (most often the AWS credentials available to this process; in a \
         build task, the task role)"
    )]
    Token {
        /// The database user.
        user: String,
        /// The endpoint the token is for (`host:port`).
        endpoint: String,
        /// The provider's error (boxed: it is large).
        #[source]
        source: Box<ProviderError>,
    },
    /// The server could not be reached.
    #[error(
        "could not reach {server}: check the host name and port, and that the network (security \
         group, VPC routes, tunnel) lets this machine reach it"
    )]
    Unreachable {
        /// The server (`host:port`, with the verified name when it differs).
        server: String,
        /// The I/O error.
        #[source]
        source: BoxError,
    },
    /// The login did not finish in time.
    #[error(
        "{server} did not complete the login within {after:?}: check that the address is the \
         database's, that the network lets this machine reach it, or raise the timeout \
         (connectTimeout in the JDBC URL, loginTimeout for PostgreSQL, or the connector \
         builder's connect_timeout)"
    )]
    Timeout {
        /// The server.
        server: String,
        /// The timeout.
        after: Duration,
    },
    /// No connection of a sqlx `IamPool` (feature `sqlx`) became free in time: the pool was
    /// at its maximum size and every connection stayed in use for the acquire timeout (sqlx's
    /// `PoolTimedOut` with nothing free; a login that does not finish in time is
    /// [`Timeout`](Self::Timeout)).
    #[error(
        "every connection of the pool to {server} ({max} at most) stayed in use for {after:?}, \
         so none was free to hand out: raise the pool's maximum size (max_connections) or the \
         acquire timeout (connectTimeout in the JDBC URL, loginTimeout for PostgreSQL, sets it \
         for IamPool; else the pool options' acquire_timeout), or return connections to the \
         pool sooner (drop each one when its work is done)"
    )]
    PoolExhausted {
        /// The server.
        server: String,
        /// The pool's maximum number of connections.
        max: u32,
        /// The acquire timeout.
        after: Duration,
    },
    /// The server answered the TLS request with "no": nothing was sent after it.
    #[error(
        "{server} refused TLS (it does not support SSL connections), and an IAM login needs TLS \
         (\"SSL connection required\"): check that this is the database's address and port (not a \
         proxy or tunnel that strips TLS) and that the server has ssl on; the token was not sent"
    )]
    TlsRefused {
        /// The server.
        server: String,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The server's certificate does not chain to a trusted CA.
    #[error(
        "the certificate of {server} is not trusted ({detail}); trusted were {trusted}: give the \
         CA bundle that issued it (for RDS, \
         https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) as sslrootcert \
         (PostgreSQL) or sslCa (MySQL) in the URL, or with .ca(CaSource::file(PATH)) on the \
         connector builder; the token was not sent"
    )]
    UntrustedCertificate {
        /// The server.
        server: String,
        /// The TLS library's verification result.
        detail: String,
        /// The trusted CAs, in words (names the CA file used).
        trusted: String,
        /// The TLS error.
        #[source]
        source: BoxError,
    },
    /// The certificate is trusted but issued for another name.
    #[error(
        "the certificate of {server} is for {presented}, not for {expected}: connect with the name \
         on the certificate, or, when dialling a tunnel or an IP address, set iamHost to the RDS \
         endpoint name (it is then both verified and signed); the token was not sent",
        presented = names(.presented)
    )]
    HostNameMismatch {
        /// The server.
        server: String,
        /// The name checked.
        expected: String,
        /// The DNS names the certificate carries (empty when they could not be read).
        presented: Vec<String>,
        /// The TLS error.
        #[source]
        source: BoxError,
    },
    /// The TLS handshake failed for another reason.
    #[error(
        "the TLS handshake with {server} failed: check that the server speaks TLS 1.2 or later on \
         this port; the token was not sent"
    )]
    Handshake {
        /// The server.
        server: String,
        /// The TLS error.
        #[source]
        source: BoxError,
    },
    /// `verify-ca` with the rustls MySQL stack (feature `mysql-rustls`) and a certificate that
    /// carries no DNS name: mysql_async verifies the chain for a name, and the connector takes
    /// it from the certificate (see the `rds_iam::mysql` module docs).
    #[error(
        "the certificate of {server} carries no DNS name, which VERIFY_CA needs with rustls \
         (mysql_async checks the chain for a name on the certificate): use VERIFY_IDENTITY with \
         the certificate's name (iamHost), or the native-tls stack (feature mysql); the token was \
         not sent"
    )]
    VerifyCaWithoutDnsName {
        /// The server.
        server: String,
    },
    /// The sqlx integration cannot connect as the URL or builder asks without checking less
    /// than the crate's own connectors do (`rds_iam::sqlx`); nothing was sent.
    #[error(
        "sqlx cannot {what}: {fix}; or use the deadpool or bb8 pools (rds_iam::deadpool, \
         rds_iam::bb8), whose connections log in through PgConnector or MySqlConnector, which can"
    )]
    SqlxCannot {
        /// What sqlx cannot do, in words.
        what: String,
        /// What to change.
        fix: &'static str,
    },
    /// The server rejected the IAM login (with a fresh token, if the first one came from the
    /// cache).
    #[error("{}", rejected(self))]
    LoginRejected {
        /// The server.
        server: String,
        /// The engine (selects the likely causes listed).
        engine: Engine,
        /// The database user.
        user: String,
        /// The endpoint the token was signed for (`host:port`).
        endpoint: String,
        /// The region the token was signed in.
        region: String,
        /// Whether a cached token was rejected first and a freshly minted one was tried.
        retried: bool,
        /// The server's error.
        #[source]
        source: BoxError,
    },
    /// The connection failed otherwise: the server answered with another error (a missing
    /// database, too many connections, ...) or the connection broke.
    #[error(
        "the connection to {server} failed: the cause is the server's or the driver's message \
         (a missing database, too many connections, a broken connection)"
    )]
    Server {
        /// The server.
        server: String,
        /// The server's error.
        #[source]
        source: BoxError,
    },
    /// Every host of a multi-host URL failed.
    #[error(
        "none of the {} hosts accepted the connection ({}); the last host's error follows",
        .earlier.len() + 1, hosts(.earlier, .last)
    )]
    AllHostsFailed {
        /// The errors of the hosts tried before the last, in order.
        earlier: Vec<ConnectError>,
        /// The last host's error.
        #[source]
        last: Box<ConnectError>,
    },
}

impl ConnectError {
    /// Whether the server rejected the IAM login.
    pub fn is_login_rejected(&self) -> bool {
        match self {
            Self::LoginRejected { .. } => true,
            Self::AllHostsFailed { earlier, last } => {
                last.is_login_rejected() && earlier.iter().all(Self::is_login_rejected)
            }
            _ => false,
        }
    }

    /// The server this error is about, if it is about one.
    pub fn server(&self) -> Option<&str> {
        match self {
            Self::Unreachable { server, .. }
            | Self::Timeout { server, .. }
            | Self::PoolExhausted { server, .. }
            | Self::TlsRefused { server, .. }
            | Self::UntrustedCertificate { server, .. }
            | Self::HostNameMismatch { server, .. }
            | Self::Handshake { server, .. }
            | Self::VerifyCaWithoutDnsName { server }
            | Self::LoginRejected { server, .. }
            | Self::Server { server, .. } => Some(server),
            _ => None,
        }
    }

    /// The message and its causes on one line, `message: cause: cause`, each text said once
    /// (a cause whose text the line already holds is left out; line breaks and runs of white
    /// space become single spaces): for callers that must hand on
    /// a string instead of the error, such as diesel's `ConnectionError::BadConnection` (see
    /// the README's diesel-async recipe), so that the likely causes and the driver's answer
    /// are not lost with the [`source`](StdError::source) chain.
    ///
    /// ```
    /// use rds_iam::connect::ConnectError;
    /// use rds_iam::jdbc::Engine;
    ///
    /// let e = ConnectError::LoginRejected {
    ///     server: "db:5432".into(),
    ///     engine: Engine::Postgresql,
    ///     user: "app".into(),
    ///     endpoint: "db:5432".into(),
    ///     region: "us-east-1".into(),
    ///     retried: false,
    ///     source: "FATAL: PAM authentication failed for user \"app\"".into(),
    /// };
    /// let line = e.with_causes();
    /// assert!(line.starts_with(&e.to_string()), "{line}");
    /// assert!(line.ends_with(": FATAL: PAM authentication failed for user \"app\""), "{line}");
    /// ```
    pub fn with_causes(&self) -> String {
        let one_line = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut line = one_line(self.to_string());
        let mut cause = self.source();
        while let Some(err) = cause {
            let text = one_line(err.to_string());
            if !text.is_empty() && !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = err.source();
        }
        line
    }

    /// Whether trying the next host can help (it cannot when no token can be had at all).
    pub(crate) fn next_host_may_help(&self) -> bool {
        !matches!(
            self,
            Self::Token { .. } | Self::Credentials(_) | Self::NoTokenProvider | Self::Plan(_)
        )
    }

    /// `AllHostsFailed` for several errors, the error itself for one (`errors` is not empty).
    pub(crate) fn from_attempts(mut errors: Vec<ConnectError>) -> Self {
        let last = errors.pop().expect("at least one host was tried");
        if errors.is_empty() {
            last
        } else {
            Self::AllHostsFailed {
                earlier: errors,
                last: Box::new(last),
            }
        }
    }
}

/// What kind of refusal ended a login, read from the server's answer: the refusals of the IAM
/// database authentication troubleshooting lists (see [`ConnectError::login_refusal`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginRefusal {
    /// PostgreSQL `PAM authentication failed for user "..."`: RDS did not accept the token for
    /// this user.
    Pam,
    /// PostgreSQL `no pg_hba.conf entry for host ..., no encryption`: the login reached the
    /// server without TLS.
    NoEncryption,
    /// MySQL error 1045, `Access denied for user ...`: the token was not accepted for this user.
    AccessDenied,
    /// MySQL error 1524, `Plugin 'AWSAuthenticationPlugin' is not loaded`: the user is set up
    /// for IAM on a server that cannot check tokens.
    PluginNotLoaded,
    /// Another refusal (a user or database that does not exist, relayed from the database).
    Other,
}

impl fmt::Display for LoginRefusal {
    /// What the refusal means, in a sentence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pam => {
                "PostgreSQL `PAM authentication failed`: RDS did not accept the IAM token for this \
                 user (IAM policy, rds_iam grant, user name, clock, endpoint)"
            }
            Self::NoEncryption => {
                "PostgreSQL `no pg_hba.conf entry ... no encryption`: the login reached the server \
                 without TLS (\"SSL connection required\"): a proxy or tunnel in between strips TLS"
            }
            Self::AccessDenied => {
                "MySQL error 1045 `Access denied`: the IAM token was not accepted for this user \
                 (IAM policy, IDENTIFIED WITH AWSAuthenticationPlugin, user name, clock, endpoint)"
            }
            Self::PluginNotLoaded => {
                "MySQL error 1524 `Plugin 'AWSAuthenticationPlugin' is not loaded`: the user is \
                 IDENTIFIED WITH AWSAuthenticationPlugin, but this server cannot check IAM tokens: \
                 enable IAM database authentication on the instance or cluster (outside RDS, as \
                 on MariaDB, there is no such plugin)"
            }
            Self::Other => "the server refused the login for another reason (its message follows)",
        })
    }
}

impl ConnectError {
    /// The kind of refusal, when the server refused the login (a rejected token, or a MySQL
    /// server without the IAM plugin), read from its answer; `None` for failures before a
    /// login (TLS, network, credentials). With several hosts, the last host's.
    ///
    /// ```
    /// use rds_iam::connect::{ConnectError, LoginRefusal};
    /// use rds_iam::jdbc::Engine;
    ///
    /// let e = ConnectError::LoginRejected {
    ///     server: "db:5432".into(),
    ///     engine: Engine::Postgresql,
    ///     user: "app".into(),
    ///     endpoint: "db:5432".into(),
    ///     region: "us-east-1".into(),
    ///     retried: false,
    ///     source: "FATAL: PAM authentication failed for user \"app\"".into(),
    /// };
    /// assert_eq!(e.login_refusal(), Some(LoginRefusal::Pam));
    /// ```
    pub fn login_refusal(&self) -> Option<LoginRefusal> {
        let source = match self {
            Self::LoginRejected { source, .. } | Self::Server { source, .. } => source,
            Self::AllHostsFailed { last, .. } => return last.login_refusal(),
            _ => return None,
        };
        let mut text = String::new();
        let mut cause: Option<&(dyn StdError + 'static)> = Some(&**source);
        while let Some(e) = cause {
            text.push_str(&e.to_string());
            text.push('\n');
            cause = e.source();
        }
        Some(if text.contains("PAM authentication failed") {
            LoginRefusal::Pam
        } else if text.contains("no pg_hba.conf entry") && text.contains("no encryption") {
            LoginRefusal::NoEncryption
        } else if text.contains("1524") && text.contains("AWSAuthenticationPlugin") {
            LoginRefusal::PluginNotLoaded
        } else if text.contains("1045") || text.contains("Access denied for user") {
            LoginRefusal::AccessDenied
        } else if matches!(self, Self::LoginRejected { .. }) {
            LoginRefusal::Other
        } else {
            return None;
        })
    }
}

impl From<PlanError> for ConnectError {
    fn from(e: PlanError) -> Self {
        Self::Plan(e)
    }
}

fn other_connector(found: Engine) -> &'static str {
    match found {
        Engine::Postgresql => {
            "rds_iam::postgres::PgConnector or rds_iam::connect_postgres (feature `postgres`)"
        }
        Engine::Mysql | Engine::Mariadb => {
            "rds_iam::mysql::MySqlConnector or rds_iam::connect_mysql (feature `mysql`)"
        }
    }
}

fn names(names: &[String]) -> String {
    match names {
        [] => "names that could not be read".to_owned(),
        [one] => one.clone(),
        many => many.join(", "),
    }
}

fn hosts(earlier: &[ConnectError], last: &ConnectError) -> String {
    earlier
        .iter()
        .chain([last])
        .map(|e| e.server().unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message of [`ConnectError::LoginRejected`]: the likely causes from the IAM database
/// authentication troubleshooting list, most likely first.
fn rejected(error: &ConnectError) -> String {
    let ConnectError::LoginRejected {
        server,
        engine,
        user,
        endpoint,
        region,
        retried,
        ..
    } = error
    else {
        unreachable!("only called for LoginRejected")
    };
    let fresh = if *retried {
        ", also with a freshly minted token"
    } else {
        ""
    };
    let grant = match engine {
        Engine::Postgresql => format!(
            "the database user is not granted rds_iam (as the master user: GRANT rds_iam TO \
             {};)",
            crate::setup::pg_ident(user)
        ),
        Engine::Mysql | Engine::Mariadb => format!(
            "the database user is not set up for IAM (as the master user: CREATE USER {} \
             IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS';)",
            crate::setup::mysql_account(user)
        ),
    };
    let causes = [
        grant,
        format!(
            "the IAM policy's rds-db:connect resource uses the cluster or instance identifier \
             instead of its resource id (arn:aws:rds-db:{region}:ACCOUNT:dbuser:cluster-XXXX/{user} \
             or db-XXXX/{user}; see DbClusterResourceId / DbiResourceId)"
        ),
        format!(
            "the user name in the policy's resource ARN differs from `{user}` (case and spelling \
             must match exactly)"
        ),
        "this machine's clock is off (a token is valid for 15 minutes from its signing time: \
         sync the clock with NTP)"
            .to_owned(),
        format!(
            "the database is not in {region} or not at {endpoint} (the token is signed for that \
             region and endpoint: set iamRegion, or iamHost to the RDS endpoint name when \
             connecting through a tunnel or alias)"
        ),
        "IAM database authentication is not enabled on the instance or cluster".to_owned(),
        format!(
            "the role that signed is not the one granted rds-db:connect (on a Harness ECS runner, \
             the build task must run with the role in {ENV_HARNESS}, and that role needs the policy)"
        ),
        "a service control policy (SCP) or permissions boundary denies rds-db:connect".to_owned(),
        "the AWS credentials that signed are not valid (a wrong secret access key, or a session \
         token that expired or was revoked): check the source the credentials chain used"
            .to_owned(),
    ];
    let mut message = format!(
        "{server} rejected the IAM login of user `{user}`{fresh} (token signed for {endpoint} in \
         {region}); likely causes:"
    );
    for (i, cause) in causes.iter().enumerate() {
        message.push_str(&format!(" ({}) {cause}", i + 1));
        if i + 1 < causes.len() {
            message.push(';');
        }
    }
    message
}

/// The Harness ECS runner's build-task role variable (named in the rejection's causes).
const ENV_HARNESS: &str = "HARNESS_ECS_BUILD_TASK_ROLE_ARN";

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(engine: Engine, retried: bool) -> ConnectError {
        ConnectError::LoginRejected {
            server: "127.0.0.1:5432 (as db.abc123.us-east-1.rds.amazonaws.com)".into(),
            engine,
            user: "harness_iam_user".into(),
            endpoint: "db.abc123.us-east-1.rds.amazonaws.com:5432".into(),
            region: "us-east-1".into(),
            retried,
            source: "FATAL: PAM authentication failed".into(),
        }
    }

    #[test]
    fn errors_can_cross_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<ConnectError>();
    }

    #[test]
    fn a_rejection_lists_the_likely_causes() {
        let text = rejection(Engine::Postgresql, true).to_string();
        assert!(
            text.starts_with(
                "127.0.0.1:5432 (as db.abc123.us-east-1.rds.amazonaws.com) rejected the IAM \
                 login of user `harness_iam_user`, also with a freshly minted token (token \
                 signed for db.abc123.us-east-1.rds.amazonaws.com:5432 in us-east-1); likely \
                 causes: (1) the database user is not granted rds_iam (as the master user: \
                 GRANT rds_iam TO \"harness_iam_user\";);"
            ),
            "{text}"
        );
        for needle in [
            "resource id",
            "case and spelling",
            "clock",
            "iamRegion",
            "not enabled",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(
            !text.contains("PAM"),
            "the cause is the source, not the message"
        );
        let text = rejection(Engine::Mysql, false).to_string();
        assert!(text.contains("IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"));
        assert!(!text.contains("freshly"));
    }

    /// The refusals of the troubleshooting lists, told apart by the server's answer.
    #[test]
    fn refusals_are_classified() {
        let server = |text: &'static str| ConnectError::Server {
            server: "db:3306".into(),
            source: text.into(),
        };
        let rejected = |text: &'static str| ConnectError::LoginRejected {
            server: "db:5432".into(),
            engine: Engine::Postgresql,
            user: "u".into(),
            endpoint: "db:5432".into(),
            region: "us-east-1".into(),
            retried: false,
            source: text.into(),
        };
        for (e, refusal) in [
            (
                rejected("db error: FATAL: PAM authentication failed for user \"u\""),
                Some(LoginRefusal::Pam),
            ),
            (
                rejected(
                    "FATAL: no pg_hba.conf entry for host \"10.0.0.1\", user \"u\", database \
                     \"d\", no encryption",
                ),
                Some(LoginRefusal::NoEncryption),
            ),
            (
                rejected("ERROR 1045 (28000): Access denied for user 'u'@'10.0.0.1'"),
                Some(LoginRefusal::AccessDenied),
            ),
            (
                server("ERROR 1524 (HY000): Plugin 'AWSAuthenticationPlugin' is not loaded"),
                Some(LoginRefusal::PluginNotLoaded),
            ),
            (
                rejected("FATAL: role \"U\" does not exist"),
                Some(LoginRefusal::Other),
            ),
            (server("FATAL: database \"d\" does not exist"), None),
            (
                ConnectError::Timeout {
                    server: "db:5432".into(),
                    after: Duration::from_secs(1),
                },
                None,
            ),
        ] {
            assert_eq!(e.login_refusal(), refusal, "{e:?}");
        }
    }

    #[test]
    fn all_hosts_failed_names_the_hosts() {
        let e = ConnectError::from_attempts(vec![
            ConnectError::Timeout {
                server: "a:1".into(),
                after: Duration::from_secs(2),
            },
            rejection(Engine::Postgresql, false),
        ]);
        assert!(
            e.to_string().starts_with(
                "none of the 2 hosts accepted the connection (a:1, 127.0.0.1:5432 (as \
                 db.abc123.us-east-1.rds.amazonaws.com))"
            ),
            "{e}"
        );
        assert!(!e.is_login_rejected());
    }

    /// Every message, pinned: what a user reads when a connection fails. The driver's or
    /// library's error is the source, never in the message.
    #[test]
    fn messages() {
        use crate::token::TokenError;
        const CAUSE: &str = "distinctive-driver-cause";
        let cause = || -> BoxError { CAUSE.into() };
        let server = || "127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com)".to_owned();
        let mismatch = |presented: &[&str]| ConnectError::HostNameMismatch {
            server: server(),
            expected: "db.abc123.us-east-1.rds.amazonaws.com".into(),
            presented: presented.iter().map(|name| name.to_string()).collect(),
            source: cause(),
        };
        let rejection = |engine, retried, user: &str| ConnectError::LoginRejected {
            server: server(),
            engine,
            user: user.into(),
            endpoint: "db.abc123.us-east-1.rds.amazonaws.com:5432".into(),
            region: "us-east-1".into(),
            retried,
            source: cause(),
        };
        for (e, text) in [
            (
                ConnectError::WrongEngine {
                    connector: "PgConnector",
                    found: Engine::Mariadb,
                },
                "the JDBC URL is for mariadb, which PgConnector does not connect to: use \
                 rds_iam::mysql::MySqlConnector or rds_iam::connect_mysql (feature `mysql`)",
            ),
            (
                ConnectError::WrongEngine {
                    connector: "MySqlConnector",
                    found: Engine::Postgresql,
                },
                "the JDBC URL is for postgresql, which MySqlConnector does not connect to: use \
                 rds_iam::postgres::PgConnector or rds_iam::connect_postgres (feature `postgres`)",
            ),
            (
                ConnectError::NoTokenProvider,
                "no token provider was given to the connector builder, and rds-iam was built \
                 without its `aws-config` feature (the default AWS credentials chain): give one \
                 with .token_provider(TokenProvider::builder(credentials).build()), the \
                 credentials from CredentialsConfig::static_credentials(..) or \
                 CredentialsConfig::provider(..), or enable the `aws-config` feature",
            ),
            (
                ConnectError::Parameter {
                    key: "tcpKeepAlive".into(),
                    accepted: "true or false",
                },
                "the URL parameter tcpKeepAlive has a value the connector cannot use: use true or \
                 false",
            ),
            (
                ConnectError::Token {
                    user: "app".into(),
                    endpoint: "db.abc123.us-east-1.rds.amazonaws.com:5432".into(),
                    source: Box::new(ProviderError::Signing {
                        endpoint: "db.abc123.us-east-1.rds.amazonaws.com:5432".into(),
                        who: "app".into(),
                        source: TokenError::InvalidHost { found: ' ' },
                    }),
                },
                "could not get an IAM token for user `app` at \
                 db.abc123.us-east-1.rds.amazonaws.com:5432, so no login was tried: fix what the \
                 cause names (most often the AWS credentials available to this process; in a build \
                 task, the task role)",
            ),
            (
                ConnectError::Unreachable {
                    server: "db.example.com:5432".into(),
                    source: cause(),
                },
                "could not reach db.example.com:5432: check the host name and port, and that the \
                 network (security group, VPC routes, tunnel) lets this machine reach it",
            ),
            (
                ConnectError::Timeout {
                    server: server(),
                    after: Duration::from_millis(2500),
                },
                "127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) did not complete the \
                 login within 2.5s: check that the address is the database's, that the network lets \
                 this machine reach it, or raise the timeout (connectTimeout in the JDBC URL, \
                 loginTimeout for PostgreSQL, or the connector builder's connect_timeout)",
            ),
            (
                ConnectError::TlsRefused {
                    server: "db.example.com:5432".into(),
                    source: cause(),
                },
                "db.example.com:5432 refused TLS (it does not support SSL connections), and an IAM \
                 login needs TLS (\"SSL connection required\"): check that this is the database's \
                 address and port (not a proxy or tunnel that strips TLS) and that the server has \
                 ssl on; the token was not sent",
            ),
            (
                ConnectError::UntrustedCertificate {
                    server: server(),
                    detail: "self-signed certificate in certificate chain".into(),
                    trusted: "the CA file /etc/rds.pem named by sslrootcert in the URL (108 \
                              certificates)"
                        .into(),
                    source: cause(),
                },
                "the certificate of 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) is \
                 not trusted (self-signed certificate in certificate chain); trusted were the CA \
                 file /etc/rds.pem named by sslrootcert in the URL (108 certificates): give the CA \
                 bundle that issued it (for RDS, \
                 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem) as sslrootcert \
                 (PostgreSQL) or sslCa (MySQL) in the URL, or with .ca(CaSource::file(PATH)) on the \
                 connector builder; the token was not sent",
            ),
            (
                mismatch(&[]),
                "the certificate of 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) is \
                 for names that could not be read, not for db.abc123.us-east-1.rds.amazonaws.com: \
                 connect with the name on the certificate, or, when dialling a tunnel or an IP \
                 address, set iamHost to the RDS endpoint name (it is then both verified and \
                 signed); the token was not sent",
            ),
            (
                mismatch(&["a.example.com"]),
                "the certificate of 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) is \
                 for a.example.com, not for db.abc123.us-east-1.rds.amazonaws.com: connect with the \
                 name on the certificate, or, when dialling a tunnel or an IP address, set iamHost \
                 to the RDS endpoint name (it is then both verified and signed); the token was not \
                 sent",
            ),
            (
                mismatch(&["a.example.com", "b.example.com"]),
                "the certificate of 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) is \
                 for a.example.com, b.example.com, not for db.abc123.us-east-1.rds.amazonaws.com: \
                 connect with the name on the certificate, or, when dialling a tunnel or an IP \
                 address, set iamHost to the RDS endpoint name (it is then both verified and \
                 signed); the token was not sent",
            ),
            (
                ConnectError::Handshake {
                    server: server(),
                    source: cause(),
                },
                "the TLS handshake with 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) \
                 failed: check that the server speaks TLS 1.2 or later on this port; the token was \
                 not sent",
            ),
            (
                ConnectError::VerifyCaWithoutDnsName { server: server() },
                "the certificate of 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) \
                 carries no DNS name, which VERIFY_CA needs with rustls (mysql_async checks the \
                 chain for a name on the certificate): use VERIFY_IDENTITY with the certificate's \
                 name (iamHost), or the native-tls stack (feature mysql); the token was not sent",
            ),
            (
                rejection(Engine::Postgresql, true, "app\"user"),
                "127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) rejected the IAM login \
                 of user `app\"user`, also with a freshly minted token (token signed for \
                 db.abc123.us-east-1.rds.amazonaws.com:5432 in us-east-1); likely causes: (1) the \
                 database user is not granted rds_iam (as the master user: GRANT rds_iam TO \
                 \"app\"\"user\";); (2) the IAM policy's rds-db:connect resource uses the cluster \
                 or instance identifier instead of its resource id \
                 (arn:aws:rds-db:us-east-1:ACCOUNT:dbuser:cluster-XXXX/app\"user or \
                 db-XXXX/app\"user; see DbClusterResourceId / DbiResourceId); (3) the user name in \
                 the policy's resource ARN differs from `app\"user` (case and spelling must match \
                 exactly); (4) this machine's clock is off (a token is valid for 15 minutes from \
                 its signing time: sync the clock with NTP); (5) the database is not in us-east-1 \
                 or not at db.abc123.us-east-1.rds.amazonaws.com:5432 (the token is signed for that \
                 region and endpoint: set iamRegion, or iamHost to the RDS endpoint name when \
                 connecting through a tunnel or alias); (6) IAM database authentication is not \
                 enabled on the instance or cluster; (7) the role that signed is not the one \
                 granted rds-db:connect (on a Harness ECS runner, the build task must run with \
                 the role in HARNESS_ECS_BUILD_TASK_ROLE_ARN, and that role needs the policy); \
                 (8) a service control policy (SCP) or permissions boundary denies \
                 rds-db:connect; (9) the AWS credentials that signed are not valid (a wrong \
                 secret access key, or a session token that expired or was revoked): check the \
                 source the credentials chain used",
            ),
            (
                rejection(Engine::Mysql, false, "o'brien\\"),
                "127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) rejected the IAM login \
                 of user `o'brien\\` (token signed for db.abc123.us-east-1.rds.amazonaws.com:5432 \
                 in us-east-1); likely causes: (1) the database user is not set up for IAM (as the \
                 master user: CREATE USER `o'brien\\`@`%` IDENTIFIED WITH AWSAuthenticationPlugin AS \
                 'RDS';); (2) the IAM policy's rds-db:connect resource uses the cluster or instance \
                 identifier instead of its resource id \
                 (arn:aws:rds-db:us-east-1:ACCOUNT:dbuser:cluster-XXXX/o'brien\\ or \
                 db-XXXX/o'brien\\; see DbClusterResourceId / DbiResourceId); (3) the user name in \
                 the policy's resource ARN differs from `o'brien\\` (case and spelling must match \
                 exactly); (4) this machine's clock is off (a token is valid for 15 minutes from \
                 its signing time: sync the clock with NTP); (5) the database is not in us-east-1 \
                 or not at db.abc123.us-east-1.rds.amazonaws.com:5432 (the token is signed for that \
                 region and endpoint: set iamRegion, or iamHost to the RDS endpoint name when \
                 connecting through a tunnel or alias); (6) IAM database authentication is not \
                 enabled on the instance or cluster; (7) the role that signed is not the one \
                 granted rds-db:connect (on a Harness ECS runner, the build task must run with \
                 the role in HARNESS_ECS_BUILD_TASK_ROLE_ARN, and that role needs the policy); \
                 (8) a service control policy (SCP) or permissions boundary denies \
                 rds-db:connect; (9) the AWS credentials that signed are not valid (a wrong \
                 secret access key, or a session token that expired or was revoked): check the \
                 source the credentials chain used",
            ),
            (
                ConnectError::Server {
                    server: server(),
                    source: cause(),
                },
                "the connection to 127.0.0.1:15432 (as db.abc123.us-east-1.rds.amazonaws.com) \
                 failed: the cause is the server's or the driver's message (a missing database, too \
                 many connections, a broken connection)",
            ),
            (
                ConnectError::from_attempts(vec![
                    ConnectError::Timeout {
                        server: "a:5432".into(),
                        after: Duration::from_secs(2),
                    },
                    ConnectError::Unreachable {
                        server: "b:5432".into(),
                        source: cause(),
                    },
                    ConnectError::Server {
                        server: "c:5432".into(),
                        source: cause(),
                    },
                ]),
                "none of the 3 hosts accepted the connection (a:5432, b:5432, c:5432); the last \
                 host's error follows",
            ),
        ] {
            assert_eq!(e.to_string(), text);
            if let Some(source) = e.source() {
                let source = source.to_string();
                assert!(!text.contains(&source), "{source:?} repeated in: {text}");
            }
        }
    }

    /// A transparent variant shows its inner error once: its text, and the inner error's
    /// source as its own (not the inner error again).
    #[test]
    fn wrapped_errors_are_shown_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "distinctive-io-cause");
        let ca = || CaError::Read {
            source_name: crate::tls::CaSource::file("/etc/rds.pem"),
            hint: "the file is not there: check the path",
            source: io(),
        };
        let region = || CredentialsError::MissingRegion {
            needed_for: "assuming a role through STS",
        };
        for (e, inner) in [
            (
                ConnectError::from(PlanError::MissingUser),
                PlanError::MissingUser.to_string(),
            ),
            (ConnectError::from(ca()), ca().to_string()),
            (
                ConnectError::from(TlsSetupError::VerifyCaWithoutCa),
                TlsSetupError::VerifyCaWithoutCa.to_string(),
            ),
            (ConnectError::from(region()), region().to_string()),
        ] {
            assert_eq!(e.to_string(), inner);
        }
        let e = ConnectError::from(ca());
        assert_eq!(e.source().unwrap().to_string(), "distinctive-io-cause");
    }
}
