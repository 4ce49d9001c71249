//! A local IAM-enabled RDS endpoint in front of a real database.
//!
//! ```sh
//! cargo run --example emulator --features emulator -- \
//!     --engine postgres --listen 127.0.0.1:15432 --backend 127.0.0.1:5432 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432 --region us-east-1 \
//!     --access-key-id AKIDEXAMPLE --secret-access-key SECRET --write-ca /tmp/emulator-ca.pem
//!
//! # MySQL / MariaDB: the same with --engine mysql and a MariaDB or MySQL backend
//! cargo run --example emulator --features emulator -- \
//!     --engine mysql --listen 127.0.0.1:13306 --backend 127.0.0.1:3306 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:3306 --region us-east-1 \
//!     --access-key-id AKIDEXAMPLE --secret-access-key SECRET --write-ca /tmp/emulator-ca.pem
//! ```
//!
//! Prints `listening on <addr>` once ready, then logs each login decision (never the
//! token) to stderr. Stop it with Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use aws_credential_types::Credentials;
use rds_iam::emulator::{Emulator, EmulatorConfig, Engine, TlsIdentity};
use rds_iam::secret::Password;

const USAGE: &str = "\
usage: emulator --engine postgres|mysql --listen 127.0.0.1:PORT --backend 127.0.0.1:PORT
                [--backend-password P] [--backend-user U]
                --endpoint HOST:PORT --region R --access-key-id AK --secret-access-key SK
                [--session-token T] [--cert PEM --key PEM | --write-ca PATH]";

#[derive(Default)]
struct Args {
    engine: Option<Engine>,
    listen: Option<SocketAddr>,
    backend: Option<SocketAddr>,
    backend_password: Option<String>,
    backend_user: Option<String>,
    endpoint: Option<(String, u16)>,
    region: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    write_ca: Option<PathBuf>,
}

fn parse_args(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        let addr = |v: String| {
            v.parse::<SocketAddr>()
                .map_err(|_| format!("{flag} wants IP:PORT (e.g. 127.0.0.1:15432), got {v:?}"))
        };
        match flag.as_str() {
            "--engine" => {
                args.engine = Some(match value()?.as_str() {
                    "postgres" | "postgresql" => Engine::Postgres,
                    "mysql" | "mariadb" => Engine::Mysql,
                    other => return Err(format!("--engine is postgres or mysql, not {other:?}")),
                });
            }
            "--listen" => args.listen = Some(addr(value()?)?),
            "--backend" => args.backend = Some(addr(value()?)?),
            "--backend-password" => args.backend_password = Some(value()?),
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
            "--secret-access-key" => args.secret_access_key = Some(value()?),
            "--session-token" => args.session_token = Some(value()?),
            "--cert" => args.cert = Some(value()?.into()),
            "--key" => args.key = Some(value()?.into()),
            "--write-ca" => args.write_ca = Some(value()?.into()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn config(args: Args) -> Result<EmulatorConfig, String> {
    let need = |name: &str| format!("{name} is required");
    let engine = args.engine.ok_or_else(|| need("--engine"))?;
    let listen = args.listen.ok_or_else(|| need("--listen"))?;
    let backend = args.backend.ok_or_else(|| need("--backend"))?;
    let (host, port) = args.endpoint.ok_or_else(|| need("--endpoint"))?;
    let region = args.region.ok_or_else(|| need("--region"))?;
    let access_key_id = args.access_key_id.ok_or_else(|| need("--access-key-id"))?;
    let secret = args
        .secret_access_key
        .ok_or_else(|| need("--secret-access-key"))?;
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
        secret,
        args.session_token,
        None,
        "emulator-command-line",
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
    if let Some(password) = args.backend_password {
        builder = builder.backend_password(Password::new(password));
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
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match parse_args(std::env::args().skip(1)).and_then(config) {
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
