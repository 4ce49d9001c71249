//! A throw-away PostgreSQL server for live tests.
//!
//! [`PgServer::start`] runs the machine's own `initdb` into a fresh directory under
//! `/tmp` and starts `postgres` on a free loopback port (never 5432, never a running
//! service), with the unix socket in that directory. As root it runs both as the
//! `postgres` user (PostgreSQL refuses to run as root).
//!
//! Shutdown: the server runs under the guardian of [`super::server`]: when the
//! `PgServer` is dropped, or the test binary exits (even by a signal), it stops
//! PostgreSQL (fast shutdown) and removes the directory. So the per-binary [`shared`] server, which is never dropped, is
//! still cleaned up.
//!
//! [`shared`] is one server per test binary, started on first use (about a second):
//! TLS on (certificate from a test CA for `localhost`/`127.0.0.1`), loopback `trust`
//! by default, and per-role methods by group membership: roles made with
//! [`PgServer::create_role`] and [`RoleAuth::Password`] get `password` (cleartext, as
//! RDS asks), [`RoleAuth::Md5`] `md5`, [`RoleAuth::Scram`] `scram-sha-256`.
//!
//! A missing binary is a test failure with a message saying what to install.

use std::fmt::Write as _;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::ca::{ServerCert, TestCa};
use super::server::{
    self, Guarded, effective_uid_is_root, free_port, fresh_dir, run, run_as, spawn_guardian,
    system_user_ids,
};

/// The superuser `initdb` creates.
pub const SUPERUSER: &str = "postgres";
/// The system user that runs the server when the tests run as root.
const SYSTEM_USER: &str = "postgres";
/// How long a server may take to become ready before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many free ports to try when another process takes ours first.
const PORT_ATTEMPTS: usize = 10;

/// Group roles that select a role's `pg_hba.conf` method on servers whose options
/// use [`PgOptions::hba_by_group`].
const GROUP_PASSWORD: &str = "rds_iam_test_password_auth";
const GROUP_MD5: &str = "rds_iam_test_md5_auth";
const GROUP_SCRAM: &str = "rds_iam_test_scram_auth";

/// A `pg_hba.conf` method for loopback TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HbaMethod {
    /// No password.
    Trust,
    /// Cleartext password (what RDS asks an IAM user for).
    Password,
    /// MD5 challenge.
    Md5,
    /// SCRAM-SHA-256.
    ScramSha256,
}

impl HbaMethod {
    fn keyword(self) -> &'static str {
        match self {
            Self::Trust => "trust",
            Self::Password => "password",
            Self::Md5 => "md5",
            Self::ScramSha256 => "scram-sha-256",
        }
    }
}

/// How a server is set up.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The default method for loopback TCP logins.
    pub method: HbaMethod,
    /// Also add the per-group rules (see [`PgServer::create_role`]).
    pub hba_by_group: bool,
    /// Serve TLS with this certificate and key (`ssl=on`).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Accept TCP logins only over TLS (`hostssl` rules), like RDS with `rds.force_ssl`.
    pub tls_only: bool,
    /// Another directory to remove when the server goes (e.g. the CA of a server
    /// that lives until the test binary exits).
    pub also_remove: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            method: HbaMethod::Trust,
            hba_by_group: true,
            tls: None,
            tls_only: false,
            also_remove: None,
        }
    }
}

/// How a role made by [`PgServer::create_role`] logs in over loopback TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAuth<'a> {
    /// Whatever the server's default method is (trust on [`shared`]).
    Default,
    /// `password` (cleartext) with this password.
    Password(&'a str),
    /// `md5` with this password (stored as an MD5 hash).
    Md5(&'a str),
    /// `scram-sha-256` with this password.
    Scram(&'a str),
}

/// A running throw-away PostgreSQL. Dropping it stops the server and removes its files.
pub struct PgServer {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    guardian: Child,
    guardian_stdin: Option<ChildStdin>,
    /// How long `initdb` plus start-up took.
    pub startup_time: Duration,
}

/// The server shared by every test in this binary, and the CA that signed its
/// certificate.
struct Shared {
    ca: TestCa,
    server: PgServer,
}

fn shared_instance() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ca = TestCa::new("rds-iam shared PostgreSQL test CA");
        let cert = ca.server_cert("postgres-server", &["localhost", "127.0.0.1"]);
        let options = PgOptions {
            // Never dropped: the guardian removes the CA files at exit.
            also_remove: Some(ca.dir().to_owned()),
            ..PgOptions::default().with_tls(&cert)
        };
        let server = PgServer::start(&options).unwrap_or_else(|e| panic!("{e}"));
        Shared { ca, server }
    })
}

/// The server shared by every test in this binary (see the module docs).
pub fn shared() -> &'static PgServer {
    &shared_instance().server
}

