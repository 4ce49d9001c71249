//! `emulator`: a local IAM-enabled RDS endpoint in front of a real database.
//!
//! ```sh
//! export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY='the matching secret'
//! rds-iam emulator --engine postgres --listen 127.0.0.1:15432 --backend 127.0.0.1:5432 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432 --region us-east-1 \
//!     --write-ca /tmp/emulator-ca.pem
//! ```
//!
//! Secrets never go on the command line, where every local user can read them (`ps`): the
//! secret access key and session token come from `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` or from files, the backend password from
//! `RDS_IAM_EMULATOR_BACKEND_PASSWORD` or a file. Prints `listening on <addr>` once ready;
//! stops on Ctrl-C.
//!
//! The same module is the root package's `emulator` example (`cargo run --example emulator`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_credential_types::Credentials;
use rds_iam::secret::Password;
use rds_iam_emulator::{Emulator, EmulatorConfig, TlsIdentity, Wire};

use super::report::{self, Failure};

/// The variable the backend password comes from when `--backend-password-file` is not given.
const BACKEND_PASSWORD_VAR: &str = "RDS_IAM_EMULATOR_BACKEND_PASSWORD";

/// Where secrets come from, and what is logged.
const AFTER_HELP: &str = "\
Secrets never go on the command line, where every local user can read them (ps): the secret \
access key and session token come from AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN or from \
--secret-access-key-file and --session-token-file, the backend password from \
RDS_IAM_EMULATOR_BACKEND_PASSWORD or --backend-password-file (a file flag wins over its \
variable). The access key id is --access-key-id or AWS_ACCESS_KEY_ID.

Prints `listening on ADDR` once ready. Warnings (refused logins, listening on an address other \
than loopback, the connection limit reached) go to stderr; RUST_LOG chooses more (RUST_LOG=info \
logs every login decision, never the token). Stop it with Ctrl-C.

Exit codes: 0 stopped with Ctrl-C, 1 failure (a file, the listening address, the TLS identity), \
2 usage error.";

/// Run a local IAM-enabled RDS endpoint in front of a real database
///
/// Clients log in with IAM tokens signed for --endpoint in --region with the given credentials;
/// the emulator checks each token and logs in to --backend as the same user.
#[derive(Debug, clap::Parser)]
#[command(name = "emulator", after_long_help = AFTER_HELP)]
pub struct Args {
    /// The wire protocol: postgres or mysql (MySQL and MariaDB)
    #[arg(long, value_enum)]
    pub engine: EngineArg,
    /// Where clients connect (e.g. 127.0.0.1:15432)
    #[arg(long, value_name = "IP:PORT")]
    pub listen: SocketAddr,
    /// The real database behind the emulator (e.g. 127.0.0.1:5432)
    #[arg(long, value_name = "IP:PORT")]
    pub backend: SocketAddr,
    /// The endpoint name and port tokens are signed for
    #[arg(long, value_name = "HOST:PORT", value_parser = endpoint)]
    pub endpoint: Endpoint,
    /// The region tokens are signed in
    #[arg(long)]
    pub region: String,
    /// The access key id of the accepted credentials (default: AWS_ACCESS_KEY_ID)
    #[arg(long, value_name = "AK")]
    pub access_key_id: Option<String>,
    /// A file holding the secret access key (default: AWS_SECRET_ACCESS_KEY)
    #[arg(long, value_name = "FILE")]
    pub secret_access_key_file: Option<PathBuf>,
    /// A file holding the session token (default: AWS_SESSION_TOKEN)
    #[arg(long, value_name = "FILE")]
    pub session_token_file: Option<PathBuf>,
    /// The backend user to log in as (default: the token's user)
    #[arg(long, value_name = "USER")]
    pub backend_user: Option<String>,
    /// A file holding the backend password (default: RDS_IAM_EMULATOR_BACKEND_PASSWORD)
    #[arg(long, value_name = "FILE")]
    pub backend_password_file: Option<PathBuf>,
    /// The server certificate chain (PEM), with --key
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The server private key (PEM), with --cert
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Without --cert/--key: write the generated test CA here, for clients to trust
    #[arg(long, value_name = "PATH", conflicts_with = "cert")]
    pub write_ca: Option<PathBuf>,
    /// At most this many client connections at once
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// Close a client that has not logged in within this many seconds (e.g. 10 or 0.5)
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub handshake_timeout: Option<Duration>,
    /// PostgreSQL: refuse users who are not members of a role rds_iam in the backend, as RDS
    /// does (create a local rds_iam role to stand in for RDS's)
    #[arg(long)]
    pub require_rds_iam: bool,
    /// Refused: a secret on the command line (see below)
    #[arg(long, hide = true)]
    secret_access_key: Option<String>,
    /// Refused: a secret on the command line
    #[arg(long, hide = true)]
    session_token: Option<String>,
    /// Refused: a secret on the command line
    #[arg(long, hide = true)]
    backend_password: Option<String>,
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineArg {
    /// PostgreSQL.
    #[value(alias = "postgresql")]
    Postgres,
    /// MySQL and MariaDB.
    #[value(alias = "mariadb")]
    Mysql,
}

/// `--endpoint HOST:PORT`.
#[derive(Debug, Clone)]
pub struct Endpoint {
    host: String,
    port: u16,
}

fn endpoint(value: &str) -> Result<Endpoint, &'static str> {
    value
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse::<u16>().ok()?)))
        .filter(|(host, port)| !host.is_empty() && *port != 0)
        .map(|(host, port)| Endpoint {
            host: host.to_owned(),
            port,
        })
        .ok_or("HOST:PORT is needed (the name tokens are signed for)")
}

