//! A local IAM-enabled RDS endpoint in front of a real database.
//!
//! ```sh
//! export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY='the matching secret'
//! cargo run --example emulator --features emulator -- \
//!     --engine postgres --listen 127.0.0.1:15432 --backend 127.0.0.1:5432 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432 --region us-east-1 \
//!     --write-ca /tmp/emulator-ca.pem
//!
//! # MySQL / MariaDB: the same with --engine mysql and a MariaDB or MySQL backend
//! cargo run --example emulator --features emulator -- \
//!     --engine mysql --listen 127.0.0.1:13306 --backend 127.0.0.1:3306 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:3306 --region us-east-1 \
//!     --write-ca /tmp/emulator-ca.pem
//! ```
//!
//! Secrets never go on the command line, where every local user can read them (`ps`):
//! the secret access key and session token come from `AWS_SECRET_ACCESS_KEY` and
//! `AWS_SESSION_TOKEN` or from files (`--secret-access-key-file`,
//! `--session-token-file`), the backend password from `RDS_IAM_EMULATOR_BACKEND_PASSWORD`
//! or `--backend-password-file`. The access key id is `--access-key-id` or
//! `AWS_ACCESS_KEY_ID`.
//!
//! Prints `listening on <addr>` once ready. Warnings (refused logins, listening on an
//! address other than loopback, the connection limit reached) go to stderr; `RUST_LOG`
//! chooses more (`RUST_LOG=info` logs every login decision, never the token). Stop it
//! with Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aws_credential_types::Credentials;
use rds_iam::secret::Password;
use rds_iam_emulator::{Emulator, EmulatorConfig, TlsIdentity, Wire};

const USAGE: &str = "\
usage: emulator --engine postgres|mysql --listen 127.0.0.1:PORT --backend 127.0.0.1:PORT
                --endpoint HOST:PORT --region R [--access-key-id AK]
                [--secret-access-key-file F] [--session-token-file F]
                [--backend-user U] [--backend-password-file F]
                [--cert PEM --key PEM | --write-ca PATH]
                [--max-connections N] [--handshake-timeout SECONDS]
environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
             RDS_IAM_EMULATOR_BACKEND_PASSWORD (a file flag wins over its variable),
             RUST_LOG (default: warn)";

/// The variable the backend password comes from when `--backend-password-file` is not given.
const BACKEND_PASSWORD_VAR: &str = "RDS_IAM_EMULATOR_BACKEND_PASSWORD";