/// The CA that signed [`shared`]'s certificate (for `localhost` and `127.0.0.1`).
pub fn shared_ca() -> &'static TestCa {
    &shared_instance().ca
}

impl PgOptions {
    /// These options with TLS on, serving `cert`.
    pub fn with_tls(mut self, cert: &ServerCert) -> Self {
        self.tls = Some((cert.cert_path.clone(), cert.key_path.clone()));
        self
    }
}

impl PgServer {
    /// Run `initdb` and start a server with `options`. Errors say what is missing.
    pub fn start(options: &PgOptions) -> Result<Self, String> {
        let began = Instant::now();
        let bin = find_bin_dir()?;
        let as_root = effective_uid_is_root();
        let dir = fresh_dir("rds-iam-pg-")?;
        let result = Self::init_and_start(options, &bin, &dir, as_root, began);
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        result
    }

    fn init_and_start(
        options: &PgOptions,
        bin: &Path,
        dir: &Path,
        as_root: bool,
        began: Instant,
    ) -> Result<Self, String> {
        let owner = if as_root {
            Some(system_user_ids(SYSTEM_USER, "postgresql")?)
        } else {
            None
        };
        let give = |path: &Path, mode: u32| server::give(path, mode, owner);
        give(dir, 0o700)?;

        let pwfile = dir.join("pwfile");
        fs::write(&pwfile, superuser_password()).map_err(|e| e.to_string())?;
        give(&pwfile, 0o600)?;
        let data = dir.join("data");
        let mut initdb = run_as(as_root, SYSTEM_USER, &bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()));
        run(&mut initdb, "initdb")?;

        let mut settings: Vec<String> = vec![
            "listen_addresses=127.0.0.1".into(),
            format!("unix_socket_directories={}", dir.display()),
            "fsync=off".into(),
            "synchronous_commit=off".into(),
            "full_page_writes=off".into(),
            "max_connections=200".into(),
        ];
        if let Some((cert, key)) = &options.tls {
            let (cert_copy, key_copy) = (dir.join("server.crt"), dir.join("server.key"));
            fs::copy(cert, &cert_copy).map_err(|e| format!("copy {}: {e}", cert.display()))?;
            fs::copy(key, &key_copy).map_err(|e| format!("copy {}: {e}", key.display()))?;
            give(&cert_copy, 0o644)?;
            give(&key_copy, 0o600)?;
            settings.push("ssl=on".into());
            settings.push(format!("ssl_cert_file={}", cert_copy.display()));
            settings.push(format!("ssl_key_file={}", key_copy.display()));
        }
        let hba = data.join("pg_hba.conf");
        fs::write(&hba, hba_conf(options)).map_err(|e| e.to_string())?;
        give(&hba, 0o600)?;

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut postgres = run_as(as_root, SYSTEM_USER, &bin.join("postgres"));
            postgres
                .arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string());
            for setting in &settings {
                postgres.arg("-c").arg(setting);
            }
            let guarded = Guarded {
                dir,
                log_name: "postgres.log",
                stop_signal: "INT",
                also_remove: options.also_remove.as_deref(),
                label: "rds-iam-pg",
            };
            let (mut guardian, guardian_stdin) = spawn_guardian(&guarded, &postgres)?;
            match wait_ready(&mut guardian, dir, &data) {
                Ok(()) => {
                    let mut server = PgServer {
                        port,
                        dir: dir.to_owned(),
                        bin: bin.to_owned(),
                        guardian,
                        guardian_stdin: Some(guardian_stdin),
                        startup_time: Duration::ZERO,
                    };
                    server.setup_groups(options)?;
                    server.startup_time = began.elapsed();
                    return Ok(server);
                }
                Err(log) => {
                    // The guardian leaves the directory for the next attempt.
                    drop(guardian_stdin);
                    let _ = guardian.wait();
                    if !log.contains("Address already in use") {
                        return Err(format!("postgres did not start; its log:\n{log}"));
                    }
                    last_error = log;
                }
            }
        }
        Err(format!(
            "postgres found no free port in {PORT_ATTEMPTS} attempts; last log:\n{last_error}"
        ))
    }

    fn setup_groups(&self, options: &PgOptions) -> Result<(), String> {
        if !options.hba_by_group {
            return Ok(());
        }
        let sql = [GROUP_PASSWORD, GROUP_MD5, GROUP_SCRAM]
            .iter()
            .map(|g| format!("CREATE ROLE {g} NOLOGIN;"))
            .collect::<String>();
        let output = self.psql_admin(&sql);
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "creating the hba groups failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    /// The TCP port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The directory with the unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log so far (`postgres.log` in [`PgServer::socket_dir`]).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// The PostgreSQL binaries used (`initdb`, `postgres`, `psql`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// `psql` from the same installation.
    pub fn psql(&self) -> PathBuf {
        let own = self.bin.join("psql");
        if own.exists() {
            own
        } else {
            PathBuf::from("psql")
        }
    }

    /// Run `sql` as the superuser over the unix socket with `psql` (blocking).
    pub fn psql_admin(&self, sql: &str) -> Output {
        Command::new(self.psql())
            .arg("-X")
            .args(["-v", "ON_ERROR_STOP=1", "-qAt"])
            .arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
            ])
            .args(["-c", sql])
            .env_remove("PGPASSWORD")
            .output()
            .expect("run psql (install postgresql-client)")
    }

    /// A tokio-postgres config for the superuser over the unix socket (no password).
    pub fn admin_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(self.port)
            .user(SUPERUSER)
            .dbname("postgres");
        config
    }

    /// A superuser connection (its connection task runs on the current runtime).
    pub async fn admin(&self) -> tokio_postgres::Client {
        let (client, connection) = self
            .admin_config()
            .connect(tokio_postgres::NoTls)
            .await
            .expect("admin connection over the unix socket");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Create a login role `name` authenticating with `auth` over loopback TCP (on a
    /// server with [`PgOptions::hba_by_group`]), allowed to connect to `postgres`.
    pub async fn create_role(&self, name: &str, auth: RoleAuth<'_>) {
        let ident = quote_ident(name);
        let mut sql = String::new();
        let (password, group) = match auth {
            RoleAuth::Default => (None, None),
            RoleAuth::Password(p) => (Some(p), Some(GROUP_PASSWORD)),
            RoleAuth::Md5(p) => (Some(p), Some(GROUP_MD5)),
            RoleAuth::Scram(p) => (Some(p), Some(GROUP_SCRAM)),
        };
        let encryption = if matches!(auth, RoleAuth::Md5(_)) {
            "md5"
        } else {
            "scram-sha-256"
        };
        let _ = write!(sql, "SET password_encryption = '{encryption}'; ");
        match password {
            Some(p) => {
                let _ = write!(
                    sql,
                    "CREATE ROLE {ident} LOGIN PASSWORD {};",
                    quote_literal(p)
                );
            }
            None => {
                let _ = write!(sql, "CREATE ROLE {ident} LOGIN;");
            }
        }
        if let Some(group) = group {
            let _ = write!(sql, " GRANT {group} TO {ident};");
        }
        self.admin()
            .await
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("create role {name}: {e}"));
    }

    /// Create database `name` owned by `owner`.
    pub async fn create_database(&self, name: &str, owner: &str) {
        let sql = format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(name),
            quote_ident(owner)
        );
        self.admin()
            .await
            .batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // Closing the pipe tells the guardian to stop the server and remove `dir`.
        drop(self.guardian_stdin.take());
        let _ = self.guardian.wait();
    }
}

