//! `doctor`: the IAM database authentication troubleshooting list as a command. Runs the
//! stages url, credentials, network, tls, token, login, database in order, stops at the first
//! failure that makes the later ones meaningless, and for each says what was checked, what was
//! found and the fix.
//!
//! ```sh
//! rds-iam doctor \
//!   'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&sslmode=verify-full' \
//!   --user harness_iam_user --ca /etc/ssl/certs/dbops/root_ca.crt
//! ```
//!
//! Every decision is the library's: the plan (what is dialled, signed, verified), the
//! credentials chain and which source answered (`CredentialsProvider::origin`), the TLS check
//! (`inspect_tls`, the connector's own), the token cache, the login and the classification of
//! a refusal (`ConnectError::login_refusal`, whose message lists the likely causes). This
//! module orders the stages and words the report. It never prints a token, a secret key or a
//! password: the library's errors and values hold none.
//!
//! The same module is the root package's `doctor` example (`cargo run --example doctor`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rds_iam::clock::{Clock, ManualClock, SystemClock};
use rds_iam::connect::{ConnectError, LoginRefusal};
use rds_iam::credentials::{
    AccessKeyKind, CredentialsConfig, CredentialsOrigin, ENV_HARNESS_BUILD_TASK_ROLE_ARN,
};
use rds_iam::jdbc::JdbcUrl;
use rds_iam::mysql::{MySqlConnector, MySqlConnectorBuilder};
use rds_iam::plan::{self, ConnectPlan, PlanOverrides, Target};
use rds_iam::postgres::{PgConnector, PgConnectorBuilder};
use rds_iam::provider::TokenProvider;
use rds_iam::setup::{self, Step};
use rds_iam::tls::{CaSource, ServerTls};
use rds_iam::tls_mode::TlsMode;

use super::admin::{self, Session};
use super::connect::{mysql, postgres};
use super::report::{self, Failure};

/// Stages, the admin URL, output and exit codes.
fn after_help() -> String {
    format!(
        "\
Stages, in order: url (prefix, wrapperPlugins=iam, TLS settings, endpoint kind, region, signing \
host), credentials (which source of the default AWS chain answered, key kind, expiry), network \
(DNS and TCP connect time), tls (TLS accepted, chain checked against the CAs used, names, \
expiry), token (what it is signed for, until when; the clock against the server's), login (one \
IAM login; a refusal classified with its likely causes), database (rds_iam membership or the \
MySQL user's plugin, ownership of the Liquibase tables). A failure stops the stages that need \
it; the database stage also runs after a failed login when --admin-url is given.

--admin-url is the connection of a user that can read the catalogs, for the database stage \
after a refused login and for the server's clock: {}

Output: readable lines, or with --json one object {{\"ok\": bool, \"stages\": [{{\"name\", \"ok\", \
\"checked\", \"found\", \"fix\"}}...]}}. Nothing printed holds a token, a secret key or a password.

Exit codes: 0 every stage passed, 1 a stage failed, 2 usage error.",
        admin::URL_HELP
    )
}

/// Check an IAM database login stage by stage and say what to fix
#[derive(Debug, clap::Parser)]
#[command(name = "doctor", after_long_help = after_help())]
pub struct Args {
    /// The JDBC URL the application uses (jdbc:aws-wrapper:...?wrapperPlugins=iam)
    #[arg(value_name = "JDBC_URL")]
    pub url: String,
    /// The database user (instead of the URL's user=)
    #[arg(long)]
    pub user: Option<String>,
    /// Also trust the CA certificates in PEM_FILE (as `connect --ca`)
    #[arg(long, value_name = "PEM_FILE")]
    pub ca: Option<String>,
    /// The JDBC URL of a user that can read the catalogs (the master user), plain with a
    /// password or IAM (see below): for the database stage after a refused login, and the
    /// server's clock
    #[arg(long, value_name = "JDBC_URL")]
    pub admin_url: Option<String>,
    /// Print one JSON object instead of lines
    #[arg(long)]
    pub json: bool,
    /// Sign as if the local clock read this instant (RFC 3339), to reproduce another
    /// machine's clock
    #[arg(long, value_name = "RFC3339", value_parser = instant)]
    pub at: Option<SystemTime>,
}

fn instant(value: &str) -> Result<SystemTime, &'static str> {
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| "an RFC 3339 instant with a time zone is needed, e.g. 2024-02-29T12:34:56Z")
}

