//! The connectors against hostile servers, for both engines and in every TLS mode: whether the
//! IAM token reached the server, as the server itself recorded it (`support::hostile`), and
//! whether the error the caller gets names the cause.
//!
//! - A server that refuses TLS: the token is never sent; the error is `TlsRefused`.
//! - A self-signed man in the middle: the token is sent only in `require` (the documented,
//!   warned-about weakness), never in `verify-ca` or `verify-full`.
//! - A certificate for another name (`attacker.example`) from a CA the system trusts: the
//!   system trust store is a test CA, through `SSL_CERT_FILE`, which OpenSSL reads when
//!   native-tls loads the default verify paths, and rustls-native-certs reads for rustls. Tests run in parallel threads of one process,
//!   whose environment must not change, so this case runs the `connect` example in a child
//!   process with that variable set. The token is sent only in `require`: `verify-ca` trusts
//!   only the CA file given (the database's), `verify-full` also checks the name.
//!
//! In every mode where a CA file is used it is the database's CA, which signed neither hostile
//! certificate.

use std::path::Path;
use std::time::Duration;

use rds_iam::clock::ManualClock;
use rds_iam::connect::ConnectError;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::MySqlConnector;
use rds_iam::postgres::PgConnector;
use rds_iam::tls::TlsSetupError;

use crate::support::ca::TestCa;
use crate::support::example::ChildEnv;
use crate::support::hostile::{HostileServer, Protocol, Seen, ServerTls};
use crate::support::iam::{ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, provider, t0, token_at_t0};
use crate::support::logs::LogCapture;

const USER: &str = "hostile_test_user";
/// The name the connectors dial and verify.
const HOST: &str = "localhost";
/// The name on the certificate from the CA the system trusts.
const ATTACKER: &str = "attacker.example";

/// The start of the message of `TlsSetupError::VerifyCaWithoutCa`.
const NO_CA: &str = "TLS mode verify-ca trusts only the CA certificates given, never the system \
                     trust store";

/// How the URL asks for TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `verify-full` / `VERIFY_IDENTITY` with the database's CA file (and the system store).
    VerifyFull,
    /// `verify-ca` / `VERIFY_CA` with the database's CA file.
    VerifyCa,
    /// `verify-ca` / `VERIFY_CA` and no CA source at all.
    VerifyCaWithoutCa,
    /// `require` / `REQUIRED`: nothing checked.
    Require,
    /// `require` / `REQUIRED` with the database's CA file, which means `verify-ca`.
    RequireWithCa,
}

const MODES: [Mode; 5] = [
    Mode::VerifyFull,
    Mode::VerifyCa,
    Mode::VerifyCaWithoutCa,
    Mode::Require,
    Mode::RequireWithCa,
];

impl Mode {
    /// The URL's TLS parameters, with `ca` as the CA file.
    fn query(self, protocol: Protocol, ca: &Path) -> String {
        let ca = ca.display();
        match (protocol, self) {
            (Protocol::Postgres, Self::VerifyFull) => {
                format!("sslmode=verify-full&sslrootcert={ca}")
            }
            (Protocol::Postgres, Self::VerifyCa) => format!("sslmode=verify-ca&sslrootcert={ca}"),
            (Protocol::Postgres, Self::VerifyCaWithoutCa) => "sslmode=verify-ca".to_owned(),
            (Protocol::Postgres, Self::Require) => "sslmode=require".to_owned(),
            (Protocol::Postgres, Self::RequireWithCa) => {
                format!("sslmode=require&sslrootcert={ca}")
            }
            (Protocol::MySql, Self::VerifyFull) => format!("sslMode=VERIFY_IDENTITY&sslCa={ca}"),
            (Protocol::MySql, Self::VerifyCa) => format!("sslMode=VERIFY_CA&sslCa={ca}"),
            (Protocol::MySql, Self::VerifyCaWithoutCa) => "sslMode=VERIFY_CA".to_owned(),
            (Protocol::MySql, Self::Require) => "sslMode=REQUIRED".to_owned(),
            (Protocol::MySql, Self::RequireWithCa) => {
                format!("sslMode=REQUIRED&serverSslCert={ca}")
            }
        }
    }
}