#[derive(Default)]
struct Args {
    engine: Option<Wire>,
    listen: Option<SocketAddr>,
    backend: Option<SocketAddr>,
    backend_user: Option<String>,
    endpoint: Option<(String, u16)>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key_file: Option<PathBuf>,
    session_token_file: Option<PathBuf>,
    backend_password_file: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    write_ca: Option<PathBuf>,
    max_connections: Option<usize>,
    handshake_timeout: Option<Duration>,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        // `--flag=value` too; the message names the flag, never the value.
        let name = flag.split_once('=').map_or(flag.as_str(), |(name, _)| name);
        if let Some((file_flag, variable)) = secret_flag(name) {
            return Err(format!(
                "{name} is not accepted: other local users could read it (ps); \
                 set {variable} or use {file_flag}"
            ));
        }
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        let addr = |v: String| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("{flag} wants IP:PORT (e.g. 127.0.0.1:15432), got {v:?}"))
        };
        match flag.as_str() {
            "--engine" => {
                args.engine = Some(match value()?.as_str() {
                    "postgres" | "postgresql" => Wire::Postgres,
                    "mysql" | "mariadb" => Wire::Mysql,
                    other => return Err(format!("--engine is postgres or mysql, not {other:?}")),
                });
            }
            "--listen" => args.listen = Some(addr(value()?)?),
            "--backend" => args.backend = Some(addr(value()?)?),
            "--backend-user" => args.backend_user = Some(value()?),
            "--endpoint" => {
                let v = value()?;
                let parsed = v
                    .rsplit_once(':')
                    .and_then(|(host, port)| Some((host.to_owned(), port.parse::<u16>().ok()?)))
                    .filter(|(host, port)| !host.is_empty() && *port != 0);
                args.endpoint = Some(parsed.ok_or_else(|| {
                    format!(
                        "--endpoint wants HOST:PORT (the name tokens are signed for), got {v:?}"
                    )
                })?);
            }
            "--region" => args.region = Some(value()?),
            "--access-key-id" => args.access_key_id = Some(value()?),
            "--secret-access-key-file" => args.secret_access_key_file = Some(value()?.into()),
            "--session-token-file" => args.session_token_file = Some(value()?.into()),
            "--backend-password-file" => args.backend_password_file = Some(value()?.into()),
            "--cert" => args.cert = Some(value()?.into()),
            "--key" => args.key = Some(value()?.into()),
            "--write-ca" => args.write_ca = Some(value()?.into()),
            "--max-connections" => {
                let v = value()?;
                let max = v.parse::<usize>().ok().filter(|n| *n > 0);
                args.max_connections = Some(max.ok_or_else(|| {
                    format!("--max-connections wants a number of at least 1, got {v:?}")
                })?);
            }
            "--handshake-timeout" => {
                let v = value()?;
                let timeout = v
                    .parse::<f64>()
                    .ok()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .filter(|d| !d.is_zero());
                args.handshake_timeout = Some(timeout.ok_or_else(|| {
                    format!("--handshake-timeout wants seconds above 0 (e.g. 10 or 0.5), got {v:?}")
                })?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// The file flag and the variable to use instead of a flag that would put a secret on
/// the command line.
fn secret_flag(flag: &str) -> Option<(&'static str, &'static str)> {
    match flag {
        "--secret-access-key" => Some(("--secret-access-key-file", "AWS_SECRET_ACCESS_KEY")),
        "--session-token" => Some(("--session-token-file", "AWS_SESSION_TOKEN")),
        "--backend-password" => Some(("--backend-password-file", BACKEND_PASSWORD_VAR)),
        _ => None,
    }
}

/// A secret from `file` if given (without its final line break), else from `variable`.
fn secret(
    file: Option<&Path>,
    variable: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let Some(file) = file else {
        return Ok(env(variable).filter(|v| !v.is_empty()));
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("could not read {}: {e}", file.display()))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err(format!("{} is empty", file.display()));
    }
    Ok(Some(value.to_owned()))
}

fn config(args: Args, env: &dyn Fn(&str) -> Option<String>) -> Result<EmulatorConfig, String> {
    let need = |name: &str| format!("{name} is required");
    let engine = args.engine.ok_or_else(|| need("--engine"))?;
    let listen = args.listen.ok_or_else(|| need("--listen"))?;
    let backend = args.backend.ok_or_else(|| need("--backend"))?;
    let (host, port) = args.endpoint.ok_or_else(|| need("--endpoint"))?;
    let region = args.region.ok_or_else(|| need("--region"))?;
    let access_key_id = args
        .access_key_id
        .or_else(|| env("AWS_ACCESS_KEY_ID").filter(|v| !v.is_empty()))
        .ok_or("the access key id is required: --access-key-id or AWS_ACCESS_KEY_ID")?;
    let secret_access_key = secret(
        args.secret_access_key_file.as_deref(),
        "AWS_SECRET_ACCESS_KEY",
        env,
    )?
    .ok_or(
        "the secret access key is required: set AWS_SECRET_ACCESS_KEY or use --secret-access-key-file",
    )?;
    let session_token = secret(args.session_token_file.as_deref(), "AWS_SESSION_TOKEN", env)?;
    let backend_password = secret(
        args.backend_password_file.as_deref(),
        BACKEND_PASSWORD_VAR,
        env,
    )?;
    let tls = match (args.cert, args.key, args.write_ca) {
        (Some(cert), Some(key), None) => TlsIdentity::PemFiles { cert, key },
        (None, None, write_ca_to) => TlsIdentity::GenerateTestCa { write_ca_to },
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err("--cert and --key go together".to_owned());
        }
        (Some(_), Some(_), Some(_)) => {
            return Err(
                "--write-ca is for a generated CA: leave it out with --cert/--key".to_owned(),
            );
        }
    };
    let credentials = Credentials::new(
        access_key_id,
        secret_access_key,
        session_token,
        None,
        "emulator-command",
    );
    let mut builder = EmulatorConfig::builder(engine)
        .listen(listen)
        .backend(backend)
        .endpoint(host, port)
        .region(region)
        .credentials(credentials)
        .tls(tls);
    if let Some(user) = args.backend_user {
        builder = builder.backend_user(user);
    }
    if let Some(password) = backend_password {
        builder = builder.backend_password(Password::new(password));
    }
    if let Some(max) = args.max_connections {
        builder = builder.max_connections(max);
    }
    if let Some(timeout) = args.handshake_timeout {
        builder = builder.handshake_timeout(timeout);
    }
    builder.build().map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let env = |name: &str| std::env::var(name).ok();
    let config = match parse_args(std::env::args().skip(1)).and_then(|args| config(args, &env)) {
        Ok(config) => config,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("error: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let emulator = match Emulator::start(config).await {
        Ok(emulator) => emulator,
        Err(error) => {
            let mut text = format!("error: {error}");
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                text.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{text}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(ca) = emulator.ca_path() {
        eprintln!("clients should trust the CA in {}", ca.display());
    }
    println!("listening on {}", emulator.local_addr());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &[&str] = &[
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

    fn run(extra: &[&str], vars: &[(&str, &str)]) -> Result<EmulatorConfig, String> {
        let argv = REQUIRED.iter().chain(extra).map(|s| s.to_string());
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        parse_args(argv).and_then(|args| config(args, &env))
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
        let err = secret(Some(&missing), "X", &env).unwrap_err();
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
    fn limits_are_flags() {
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
        ] {
            assert!(run(bad, &env).is_err(), "{bad:?}");
        }
    }
}