fn seconds(value: &str) -> Result<Duration, &'static str> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .filter(|d| !d.is_zero())
        .ok_or("seconds above 0 are needed (e.g. 10 or 0.5)")
}

/// Start the emulator as `args` say, print `listening on ADDR`, and serve until Ctrl-C.
pub fn run(args: Args) -> Result<(), Failure> {
    let config = config(args, &|name| std::env::var(name).ok())?;
    tokio::runtime::Runtime::new()
        .map_err(|e| Failure::error(&e))?
        .block_on(async {
            let emulator = Emulator::start(config)
                .await
                .map_err(|e| Failure::error(&e))?;
            if let Some(ca) = emulator.ca_path() {
                eprintln!("clients should trust the CA in {}", ca.display());
            }
            report::print(&format!("listening on {}", emulator.local_addr()));
            tokio::signal::ctrl_c()
                .await
                .map_err(|e| Failure::error(&e))
        })
}

/// The emulator's configuration from `args` and the environment `env`.
fn config(args: Args, env: &dyn Fn(&str) -> Option<String>) -> Result<EmulatorConfig, Failure> {
    for (given, flag, file_flag, variable) in [
        (
            &args.secret_access_key,
            "--secret-access-key",
            "--secret-access-key-file",
            "AWS_SECRET_ACCESS_KEY",
        ),
        (
            &args.session_token,
            "--session-token",
            "--session-token-file",
            "AWS_SESSION_TOKEN",
        ),
        (
            &args.backend_password,
            "--backend-password",
            "--backend-password-file",
            BACKEND_PASSWORD_VAR,
        ),
    ] {
        if given.is_some() {
            return Err(Failure::Usage(format!(
                "{flag} is not accepted: other local users could read it (ps); \
                 set {variable} or use {file_flag}"
            )));
        }
    }
    let access_key_id = args
        .access_key_id
        .or_else(|| env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty()))
        .ok_or_else(|| {
            Failure::Usage(
                "the access key id is required: --access-key-id or AWS_ACCESS_KEY_ID".into(),
            )
        })?;
    let secret_access_key = secret(
        args.secret_access_key_file.as_deref(),
        "AWS_SECRET_ACCESS_KEY",
        env,
    )?
    .ok_or_else(|| {
        Failure::Usage(
            "the secret access key is required: set AWS_SECRET_ACCESS_KEY or use \
             --secret-access-key-file"
                .into(),
        )
    })?;
    let session_token = secret(args.session_token_file.as_deref(), "AWS_SESSION_TOKEN", env)?;
    let backend_password = secret(
        args.backend_password_file.as_deref(),
        BACKEND_PASSWORD_VAR,
        env,
    )?;
    let tls = match (args.cert, args.key) {
        (Some(cert), Some(key)) => TlsIdentity::PemFiles { cert, key },
        // clap requires --cert and --key together.
        _ => TlsIdentity::GenerateTestCa {
            write_ca_to: args.write_ca,
        },
    };
    let credentials = Credentials::new(
        access_key_id,
        secret_access_key,
        session_token,
        None,
        "emulator-command",
    );
    let wire = match args.engine {
        EngineArg::Postgres => Wire::Postgres,
        EngineArg::Mysql => Wire::Mysql,
    };
    let mut builder = EmulatorConfig::builder(wire)
        .listen(args.listen)
        .backend(args.backend)
        .endpoint(args.endpoint.host, args.endpoint.port)
        .region(args.region)
        .credentials(credentials)
        .tls(tls)
        .require_rds_iam(args.require_rds_iam);
    if let Some(user) = args.backend_user {
        builder = builder.backend_user(user);
    }
    if let Some(password) = backend_password {
        builder = builder.backend_password(Password::new(password));
    }
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(usize::try_from(max).unwrap_or(usize::MAX));
    }
    if let Some(timeout) = args.handshake_timeout {
        builder = builder.handshake_timeout(timeout);
    }
    builder.build().map_err(|e| Failure::error(&e))
}