/// The IAM URL for `server` in `mode`; `extra` is appended to the query.
fn url(protocol: Protocol, port: u16, mode: Mode, ca: &Path, extra: &str) -> String {
    let scheme = match protocol {
        Protocol::Postgres => "postgresql",
        Protocol::MySql => "mysql",
    };
    format!(
        "jdbc:aws-wrapper:{scheme}://{HOST}:{port}/app?wrapperPlugins=iam&user={USER}\
         &iamRegion={REGION}&{}{extra}",
        mode.query(protocol, ca)
    )
}

/// Build a connector for `url` in this process (token provider on a fixed clock) and connect.
async fn connect(protocol: Protocol, url: &str) -> Result<(), ConnectError> {
    let url = JdbcUrl::parse(url).unwrap();
    let tokens = provider(&ManualClock::new(t0())).await;
    let limit = Duration::from_secs(15);
    match protocol {
        Protocol::Postgres => {
            let connector = PgConnector::from_url(&url)?
                .token_provider(tokens)
                .connect_timeout(limit)
                .build()
                .await?;
            connector.connect().await.map(drop)
        }
        Protocol::MySql => {
            let connector = MySqlConnector::from_url(&url)?
                .token_provider(tokens)
                .connect_timeout(limit)
                .build()
                .await?;
            connector.connect().await.map(drop)
        }
    }
}

/// No token, nor anything like one, reached the server.
fn assert_no_token(seen: &Seen, case: &str) {
    assert!(
        !seen.any_token(),
        "{case}: the token reached the server: {seen:?}"
    );
}

/// The build error of a CA-only mode without a CA source: nothing was dialled.
fn assert_no_ca_error(result: Result<(), ConnectError>, seen: &Seen, case: &str) {
    let err = result.expect_err(case);
    assert!(
        matches!(
            err,
            ConnectError::TlsSetup(TlsSetupError::VerifyCaWithoutCa)
        ),
        "{case}: {err:?}"
    );
    assert!(err.to_string().starts_with(NO_CA), "{case}: {err}");
    assert_eq!(seen.connections, 0, "{case}");
}

// ---- a server that refuses TLS ------------------------------------------------------------

async fn tls_refused(protocol: Protocol) {
    let database_ca = TestCa::new("database CA");
    for mode in MODES {
        let case = format!("{protocol:?} {mode:?}");
        // A fresh server per mode: the record is the mode's alone.
        let server = HostileServer::start(protocol, ServerTls::Refused).await;
        let url = url(protocol, server.port(), mode, database_ca.ca_path(), "");
        let result = connect(protocol, &url).await;
        let seen = server.seen().await;
        assert_no_token(&seen, &case);
        if mode == Mode::VerifyCaWithoutCa {
            assert_no_ca_error(result, &seen, &case);
            continue;
        }
        let err = result.expect_err(&case);
        assert!(
            matches!(err, ConnectError::TlsRefused { .. }),
            "{case}: {err:?}"
        );
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("{HOST}:{} refused TLS", server.port())),
            "{case}: {text}"
        );
        assert!(text.contains("the token was not sent"), "{case}: {text}");
    }
}

#[tokio::test]
async fn postgres_a_server_refusing_tls_never_gets_the_token() {
    tls_refused(Protocol::Postgres).await;
}

#[tokio::test]
async fn mysql_a_server_refusing_tls_never_gets_the_token() {
    tls_refused(Protocol::MySql).await;
}

// ---- a self-signed man in the middle ------------------------------------------------------

