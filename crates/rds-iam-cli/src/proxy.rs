//! `proxy`: a local IAM login proxy for tools that cannot embed the library (psql, the mariadb
//! command, Liquibase, Flyway, GUI clients).
//!
//! ```sh
//! rds-iam proxy 'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&user=harness_iam_user' &
//! liquibase --url=jdbc:postgresql://127.0.0.1:5432/postgres --username=harness_iam_user update
//! rds-iam proxy 'jdbc:aws-wrapper:mysql://my-db.abc123.us-east-1.rds.amazonaws.com:3306/app?wrapperPlugins=iam&user=harness_iam_user' &
//! flyway -url=jdbc:mariadb://127.0.0.1:3306/app -user=harness_iam_user migrate
//! ```
//!
//! A thin layer over `rds_iam::proxy` (feature `proxy`): flags to builder methods, signals to
//! [`RunningProxy::shutdown`](rds_iam::proxy::RunningProxy::shutdown). Prints `listening on
//! ADDR` once ready.

use std::net::SocketAddr;
use std::time::Duration;

use rds_iam::jdbc::JdbcUrl;
use rds_iam::proxy::ProxyBuilder;

use super::report::{self, Failure};

const AFTER_HELP: &str = "\
Clients connect to the proxy in plaintext, with sslmode=disable or prefer and no password \
(any password is ignored); the proxy dials the database of the JDBC URL, verifies its \
certificate as the URL says, logs in with an IAM token from its token cache (the default AWS \
credentials chain) as the user the client names, and relays. The token never leaves the \
proxy except over that verified TLS connection, and is never logged.

Anyone who can connect to the proxy logs in as the IAM user: it listens on loopback unless \
--allow-non-loopback is given.

On SIGTERM or SIGINT the proxy stops accepting, waits up to --max-sigterm-delay for the open \
sessions to end, closes the rest and exits: 143 (SIGTERM) or 130 (SIGINT), or 0 with \
--exit-zero-on-sigterm.

Exit codes: 0 stopped as asked, 1 failure (the URL, the CAs, the credentials, the address, or \
--run-connection-test's login), 2 usage error.";

/// Run a local IAM login proxy: clients connect without a password
///
/// PostgreSQL, MySQL and MariaDB clients (as the URL's engine) connect to --listen (default
/// 127.0.0.1 and the engine's port, 5432 or 3306, or the next free one) and are logged in to
/// the database of the JDBC URL with IAM tokens.
#[derive(Debug, clap::Parser)]
#[command(name = "proxy", after_long_help = AFTER_HELP)]
pub struct Args {
    /// The database's JDBC URL (jdbc:aws-wrapper:postgresql|mysql|mariadb://HOST:PORT/DB?wrapperPlugins=iam&user=USER)
    #[arg(value_name = "JDBC_URL")]
    pub url: String,
    /// Where clients connect (default 127.0.0.1 and 5432 or 3306, or the next free port)
    #[arg(long, value_name = "IP:PORT")]
    pub listen: Option<SocketAddr>,
    /// Also listen on the Unix socket DIR/.s.PGSQL.5432 or DIR/mysql.sock (owner-only)
    #[arg(long, value_name = "DIR")]
    pub unix_socket: Option<std::path::PathBuf>,
    /// Allow --listen on an address that is not loopback (anyone who reaches it logs in)
    #[arg(long)]
    pub allow_non_loopback: bool,
    /// A database user clients may log in as (repeatable; default: the URL's user)
    #[arg(long = "user", value_name = "NAME")]
    pub users: Vec<String>,
    /// At most this many client sessions at once; the next client gets an error
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds a client has for its start-up, and the proxy for the login to the database
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = seconds)]
    pub handshake_timeout: Duration,
    /// Close sessions idle for this many seconds (default: never)
    #[arg(long, value_name = "SECONDS", value_parser = seconds)]
    pub idle_timeout: Option<Duration>,
    /// Seconds to wait for open sessions after SIGTERM or SIGINT before closing them
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = seconds_or_zero)]
    pub max_sigterm_delay: Duration,
    /// Exit with 0 (not 143 or 130) when stopped by SIGTERM or SIGINT
    #[arg(long)]
    pub exit_zero_on_sigterm: bool,
    /// Serve /startup, /readiness, /liveness and /metrics (Prometheus) over HTTP here
    #[arg(long, value_name = "IP:PORT")]
    pub http_address: Option<SocketAddr>,
    /// Log lines as text, or as JSON objects with severity and message (and the event's fields)
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log in to the database once at start (TLS, token, login) and exit 1 if that fails
    #[arg(long)]
    pub run_connection_test: bool,
}