/// One stage's outcome.
#[derive(Debug, serde::Serialize)]
pub struct Stage {
    /// `url`, `credentials`, `network`, `tls`, `token`, `login` or `database`.
    pub name: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was checked.
    pub checked: String,
    /// What was found.
    pub found: String,
    /// What to do (also for a stage that passed with a warning), if anything.
    pub fix: Option<String>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    ok: bool,
    stages: &'a [Stage],
}

/// Run the stages and print the report.
pub fn run(args: Args) -> Result<(), Failure> {
    let json = args.json;
    let admin_url = match (&args.admin_url, JdbcUrl::parse(&args.url)) {
        (Some(admin), Ok(url)) => {
            let engine = format!("JDBC_URL is a {} URL", url.engine());
            Some(admin::url(admin, url.engine().is_mysql_family(), &engine)?)
        }
        // An unparsable JDBC_URL fails the url stage, before the admin URL is used.
        _ => None,
    };
    let stages = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::error(&e))?
        .block_on(diagnose(args, admin_url));
    let ok = stages.iter().all(|s| s.ok);
    if json {
        let report = Report {
            ok,
            stages: &stages,
        };
        report::print(&serde_json::to_string(&report).map_err(|e| Failure::error(&e))?);
    } else {
        for stage in &stages {
            report::print(&format!(
                "{} {}: {}",
                if stage.ok { "ok  " } else { "FAIL" },
                stage.name,
                stage.checked
            ));
            report::print(&format!("     found: {}", stage.found));
            if let Some(fix) = &stage.fix {
                report::print(&format!("     fix: {fix}"));
            }
        }
    }
    match stages.iter().find(|s| !s.ok) {
        None => Ok(()),
        Some(failed) => Err(Failure::Error(format!(
            "the {} stage failed: the report on stdout gives the fix",
            failed.name
        ))),
    }
}

/// The stages run so far.
#[derive(Default)]
struct Stages(Vec<Stage>);

impl Stages {
    fn pass(&mut self, name: &'static str, checked: &str, found: String, fix: Option<String>) {
        self.push(name, true, checked, found, fix);
    }

    fn fail(&mut self, name: &'static str, checked: &str, found: String, fix: String) {
        self.push(name, false, checked, found, Some(fix));
    }

    fn push(
        &mut self,
        name: &'static str,
        ok: bool,
        checked: &str,
        found: String,
        fix: Option<String>,
    ) {
        self.0.push(Stage {
            name,
            ok,
            checked: checked.to_owned(),
            found: one_line(&found),
            fix: fix.map(|f| one_line(&f)),
        });
    }