/// A secret from `file` if given (without its final line break), else from `variable`.
fn secret(
    file: Option<&Path>,
    variable: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, Failure> {
    let Some(file) = file else {
        return Ok(env(variable).filter(|v| !v.is_empty()));
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Error(format!("could not read {}: {e}", file.display())))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(Failure::Error(format!("{} is empty", file.display())));
    }
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    const REQUIRED: &[&str] = &[
        "emulator",
        "--engine",
        "postgres",
        "--listen",
        "127.0.0.1:0",
        "--backend",
        "127.0.0.1:5432",
        "--endpoint",
        "db.example:5432",
        "--region",
        "us-east-1",
    ];

    /// The configuration, or the failure's text (clap's for a usage mistake it catches).
    fn run(extra: &[&str], vars: &[(&str, &str)]) -> Result<EmulatorConfig, String> {
        let args = Args::try_parse_from(REQUIRED.iter().chain(extra)).map_err(|e| e.to_string())?;
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        config(args, &env).map_err(|failure| match failure {
            Failure::Usage(msg) | Failure::Error(msg) => msg,
        })
    }

    #[test]
    fn secrets_come_from_the_standard_variables() {
        let config = run(
            &[],
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_SESSION_TOKEN", "env-session"),
                (BACKEND_PASSWORD_VAR, "env-backend-pw"),
            ],
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("AKIDENV"), "{debug}");
        for secret in ["env-secret", "env-session", "env-backend-pw"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        let err = run(&[], &[("AWS_ACCESS_KEY_ID", "AK")]).unwrap_err();
        assert_eq!(
            err,
            "the secret access key is required: set AWS_SECRET_ACCESS_KEY or use --secret-access-key-file"
        );
        let err = run(&[], &[("AWS_SECRET_ACCESS_KEY", "s")]).unwrap_err();
        assert!(err.contains("AWS_ACCESS_KEY_ID"), "{err}");
    }

    #[test]
    fn secrets_come_from_files_before_variables() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "file-secret\r\n").unwrap();
        let path = file.to_str().unwrap();
        let env = |name: &str| (name == "AWS_SECRET_ACCESS_KEY").then(|| "env".to_owned());
        assert_eq!(
            secret(Some(&file), "AWS_SECRET_ACCESS_KEY", &env).unwrap(),
            Some("file-secret".to_owned())
        );
        assert_eq!(
            secret(None, "AWS_SECRET_ACCESS_KEY", &env).unwrap(),
            Some("env".to_owned())
        );
        run(
            &[
                "--access-key-id",
                "AK",
                "--secret-access-key-file",
                path,
                "--backend-password-file",
                path,
                "--session-token-file",
                path,
            ],
            &[],
        )
        .unwrap();
        std::fs::write(&file, "\n").unwrap();
        let err = run(
            &["--access-key-id", "AK", "--secret-access-key-file", path],
            &[],
        )
        .unwrap_err();
        assert_eq!(err, format!("{path} is empty"));
        let missing = dir.path().join("missing");
        let Err(Failure::Error(err)) = secret(Some(&missing), "X", &env) else {
            panic!("a missing file is an error");
        };
        assert!(
            err.starts_with(&format!("could not read {}", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn secrets_on_the_command_line_are_refused() {
        let env = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "s")];
        for (flag, advice) in [
            (
                "--secret-access-key",
                "set AWS_SECRET_ACCESS_KEY or use --secret-access-key-file",
            ),
            (
                "--session-token",
                "set AWS_SESSION_TOKEN or use --session-token-file",
            ),
            (
                "--backend-password",
                "set RDS_IAM_EMULATOR_BACKEND_PASSWORD or use --backend-password-file",
            ),
        ] {
            let err = run(&[flag, "hunter2"], &env).unwrap_err();
            assert!(err.starts_with(&format!("{flag} is not accepted")), "{err}");
            assert!(err.ends_with(advice), "{err}");
            assert!(!err.contains("hunter2"));
            let err = run(&[&format!("{flag}=hunter2")], &env).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn limits_and_tls_flags() {
        let env = [("AWS_ACCESS_KEY_ID", "AK"), ("AWS_SECRET_ACCESS_KEY", "s")];
        let config = run(
            &["--max-connections", "7", "--handshake-timeout", "0.5"],
            &env,
        )
        .unwrap();
        assert_eq!(config.max_connections(), 7);
        assert_eq!(config.handshake_timeout(), Duration::from_millis(500));
        for bad in [
            &["--max-connections", "0"][..],
            &["--max-connections", "x"],
            &["--handshake-timeout", "0"],
            &["--handshake-timeout", "-1"],
            &["--handshake-timeout", "NaN"],
            &["--cert", "c.pem"],
            &["--key", "k.pem"],
            &["--cert", "c.pem", "--key", "k.pem", "--write-ca", "ca.pem"],
        ] {
            assert!(run(bad, &env).is_err(), "{bad:?}");
        }
        for bad in ["db.example", ":5432", "db.example:0", "db.example:x"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
        let ok = endpoint("[::1]:5432").unwrap();
        assert_eq!((ok.host.as_str(), ok.port), ("[::1]", 5432));
    }
}