/// How the proxy logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Lines of text (the command's usual stderr).
    Text,
    /// One JSON object a line: `severity`, `message`, `target` and the event's fields.
    Json,
}

fn seconds(value: &str) -> Result<Duration, &'static str> {
    match seconds_or_zero(value)? {
        d if d.is_zero() => Err("seconds above 0 are needed (e.g. 10 or 0.5)"),
        d => Ok(d),
    }
}

fn seconds_or_zero(value: &str) -> Result<Duration, &'static str> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or("seconds are needed (e.g. 10 or 0.5)")
}

/// The builder for `args`.
fn builder(args: &Args) -> Result<ProxyBuilder, Failure> {
    let url = JdbcUrl::parse(&args.url).map_err(|e| Failure::error(&e))?;
    let mut builder = ProxyBuilder::from_url(&url)
        .map_err(|e| Failure::error(&e))?
        .allow_non_loopback(args.allow_non_loopback)
        .handshake_timeout(args.handshake_timeout);
    if let Some(listen) = args.listen {
        builder = builder.listen(listen);
    }
    for user in &args.users {
        builder = builder.allow_user(user);
    }
    if let Some(n) = args.max_connections {
        builder = builder.max_connections(n);
    }
    if let Some(idle) = args.idle_timeout {
        builder = builder.idle_timeout(idle);
    }
    #[cfg(unix)]
    if let Some(dir) = &args.unix_socket {
        builder = builder.unix_socket(dir);
    }
    if let Some(http) = args.http_address {
        builder = builder.http_address(http);
    }
    Ok(builder)
}

/// Start the proxy as `args` say, print `listening on ADDR`, serve until SIGTERM or SIGINT.
pub fn run(args: Args) -> Result<(), Failure> {
    let builder = builder(&args)?;
    let json = args.log_format == LogFormat::Json;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    // JSON: this command's subscriber on every thread of its runtime (the process-wide one,
    // text, is set before the arguments are read).
    let _main_thread = json.then(|| {
        let dispatch = json_logs::dispatch();
        let for_workers = dispatch.clone();
        runtime.on_thread_start(move || {
            std::mem::forget(tracing::dispatcher::set_default(&for_workers));
        });
        tracing::dispatcher::set_default(&dispatch)
    });
    let say = |message: &str| {
        if json {
            tracing::warn!(target: "rds_iam::proxy", "{message}");
        } else {
            eprintln!("{message}");
        }
    };
    let runtime = runtime.build().map_err(|e| Failure::error(&e))?;
    let signal = runtime.block_on(async {
        let proxy = builder.start().await.map_err(|e| Failure::error(&e))?;
        if args.run_connection_test {
            proxy.test_login().await.map_err(|e| Failure::error(&e))?;
            say("connection test: logged in to the database");
        }
        if let Some(http) = proxy.http_addr() {
            say(&format!(
                "health and metrics on http://{http}/ (startup, readiness, liveness, metrics)"
            ));
        }
        report::print(&format!("listening on {}", proxy.local_addr()));
        let signal = stopped().await?;
        let open = proxy.metrics().connections_open;
        say(&format!(
            "stopping ({signal:?}): no new clients; waiting up to {:?} for {open} open \
             session(s)",
            args.max_sigterm_delay
        ));
        let done = proxy.shutdown(args.max_sigterm_delay).await;
        if done.closed > 0 {
            say(&format!("closed {} session(s) still open", done.closed));
        }
        Ok::<_, Failure>(signal)
    })?;
    drop(runtime);
    if args.exit_zero_on_sigterm {
        return Ok(());
    }
    std::process::exit(match signal {
        Signal::Term => 143,
        Signal::Int => 130,
    })
}