async fn self_signed(protocol: Protocol) {
    let database_ca = TestCa::new("database CA");
    for mode in MODES {
        let case = format!("{protocol:?} {mode:?}");
        // A fresh server per mode: the record is the mode's alone.
        let server =
            HostileServer::start(protocol, ServerTls::self_signed(&[HOST, "127.0.0.1"])).await;
        let capture = LogCapture::default();
        let guard = capture.install();
        let url = url(protocol, server.port(), mode, database_ca.ca_path(), "");
        let result = connect(protocol, &url).await;
        drop(guard);
        let seen = server.seen().await;
        match mode {
            Mode::Require => {
                // The documented weakness: the token goes to whoever answers, with a warning.
                assert_eq!(
                    seen.passwords,
                    [token_at_t0(HOST, server.port(), USER)],
                    "{case}"
                );
                let err = result.expect_err(&case);
                assert!(err.is_login_rejected(), "{case}: {err:?}");
                let logs = capture.text();
                assert!(
                    logs.contains("the server is not authenticated"),
                    "{case}: {logs}"
                );
            }
            Mode::VerifyCaWithoutCa => {
                assert_no_token(&seen, &case);
                assert_no_ca_error(result, &seen, &case);
            }
            Mode::VerifyFull | Mode::VerifyCa | Mode::RequireWithCa => {
                assert_no_token(&seen, &case);
                let err = result.expect_err(&case);
                let ConnectError::UntrustedCertificate { ref trusted, .. } = err else {
                    panic!("{case}: expected an untrusted certificate, got {err:?}");
                };
                let text = err.to_string();
                assert!(text.contains("is not trusted"), "{case}: {text}");
                assert!(text.contains("the token was not sent"), "{case}: {text}");
                // The CA file is named; the system store only where it is used.
                assert!(
                    trusted.contains(&database_ca.ca_path().display().to_string()),
                    "{case}: {trusted}"
                );
                assert_eq!(
                    trusted.contains("system trust store"),
                    mode == Mode::VerifyFull,
                    "{case}: {trusted}"
                );
            }
        }
    }
}

#[tokio::test]
async fn postgres_a_self_signed_man_in_the_middle_gets_the_token_only_in_require() {
    self_signed(Protocol::Postgres).await;
}

#[tokio::test]
async fn mysql_a_self_signed_man_in_the_middle_gets_the_token_only_in_require() {
    self_signed(Protocol::MySql).await;
}

// ---- a certificate for another name, from a CA the system trusts ---------------------------

/// The `connect` example's exit code and stderr, run with `system_ca` as the system trust store
/// (and nothing else in its environment but static AWS credentials).
async fn run_connect(url: &str, system_ca: &TestCa) -> (Option<i32>, String) {
    let empty_dir = tempfile::tempdir().unwrap();
    let env = ChildEnv::with_keys(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None)
        .var("SSL_CERT_FILE", &system_ca.ca_path().display().to_string())
        .var("SSL_CERT_DIR", &empty_dir.path().display().to_string());
    let run = tokio::time::timeout(
        Duration::from_secs(60),
        env.run_example_async("connect", &[url, "-c", "SELECT 1"], &[SECRET_ACCESS_KEY]),
    )
    .await
    .expect("the connect example finishes within a minute");
    assert!(!run.stderr.contains("X-Amz-Signature"), "{run:?}");
    (run.code, run.stderr)
}

/// The password the server got is an IAM token for `host:port` and [`USER`].
fn assert_token_for(seen: &Seen, host: &str, port: u16, case: &str) {
    assert_eq!(seen.passwords.len(), 1, "{case}: {seen:?}");
    let token = &seen.passwords[0];
    assert!(
        token.starts_with(&format!("{host}:{port}/?Action=connect&DBUser={USER}&")),
        "{case}: {token}"
    );
    assert!(token.contains("&X-Amz-Signature="), "{case}: {token}");
}