    /// A failure from a library error: found is what the server or driver said (the causes),
    /// the fix is the library's message.
    fn fail_with(
        &mut self,
        name: &'static str,
        checked: &str,
        e: &(dyn std::error::Error + 'static),
    ) {
        let found = e
            .source()
            .map(report::error_line)
            .unwrap_or_else(|| "see the fix".to_owned());
        self.fail(name, checked, found, e.to_string());
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const URL: &str = "the JDBC URL: prefix, wrapperPlugins=iam, TLS settings, endpoint, region, user";
const CREDENTIALS: &str = "the default AWS credentials chain, as the application resolves it";
const NETWORK: &str = "DNS resolution and a TCP connection to each host";
const TLS: &str =
    "TLS as the connector checks it: accepted, chain, names for the signing host, expiry";
const TOKEN: &str = "an IAM token for the first host: what it is signed for, the clock";
const LOGIN: &str = "one IAM login";
const DATABASE: &str = "inside the database: the user's IAM set-up and the Liquibase tables";

/// The token stage's note until the login gives the server's clock.
const AFTER_LOGIN: &str = "the clock is compared with the server's after the login";

/// How far the local clock may be from the server's before tokens fail.
const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

async fn diagnose(args: Args, admin_url: Option<JdbcUrl>) -> Vec<Stage> {
    let mut stages = Stages::default();
    let _ = stages_until_failure(&args, admin_url.as_ref(), &mut stages).await;
    stages.0
}

/// Stopped: a stage failed and the ones after it need what it checks.
struct Stop;

async fn stages_until_failure(
    args: &Args,
    admin_url: Option<&JdbcUrl>,
    stages: &mut Stages,
) -> Result<(), Stop> {
    // url
    let url = match JdbcUrl::parse(&args.url) {
        Ok(url) => url,
        Err(e) => {
            stages.fail(
                "url",
                URL,
                "the URL does not parse".to_owned(),
                e.to_string(),
            );
            return Err(Stop);
        }
    };
    if let Err(e) = plan::require_iam(&url) {
        stages.fail("url", URL, not_iam_found(&url), e.to_string());
        return Err(Stop);
    }
    let mut overrides = PlanOverrides::new();
    if let Some(user) = &args.user {
        overrides = overrides.user(user.clone());
    }
    let plan = match ConnectPlan::resolve(&url, &overrides) {
        Ok(plan) => plan,
        Err(e) => {
            stages.fail("url", URL, "no plan for this URL".to_owned(), e.to_string());
            return Err(Stop);
        }
    };
    let builder = match Builder::from_url(&url, args) {
        Ok(builder) => builder,
        Err(e) => {
            stages.fail_with("url", URL, &e);
            return Err(Stop);
        }
    };
    let (found, fix) = describe_plan(&url, &plan);
    stages.pass("url", URL, found, fix);

    // credentials
    let clock: Arc<dyn Clock> = match args.at {
        Some(at) => Arc::new(ManualClock::new(at)),
        None => Arc::new(SystemClock),
    };
    let built = CredentialsConfig::default_chain()
        .shared_clock(Arc::clone(&clock))
        .build()
        .await;
    let credentials = match built {
        Ok(provider) => provider,
        Err(e) => {
            stages.fail(
                "credentials",
                CREDENTIALS,
                "no credentials provider".into(),
                e.to_string(),
            );
            return Err(Stop);
        }
    };
    let origin = match credentials.credentials().await {
        Ok(found) => {
            let origin = credentials.origin(&found);
            stages.pass(
                "credentials",
                CREDENTIALS,
                describe_credentials(&origin, &found, clock.now()),
                harness_mismatch(&origin),
            );
            origin
        }
        Err(e) => {
            stages.fail(
                "credentials",
                CREDENTIALS,
                "no AWS credentials could be loaded".to_owned(),
                e.to_string(),
            );
            return Err(Stop);
        }
    };
    let tokens = TokenProvider::builder(credentials.clone())
        .shared_clock(Arc::clone(&clock))
        .lifetime_from_url(&url)
        .build();

    // network
    network(&plan.targets, stages).await?;

    // tls
    let connector = match builder.build(tokens.clone()).await {
        Ok(connector) => connector,
        Err(e) => {
            stages.fail(
                "tls",
                TLS,
                "the TLS client could not be set up".to_owned(),
                e.to_string(),
            );
            return Err(Stop);
        }
    };
    // The connector's own first target (the same plan, as the connector holds it).
    let target = &connector.targets()[0];
    match connector.inspect_tls(target).await {
        Ok(tls) => {
            let (found, fix) = describe_tls(&tls, clock.now());
            stages.pass("tls", TLS, found, fix);
        }
        Err(e) => {
            stages.fail_with("tls", TLS, &e);
            return Err(Stop);
        }
    }

    // token
    let mut admin = match admin_url {
        Some(url) => {
            let tokens = TokenProvider::builder(credentials.clone())
                .lifetime_from_url(url)
                .build();
            Some(admin::connect(url, None, args.ca.as_deref(), Some(tokens)).await)
        }
        None => None,
    };
    let token = match tokens.token(&target.token).await {
        Ok(token) => token,
        Err(e) => {
            stages.fail(
                "token",
                TOKEN,
                report::error_line(&e),
                "fix what the error names (most often the credentials' expiry or the clock)"
                    .to_owned(),
            );
            return Err(Stop);
        }
    };
    let signed = format!(
        "signed for {}:{} in {} for user `{}` at {} by {}, valid until {} (the token itself is \
         never printed)",
        target.token.host,
        target.token.port,
        target.token.region,
        target.token.user,
        rfc3339(token.signed_at()),
        origin,
        rfc3339(token.valid_until()),
    );
    drop(token);
    let admin_time = match admin.as_mut() {
        Some(Ok(session)) => session.server_time().await.ok(),
        _ => None,
    };
    match admin_time.map(|server| skew(server, clock.now())) {
        Some(Err(found)) => {
            stages.fail(
                "token",
                TOKEN,
                format!("{signed}; {found}"),
                CLOCK_FIX.to_owned(),
            );
            return Err(Stop);
        }
        Some(Ok(found)) => stages.pass("token", TOKEN, format!("{signed}; {found}"), None),
        None => stages.pass("token", TOKEN, format!("{signed}; {AFTER_LOGIN}"), None),
    }
    let token_stage = stages.0.len() - 1;

    // login
    let session = match connector.login().await {
        Ok(mut session) => {
            let (who, time) = session.whoami().await;
            stages.pass("login", LOGIN, format!("logged in as {who}"), None);
            if let Some(server) = time {
                let stage = &mut stages.0[token_stage];
                match skew(server, clock.now()) {
                    Ok(found) => stage.found = stage.found.replace(AFTER_LOGIN, &found),
                    Err(found) => {
                        stage.found = stage.found.replace(AFTER_LOGIN, &found);
                        stage.fix = Some(CLOCK_FIX.to_owned());
                    }
                }
            }
            Some(session)
        }
        Err(e) => {
            let (found, mut fix) = describe_refusal(&e, &plan, &origin);
            if admin_url.is_none() && e.login_refusal().is_some() {
                fix.push_str(
                    "; to check the user inside the database (rds_iam membership, plugin, \
                     Liquibase tables), run the doctor again with --admin-url and the master \
                     user's URL (plain with its password, or IAM)",
                );
            }
            stages.fail("login", LOGIN, found, fix);
            None
        }
    };

    // database
    let (mut session, whose) = match (session, admin) {
        (Some(session), _) => (session, "the IAM user's own connection"),
        (None, Some(Ok(admin))) => (admin, "the --admin-url connection"),
        (None, Some(Err(e))) => {
            stages.fail(
                "database",
                DATABASE,
                format!("the --admin-url login failed: {}", report::error_line(&*e)),
                format!(
                    "give --admin-url the URL of a user that can log in (the master user): a \
                     plain URL with its password in the URL or in {}, or an IAM URL",
                    admin::PASSWORD_VARIABLE
                ),
            );
            return Err(Stop);
        }
        (None, None) => return Err(Stop),
    };
    let db = plan.database.as_deref().unwrap_or("postgres");
    database(&mut session, &plan.user, db, whose, stages).await;
    Ok(())
}

/// What the URL says when it does not enable IAM.
fn not_iam_found(url: &JdbcUrl) -> String {
    if url.is_aws_wrapper() {
        "a jdbc:aws-wrapper: URL without wrapperPlugins=iam".to_owned()
    } else {
        format!(
            "a plain jdbc:{}: URL, not jdbc:aws-wrapper:{}:",
            url.engine(),
            url.engine()
        )
    }
}

fn describe_plan(url: &JdbcUrl, plan: &ConnectPlan) -> (String, Option<String>) {
    let hosts: Vec<String> = plan
        .targets
        .iter()
        .map(|t| {
            format!(
                "{t} ({} endpoint, region {})",
                t.endpoint.kind, t.token.region
            )
        })
        .collect();
    let ca = plan
        .tls
        .ca_file()
        .map(|f| format!(", CA file {f}"))
        .unwrap_or_default();
    let found = format!(
        "{} URL with wrapperPlugins=iam; user `{}`; database {}; TLS mode {}{ca}; {}",
        url.engine(),
        plan.user,
        plan.database.as_deref().unwrap_or("(none)"),
        plan.tls.mode(),
        hosts.join(", ")
    );
    let mut fixes = Vec::new();
    if plan.tls.mode() == TlsMode::Require {
        fixes.push(
            "sslmode=require encrypts but does not authenticate the server, which receives the \
             token: use sslmode=verify-full (MySQL: sslMode=VERIFY_IDENTITY) with the RDS CA \
             bundle",
        );
    }
    if plan.targets.iter().any(|t| !t.endpoint.kind.is_rds()) {
        fixes.push(
            "a host that is not an RDS endpoint name is signed for as written: RDS accepts only \
             tokens for its own endpoint name, so set iamHost to it when dialling a tunnel, an \
             IP address or a custom DNS name",
        );
    }
    (found, (!fixes.is_empty()).then(|| fixes.join("; ")))
}

fn describe_credentials(
    origin: &CredentialsOrigin,
    credentials: &aws_credential_types::Credentials,
    now: SystemTime,
) -> String {
    let id = credentials.access_key_id();
    let prefix: String = id.chars().take(4).collect();
    let kind = AccessKeyKind::of(id);
    let expiry = match credentials.expiry() {
        Some(at) => format!(
            "expire {} (in {})",
            rfc3339(at),
            minutes(at.duration_since(now).unwrap_or_default())
        ),
        None => "no expiry".to_owned(),
    };
    format!("from {origin}; access key {prefix}... ({kind}); {expiry}")
}

/// The Harness build-task role variable is set, but the credentials came from elsewhere.
fn harness_mismatch(origin: &CredentialsOrigin) -> Option<String> {
    let arn = std::env::var(ENV_HARNESS_BUILD_TASK_ROLE_ARN).ok()?;
    if matches!(origin, CredentialsOrigin::Container { .. }) {
        return None;
    }
    Some(format!(
        "{ENV_HARNESS_BUILD_TASK_ROLE_ARN} is `{arn}`, but the credentials came from {origin}: \
         the token is signed by that identity, not by the build task role"
    ))
}

async fn network(targets: &[Target], stages: &mut Stages) -> Result<(), Stop> {
    const LIMIT: Duration = Duration::from_secs(5);
    let mut found = Vec::new();
    let mut failure = None;
    for target in targets {
        let dial = &target.dial;
        let started = Instant::now();
        let addrs = tokio::time::timeout(
            LIMIT,
            tokio::net::lookup_host((dial.host.as_str(), dial.port)),
        )
        .await
        .unwrap_or_else(|_| {
            Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "DNS did not answer in 5 s",
            ))
        });
        let addr = match addrs.map(|mut a| a.next()) {
            Ok(Some(addr)) => addr,
            Ok(None) => {
                failure.get_or_insert((target, "the host name resolves to no address".into()));
                continue;
            }
            Err(e) => {
                failure.get_or_insert((target, e.to_string()));
                continue;
            }
        };
        let resolved = started.elapsed();
        let started = Instant::now();
        match tokio::time::timeout(LIMIT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => found.push(format!(
                "{dial} is {} (DNS {}), TCP connect {}",
                addr.ip(),
                millis(resolved),
                millis(started.elapsed())
            )),
            Ok(Err(e)) => {
                failure.get_or_insert((target, format!("{} at {addr}", e)));
            }
            Err(_) => {
                failure.get_or_insert((target, format!("no TCP answer from {addr} in 5 s")));
            }
        }
    }
    match failure {
        Some((target, detail)) if found.is_empty() => {
            let e = ConnectError::Unreachable {
                server: target.to_string(),
                source: detail.clone().into(),
            };
            stages.fail("network", NETWORK, detail, e.to_string());
            Err(Stop)
        }
        Some((target, detail)) => {
            found.push(format!("{target}: {detail}"));
            stages.pass("network", NETWORK, found.join("; "), None);
            Ok(())
        }
        None => {
            stages.pass("network", NETWORK, found.join("; "), None);
            Ok(())
        }
    }
}

fn describe_tls(tls: &ServerTls, now: SystemTime) -> (String, Option<String>) {
    let names = if tls.names.is_empty() {
        "no DNS names".to_owned()
    } else {
        tls.names.join(", ")
    };
    let checked = match tls.mode {
        TlsMode::VerifyFull => format!("chain and name verified against {}", tls.trusted),
        TlsMode::VerifyCa => format!("chain verified against {} (name not checked)", tls.trusted),
        TlsMode::Require => "nothing verified (TLS mode require)".to_owned(),
    };
    let covers = if tls.covers_name {
        "covers"
    } else {
        "does not cover"
    };
    let mut fixes = Vec::new();
    let expiry = match tls.not_after {
        Some(at) => match at.duration_since(now) {
            Ok(left) => {
                if left < Duration::from_secs(30 * 86_400) {
                    fixes.push(
                        "the certificate expires within 30 days: rotate the instance's \
                         certificate authority (RDS: modify the DB instance's CA)"
                            .to_owned(),
                    );
                }
                format!(
                    "expires {} (in {} days)",
                    rfc3339(at),
                    left.as_secs() / 86_400
                )
            }
            Err(_) => {
                fixes.push("the certificate has expired: rotate the instance's certificate".into());
                format!("expired {}", rfc3339(at))
            }
        },
        None => "expiry unreadable".to_owned(),
    };
    if !tls.covers_name {
        fixes.push(format!(
            "the certificate's names do not cover `{}`: connect with a name it carries, or set \
             iamHost to the RDS endpoint name",
            tls.name
        ));
    }
    if tls.mode == TlsMode::Require {
        fixes.push(
            "use sslmode=verify-full (MySQL: sslMode=VERIFY_IDENTITY) with the RDS CA bundle, so \
             that only the database receives the token"
                .to_owned(),
        );
    }
    let found = format!(
        "TLS accepted; {checked}; certificate for {names} ({covers} `{}`); {expiry}",
        tls.name
    );
    (found, (!fixes.is_empty()).then(|| fixes.join("; ")))
}

const CLOCK_FIX: &str = "sync this machine's clock (NTP: chronyd, systemd-timesyncd): a token is \
    valid for 15 minutes from its signing time, and RDS refuses one signed too far from its own \
    clock";

/// The clock against the server's: `Ok` with a note when close, `Err` when off by more than
/// [`MAX_SKEW`].
fn skew(server: SystemTime, local: SystemTime) -> Result<String, String> {
    let (off, way) = match local.duration_since(server) {
        Ok(ahead) => (ahead, "ahead of"),
        Err(behind) => (behind.duration(), "behind"),
    };
    let text = format!(
        "the local clock is {}s {way} the database server's",
        off.as_secs()
    );
    if off > MAX_SKEW { Err(text) } else { Ok(text) }
}

fn describe_refusal(
    e: &ConnectError,
    plan: &ConnectPlan,
    origin: &CredentialsOrigin,
) -> (String, String) {
    let user = plan.user.as_str();
    let said = std::error::Error::source(e)
        .map(report::error_line)
        .unwrap_or_default();
    let Some(refusal) = e.login_refusal() else {
        return (said, e.to_string());
    };
    let found = format!("{refusal}; the server said: {said}");
    let mut fixes = Vec::new();
    if user.chars().any(|c| c.is_ascii_uppercase())
        && matches!(
            refusal,
            LoginRefusal::Pam | LoginRefusal::AccessDenied | LoginRefusal::Other
        )
    {
        fixes.push(format!(
            "first: the user name `{user}` has upper-case letters: it must match the database \
             user and the IAM policy's resource ARN exactly, case included{}",
            if plan.engine.is_mysql_family() {
                String::new()
            } else {
                format!(
                    " (PostgreSQL folds unquoted names to lower case: CREATE USER {user} makes \
                     `{}`)",
                    user.to_lowercase()
                )
            }
        ));
    }
    if let Some(mismatch) = harness_mismatch(origin) {
        fixes.push(mismatch);
    }
    fixes.push(e.to_string());
    (found, fixes.join("; "))
}

async fn database(
    session: &mut Session,
    user: &str,
    database: &str,
    whose: &str,
    stages: &mut Stages,
) {
    let checked = format!("{DATABASE} (through {whose})");
    let result = match session {
        Session::Pg(client) => postgres_checks(client, user, database).await,
        Session::MySql(conn) => mysql_checks(conn, user).await,
    };
    match result {
        Ok(Checks { found, problems }) if problems.is_empty() => {
            stages.pass("database", &checked, found.join("; "), None)
        }
        Ok(Checks { found, problems }) => {
            stages.fail("database", &checked, found.join("; "), problems.join("; "))
        }
        Err(e) => stages.fail(
            "database",
            &checked,
            format!("the catalog queries failed: {}", report::error_line(&*e)),
            "run the doctor with --admin-url (a user that can read the catalogs)".to_owned(),
        ),
    }
}

#[derive(Default)]
struct Checks {
    found: Vec<String>,
    problems: Vec<String>,
}

type BoxError = Box<dyn std::error::Error>;

/// `statements`' SQL of `steps`, as one line to run.
fn sql_of(statements: &[setup::Statement], steps: &[Step]) -> String {
    statements
        .iter()
        .filter(|s| steps.contains(&s.step))
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The seed's checks on PostgreSQL: the user exists (exact name), its `rds_iam` membership
/// (the seed's query), and who owns and may write the Liquibase tables. The fixes are the SQL
/// of `rds_iam::setup` (what `rds-iam setup` prints).
async fn postgres_checks(
    client: &tokio_postgres::Client,
    user: &str,
    database: &str,
) -> Result<Checks, BoxError> {
    let mut checks = Checks::default();
    let exists = client
        .query("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&user])
        .await?;
    let setup_sql = |owner: Option<&str>, steps: &[Step]| {
        setup::postgres(user, database, owner)
            .map(|statements| sql_of(&statements, steps))
            .unwrap_or_else(|e| e.to_string())
    };
    if exists.is_empty() {
        let folded = user.to_lowercase();
        checks.found.push(format!("no database user `{user}`"));
        let case = if folded != user {
            format!(
                "user names are case-sensitive (`{user}` is not `{folded}`): use the exact name in \
                 the URL and the IAM policy, or "
            )
        } else {
            String::new()
        };
        checks.problems.push(format!(
            "{case}create it as the master user (rds-iam setup --engine postgres --user '{user}' \
             prints the whole set-up): {}",
            setup_sql(None, &[Step::CreateUser, Step::GrantRdsIam])
        ));
        return Ok(checks);
    }
    // The seed's query: the roles the user is a member of.
    let roles: Vec<String> = client
        .query(
            "SELECT rolname::text FROM pg_roles WHERE oid IN (SELECT roleid FROM pg_auth_members \
             WHERE member = (SELECT oid FROM pg_roles WHERE rolname = $1))",
            &[&user],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let rds_iam_exists = !client
        .query("SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam'", &[])
        .await?
        .is_empty();
    if roles.iter().any(|r| r == "rds_iam") {
        checks
            .found
            .push(format!("`{user}` is a member of rds_iam"));
    } else if rds_iam_exists {
        let of = if roles.is_empty() {
            "nothing".to_owned()
        } else {
            roles.join(", ")
        };
        checks.found.push(format!(
            "`{user}` is not a member of rds_iam (member of: {of})"
        ));
        checks.problems.push(format!(
            "as the master user: {} (without it RDS refuses every IAM login of the user with \
             `PAM authentication failed`)",
            setup_sql(None, &[Step::GrantRdsIam])
        ));
    } else {
        checks
            .found
            .push("no rds_iam role in this database (not RDS): membership not checked".into());
    }
    // Liquibase's tables: who owns them, whether the user may write them.
    let tables = client
        .query(
            "SELECT c.relnamespace::regnamespace::text, c.relname::text, \
             pg_get_userbyid(c.relowner)::text, \
             pg_has_role($1, c.relowner, 'USAGE') OR \
              (has_table_privilege($1, c.oid, 'INSERT') AND \
               has_table_privilege($1, c.oid, 'UPDATE') AND \
               has_table_privilege($1, c.oid, 'DELETE')) \
             FROM pg_class c WHERE c.relkind = 'r' \
             AND c.relname IN ('databasechangelog', 'databasechangeloglock') ORDER BY 2",
            &[&user],
        )
        .await?;
    if tables.is_empty() {
        checks.found.push("no Liquibase tables yet".into());
    }
    let mut owners = Vec::new();
    for row in &tables {
        let (schema, table, owner, writable): (String, String, String, bool) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        if writable {
            checks.found.push(format!(
                "{schema}.{table} (owner {owner}) is writable by `{user}`"
            ));
        } else {
            checks.found.push(format!(
                "{schema}.{table} is owned by {owner} and `{user}` cannot write it"
            ));
            if !owners.contains(&owner) {
                owners.push(owner);
            }
        }
    }
    for owner in owners {
        checks.problems.push(format!(
            "Liquibase fails with `permission denied` on these tables: give {owner} and `{user}` \
             shared ownership, as the master user (rds-iam setup --liquibase-shared-owner prints \
             the same): {}",
            setup_sql(
                Some(&owner),
                &[
                    Step::LiquibaseGroup,
                    Step::LiquibaseMembers,
                    Step::LiquibaseOwnership,
                    Step::LiquibaseGrants,
                ],
            )
        ));
    }
    Ok(checks)
}

/// The checks on MySQL/MariaDB: the user exists, and authenticates with
/// `AWSAuthenticationPlugin` (where the server has it).
async fn mysql_checks(conn: &mut mysql_async::Conn, user: &str) -> Result<Checks, BoxError> {
    use mysql_async::prelude::Queryable;
    let mut checks = Checks::default();
    let installed: Option<u64> = conn
        .query_first(
            "SELECT COUNT(*) FROM information_schema.PLUGINS \
             WHERE PLUGIN_NAME = 'AWSAuthenticationPlugin'",
        )
        .await?;
    let installed = installed.unwrap_or(0) > 0;
    let plugins: Result<Vec<String>, _> = conn
        .exec(
            "SELECT DISTINCT plugin FROM mysql.user WHERE user = ?",
            (user,),
        )
        .await;
    let account = setup::mysql_account(user);
    match plugins {
        Ok(plugins) if plugins.is_empty() => {
            checks.found.push(format!("no database user `{user}`"));
            let create = setup::mysql(user, None)
                .map(|s| sql_of(&s, &[Step::CreateUser]))
                .unwrap_or_else(|e| e.to_string());
            checks.problems.push(format!(
                "create it as the master user (user names are case-sensitive): {create}"
            ));
        }
        Ok(plugins) => {
            let plugins = plugins.join(", ");
            if !installed {
                checks.found.push(format!(
                    "`{user}` authenticates with {plugins}; this server has no \
                     AWSAuthenticationPlugin (not RDS): the plugin is not checked"
                ));
            } else if plugins == "AWSAuthenticationPlugin" {
                checks.found.push(format!(
                    "`{user}` is IDENTIFIED WITH AWSAuthenticationPlugin"
                ));
            } else {
                checks
                    .found
                    .push(format!("`{user}` authenticates with {plugins}"));
                checks.problems.push(format!(
                    "as the master user: ALTER USER {account} IDENTIFIED WITH \
                     AWSAuthenticationPlugin AS 'RDS';"
                ));
            }
        }
        Err(e) => checks.found.push(format!(
            "mysql.user is not readable here ({}): the plugin is not checked (use --admin-url)",
            report::error_line(&e)
        )),
    }
    Ok(checks)
}

/// The connector builder of the URL's engine, with the command's flags applied.
enum Builder {
    Pg(PgConnectorBuilder),
    MySql(MySqlConnectorBuilder),
}

impl Builder {
    fn from_url(url: &JdbcUrl, args: &Args) -> Result<Self, ConnectError> {
        let (user, ca) = (args.user.as_deref(), args.ca.as_deref());
        Ok(if url.engine().is_mysql_family() {
            let mut b = MySqlConnector::from_url(url)?;
            if let Some(user) = user {
                b = b.user(user);
            }
            if let Some(ca) = ca {
                b = b.ca(CaSource::file(ca));
            }
            Self::MySql(b)
        } else {
            let mut b = PgConnector::from_url(url)?;
            if let Some(user) = user {
                b = b.user(user);
            }
            if let Some(ca) = ca {
                b = b.ca(CaSource::file(ca));
            }
            Self::Pg(b)
        })
    }

    async fn build(self, tokens: TokenProvider) -> Result<Connector, ConnectError> {
        Ok(match self {
            Self::Pg(b) => Connector::Pg(b.token_provider(tokens).build().await?),
            Self::MySql(b) => Connector::MySql(b.token_provider(tokens).build().await?),
        })
    }
}

enum Connector {
    Pg(PgConnector),
    MySql(MySqlConnector),
}

impl Connector {
    fn targets(&self) -> &[Target] {
        match self {
            Self::Pg(c) => c.targets(),
            Self::MySql(c) => c.targets(),
        }
    }

    async fn inspect_tls(&self, target: &Target) -> Result<ServerTls, ConnectError> {
        match self {
            Self::Pg(c) => c.inspect_tls(target).await,
            Self::MySql(c) => c.inspect_tls(target).await,
        }
    }

    async fn login(&self) -> Result<Session, ConnectError> {
        Ok(match self {
            Self::Pg(c) => {
                let (client, connection) = c.connect().await?;
                tokio::spawn(connection);
                Session::Pg(client)
            }
            Self::MySql(c) => Session::MySql(c.connect().await?),
        })
    }
}

impl Session {
    /// `current_user` and version, and the server's clock.
    async fn whoami(&mut self) -> (String, Option<SystemTime>) {
        let sql = match self {
            Self::Pg(_) => "SELECT current_user::text, version(), extract(epoch from now())::text",
            Self::MySql(_) => "SELECT CURRENT_USER(), VERSION(), UNIX_TIMESTAMP(NOW(6))",
        };
        match self.query(sql).await {
            Ok(rows) if !rows.is_empty() => {
                let row = &rows[0];
                let field = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
                (format!("{} ({})", field(0), field(1)), epoch(&field(2)))
            }
            _ => ("the user (its name could not be read)".to_owned(), None),
        }
    }

    async fn server_time(&mut self) -> Result<SystemTime, BoxError> {
        let sql = match self {
            Self::Pg(_) => "SELECT extract(epoch from now())::text",
            Self::MySql(_) => "SELECT UNIX_TIMESTAMP(NOW(6))",
        };
        let rows = self.query(sql).await?;
        rows.first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|t| epoch(&t))
            .ok_or_else(|| "the server's time could not be read".into())
    }

    async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, BoxError> {
        match self {
            Self::Pg(client) => postgres::query(client, sql).await,
            Self::MySql(conn) => mysql::query(conn, sql).await,
        }
    }
}

/// Seconds since the epoch, as text (`1764582000.123456`).
fn epoch(text: &str) -> Option<SystemTime> {
    let secs: f64 = text.trim().parse().ok()?;
    (secs >= 0.0).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs))
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "?".to_owned())
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn minutes(d: Duration) -> String {
    format!("{} min", d.as_secs() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_fails_beyond_five_minutes() {
        let server = SystemTime::UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        assert_eq!(
            skew(server, server + Duration::from_secs(42)),
            Ok("the local clock is 42s ahead of the database server's".to_owned())
        );
        assert_eq!(
            skew(server, server - Duration::from_secs(1200)),
            Err("the local clock is 1200s behind the database server's".to_owned())
        );
        assert!(skew(server, server + MAX_SKEW).is_ok());
    }
}