#[derive(Debug, Clone, Copy)]
enum Signal {
    Term,
    Int,
}

/// The first SIGTERM or SIGINT.
async fn stopped() -> Result<Signal, Failure> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| Failure::error(&e))?;
        tokio::select! {
            _ = term.recv() => Ok(Signal::Term),
            result = tokio::signal::ctrl_c() => result.map(|()| Signal::Int).map_err(|e| Failure::error(&e)),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map(|()| Signal::Int)
            .map_err(|e| Failure::error(&e))
    }
}

/// `--log-format json`: one JSON object a line on stderr.
mod json_logs {
    use std::fmt;

    use serde_json::{Map, Value};
    use tracing::field::{Field, Visit};
    use tracing::{Event, Level, Subscriber};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
    use tracing_subscriber::registry::LookupSpan;

    /// A subscriber writing [`JsonLine`]s to stderr, filtered by `RUST_LOG` (default: info
    /// from the proxy, warnings from the rest).
    pub fn dispatch() -> tracing::Dispatch {
        let filter = EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("warn,rds_iam::proxy=info,aws_config=error"));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .event_format(JsonLine)
            .finish()
            .into()
    }

    /// `{"severity":"INFO","message":"...","target":"...", fields...}`.
    pub struct JsonLine;

    impl<S, N> FormatEvent<S, N> for JsonLine
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        N: for<'a> FormatFields<'a> + 'static,
    {
        fn format_event(
            &self,
            _: &FmtContext<'_, S, N>,
            mut writer: Writer<'_>,
            event: &Event<'_>,
        ) -> fmt::Result {
            let mut fields = Map::new();
            event.record(&mut Fields(&mut fields));
            let severity = match *event.metadata().level() {
                Level::ERROR => "ERROR",
                Level::WARN => "WARNING",
                Level::INFO => "INFO",
                Level::DEBUG | Level::TRACE => "DEBUG",
            };
            let mut line = Map::new();
            line.insert("severity".into(), severity.into());
            line.insert(
                "message".into(),
                fields.remove("message").unwrap_or_else(|| "".into()),
            );
            line.insert("target".into(), event.metadata().target().into());
            line.extend(fields);
            writeln!(writer, "{}", Value::Object(line))
        }
    }

    struct Fields<'a>(&'a mut Map<String, Value>);

    impl Visit for Fields<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0
                .insert(field.name().to_owned(), format!("{value:?}").into());
        }

        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.insert(field.name().to_owned(), value.into());
        }

        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.insert(field.name().to_owned(), value.into());
        }

        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0.insert(field.name().to_owned(), value.into());
        }

        fn record_bool(&mut self, field: &Field, value: bool) {
            self.0.insert(field.name().to_owned(), value.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn flags() {
        let args = Args::try_parse_from([
            "proxy",
            "jdbc:aws-wrapper:postgresql://db.abc123.us-east-1.rds.amazonaws.com/app?user=u",
            "--listen",
            "127.0.0.1:0",
            "--user",
            "a",
            "--user",
            "b",
            "--idle-timeout",
            "1.5",
        ])
        .unwrap();
        assert_eq!(args.users, ["a", "b"]);
        assert_eq!(args.idle_timeout, Some(Duration::from_millis(1500)));
        assert_eq!(args.handshake_timeout, Duration::from_secs(30));
        assert!(builder(&args).is_ok());
        let err = Args::try_parse_from(["proxy", "jdbc:x", "--idle-timeout", "0"]).unwrap_err();
        assert!(err.to_string().contains("above 0"), "{err}");
    }
}