fn hba_conf(options: &PgOptions) -> String {
    let host = if options.tls_only { "hostssl" } else { "host" };
    let mut conf = String::from("# written by tests/it/support/postgres.rs\nlocal all all trust\n");
    if options.hba_by_group {
        for (group, method) in [
            (GROUP_PASSWORD, HbaMethod::Password),
            (GROUP_MD5, HbaMethod::Md5),
            (GROUP_SCRAM, HbaMethod::ScramSha256),
        ] {
            let _ = writeln!(
                conf,
                "{host} all +{group} 127.0.0.1/32 {}",
                method.keyword()
            );
        }
    }
    let _ = writeln!(
        conf,
        "{host} all all 127.0.0.1/32 {}",
        options.method.keyword()
    );
    conf
}

/// Wait until `postmaster.pid` says `ready`; on failure return the server log.
fn wait_ready(guardian: &mut Child, dir: &Path, data: &Path) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let log = || fs::read_to_string(dir.join("postgres.log")).unwrap_or_default();
    loop {
        if let Ok(pid_file) = fs::read_to_string(data.join("postmaster.pid"))
            && pid_file.lines().nth(7).map(str::trim) == Some("ready")
        {
            return Ok(());
        }
        if let Ok(Some(_)) = guardian.try_wait() {
            return Err(log());
        }
        if Instant::now() > deadline {
            return Err(format!("not ready after {READY_TIMEOUT:?}\n{}", log()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The newest `/usr/lib/postgresql/*/bin` with `initdb` and `postgres`.
fn find_bin_dir() -> Result<PathBuf, String> {
    let missing = "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb): \
        run ./scripts/test.sh, which installs them, or `apt-get install postgresql postgresql-client`";
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| missing.to_owned())?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| missing.to_owned())
}

fn superuser_password() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("pw-{}-{nanos}", std::process::id())
}

/// `name` as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as an SQL string literal.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}