async fn another_name(protocol: Protocol) {
    let public_ca = TestCa::new("public CA the system trusts");
    let attacker_cert = public_ca.server_cert("attacker", &[ATTACKER]);
    let database_ca = TestCa::new("database CA");
    let start = || HostileServer::start(protocol, ServerTls::signed(&attacker_cert));

    // Control: the child's system trust store is the public CA. Verifying the name on the
    // certificate, the handshake passes and the token (signed for that name) is sent.
    let server = start().await;
    let control = url(
        protocol,
        server.port(),
        Mode::VerifyFull,
        database_ca.ca_path(),
        &format!("&iamHost={ATTACKER}"),
    );
    let (code, stderr) = run_connect(&control, &public_ca).await;
    let case = format!("{protocol:?} control");
    assert_eq!(code, Some(1), "{case}: {stderr}");
    assert!(
        stderr.contains("rejected the IAM login"),
        "{case}: {stderr}"
    );
    assert_token_for(&server.seen().await, ATTACKER, server.port(), &case);

    for mode in MODES {
        let case = format!("{protocol:?} {mode:?}");
        let server = start().await;
        let port = server.port();
        let url = url(protocol, port, mode, database_ca.ca_path(), "");
        let (code, stderr) = run_connect(&url, &public_ca).await;
        let seen = server.seen().await;
        assert_eq!(code, Some(1), "{case}: {stderr}");
        let expected = match mode {
            Mode::Require => {
                assert_token_for(&seen, HOST, port, &case);
                "rejected the IAM login".to_owned()
            }
            Mode::VerifyFull => {
                assert_no_token(&seen, &case);
                format!("the certificate of {HOST}:{port} is for {ATTACKER}, not for {HOST}")
            }
            Mode::VerifyCa | Mode::RequireWithCa => {
                assert_no_token(&seen, &case);
                // Trusted: the CA file alone, not the system trust store.
                let parameter = match (protocol, mode) {
                    (Protocol::Postgres, _) => "sslrootcert",
                    (Protocol::MySql, Mode::VerifyCa) => "sslCa",
                    (Protocol::MySql, _) => "serverSslCert",
                };
                format!(
                    "is not trusted ({}); trusted were the CA file {} named by {parameter} in the \
                     URL (1 certificate):",
                    unknown_issuer(protocol),
                    database_ca.ca_path().display()
                )
            }
            Mode::VerifyCaWithoutCa => {
                assert_no_token(&seen, &case);
                assert_eq!(seen.connections, 0, "{case}");
                format!("error: {NO_CA}")
            }
        };
        assert!(
            stderr.contains(&expected),
            "{case}: expected {expected:?} in {stderr}"
        );
    }
}

/// How the TLS stack of `protocol`'s connector words a chain to an unknown CA:
/// OpenSSL's verification result (native-tls), or rustls's `UnknownIssuer`.
fn unknown_issuer(protocol: Protocol) -> &'static str {
    let rustls = match protocol {
        Protocol::Postgres => cfg!(feature = "postgres-rustls"),
        Protocol::MySql => cfg!(feature = "mysql-rustls"),
    };
    if rustls {
        "its chain leads to no trusted CA"
    } else {
        "unable to get local issuer certificate"
    }
}

#[tokio::test]
async fn postgres_a_certificate_for_another_name_from_a_trusted_ca_gets_the_token_only_in_require()
{
    another_name(Protocol::Postgres).await;
}

#[tokio::test]
async fn mysql_a_certificate_for_another_name_from_a_trusted_ca_gets_the_token_only_in_require() {
    another_name(Protocol::MySql).await;
}

// ---- VERIFY_CA and a certificate without a DNS name ---------------------------------------

/// A certificate from the CA given that names only an IP address (not the one dialled), in
/// `VERIFY_CA`. native-tls checks the chain only: the login goes ahead (and this server rejects
/// it). With rustls, mysql_async verifies the chain for a name taken from the certificate
/// (see the `mysql` module docs), and there is none: a clear error, and the token is not sent.
#[tokio::test]
async fn mysql_verify_ca_and_a_certificate_without_a_dns_name() {
    let database_ca = TestCa::new("database CA");
    let cert = database_ca.server_cert("ip-only", &["10.9.9.9"]);
    let server = HostileServer::start(Protocol::MySql, ServerTls::signed(&cert)).await;
    let url = url(
        Protocol::MySql,
        server.port(),
        Mode::VerifyCa,
        database_ca.ca_path(),
        "",
    );
    let err = connect(Protocol::MySql, &url).await.unwrap_err();
    let seen = server.seen().await;
    if cfg!(feature = "mysql-rustls") {
        assert_no_token(&seen, "rustls");
        assert!(
            matches!(err, ConnectError::VerifyCaWithoutDnsName { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("carries no DNS name"), "{err}");
    } else {
        assert!(err.is_login_rejected(), "{err:?}");
        assert_token_for(&seen, HOST, server.port(), "native-tls");
    }
}
