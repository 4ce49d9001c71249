//! A throw-away MariaDB server for live tests.
//!
//! [`MariaDbServer::start`] runs the machine's own `mariadb-install-db` into a fresh
//! directory under `/tmp` and starts `mariadbd` on a free loopback port (never 3306,
//! never a running service), with its unix socket in that directory. As root both
//! run as the `mysql` user. Both get `--no-defaults`, so nothing from `/etc/mysql`
//! applies.
//!
//! Shutdown: the server runs under the guardian of [`super::server`]: when the
//! `MariaDbServer` is dropped, or the test binary exits (even by a signal), it stops
//! MariaDB (`SIGTERM`, a normal shutdown) and removes the directory.
//!
//! [`shared`] is one server per test binary, started on first use (about 5 s, most
//! of it `mariadb-install-db`): TLS on (certificate from a test CA for
//! `localhost`/`127.0.0.1`) but not required. The administrator is `root` over the
//! unix socket without a password ([`MariaDbServer::admin`]); users for TCP logins
//! are made with [`MariaDbServer::create_user`].
//!
//! A missing binary is a test failure with a message saying what to install.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

use super::ca::{ServerCert, TestCa};
use super::server::{
    self, Guarded, effective_uid_is_root, free_port, fresh_dir, run, run_as, spawn_guardian,
    system_user_ids,
};

/// The administrator `mariadb-install-db` creates (no password, unix socket only).
pub const SUPERUSER: &str = "root";
/// The system user that runs the server when the tests run as root.
const SYSTEM_USER: &str = "mysql";
/// How long a server may take to become ready before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many free ports to try when another process takes ours first.
const PORT_ATTEMPTS: usize = 10;
/// What the server says in its log once it accepts connections.
const READY_LINE: &str = "ready for connections";
/// Where the server's output goes, in its directory.
const LOG_NAME: &str = "mariadb.log";
const MISSING: &str = "MariaDB server binaries not found (mariadb-install-db, mariadbd): \
    run ./scripts/test.sh, which installs them, or `apt-get install mariadb-server mariadb-client`";

/// How a server is set up.
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// Serve TLS with this certificate, key and CA (`--ssl-cert --ssl-key --ssl-ca`).
    pub tls: Option<TlsFiles>,
    /// Refuse TCP logins without TLS (`--require-secure-transport`).
    pub require_secure_transport: bool,
    /// Another directory to remove when the server goes (e.g. the CA of a server
    /// that lives until the test binary exits).
    pub also_remove: Option<PathBuf>,
}

/// The PEM files of a TLS-serving MariaDB.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The server certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The CA certificate (for client certificates; required by `--ssl-ca`).
    pub ca: PathBuf,
}

impl MariaDbOptions {
    /// These options with TLS on, serving `cert` signed by `ca`.
    pub fn with_tls(mut self, cert: &ServerCert, ca: &TestCa) -> Self {
        self.tls = Some(TlsFiles {
            cert: cert.cert_path.clone(),
            key: cert.key_path.clone(),
            ca: ca.ca_path().to_owned(),
        });
        self
    }
}

/// How a user made by [`MariaDbServer::create_user`] logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAuth<'a> {
    /// No password at all.
    NoPassword,
    /// A password with the server's default plugin.
    Password(&'a str),
    /// A password with `mysql_native_password`, named explicitly.
    NativePassword(&'a str),
}

/// A running throw-away MariaDB. Dropping it stops the server and removes its files.
pub struct MariaDbServer {
    port: u16,
    dir: PathBuf,
    guardian: Child,
    guardian_stdin: Option<ChildStdin>,
    /// How long `mariadb-install-db` plus start-up took.
    pub startup_time: Duration,
}

/// The server shared by every test in this binary, and the CA that signed its
/// certificate.
struct Shared {
    ca: TestCa,
    server: MariaDbServer,
}

fn shared_instance() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ca = TestCa::new("rds-iam shared MariaDB test CA");
        let cert = ca.server_cert("mariadb-server", &["localhost", "127.0.0.1"]);
        let options = MariaDbOptions {
            // Never dropped: the guardian removes the CA files at exit.
            also_remove: Some(ca.dir().to_owned()),
            ..MariaDbOptions::default().with_tls(&cert, &ca)
        };
        let server = MariaDbServer::start(&options).unwrap_or_else(|e| panic!("{e}"));
        Shared { ca, server }
    })
}

/// The server shared by every test in this binary (see the module docs).
pub fn shared() -> &'static MariaDbServer {
    &shared_instance().server
}

/// The CA that signed [`shared`]'s certificate (for `localhost` and `127.0.0.1`).
pub fn shared_ca() -> &'static TestCa {
    &shared_instance().ca
}

impl MariaDbServer {
    /// Run `mariadb-install-db` and start a server with `options`. Errors say what
    /// is missing.
    pub fn start(options: &MariaDbOptions) -> Result<Self, String> {
        let began = Instant::now();
        let (install_db, mariadbd) = find_binaries()?;
        let dir = fresh_dir("rds-iam-mariadb-")?;
        let result = Self::init_and_start(options, &install_db, &mariadbd, &dir, began);
        if result.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        result
    }

    fn init_and_start(
        options: &MariaDbOptions,
        install_db: &Path,
        mariadbd: &Path,
        dir: &Path,
        began: Instant,
    ) -> Result<Self, String> {
        let as_root = effective_uid_is_root();
        let owner = if as_root {
            Some(system_user_ids(SYSTEM_USER, "mariadb-server")?)
        } else {
            None
        };
        let give = |path: &Path, mode: u32| server::give(path, mode, owner);
        give(dir, 0o700)?;

        let data = dir.join("data");
        let mut install = run_as(as_root, SYSTEM_USER, install_db);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ]);
        run(&mut install, "mariadb-install-db")?;

        let mut settings: Vec<String> = vec![
            "--no-defaults".into(),
            format!("--datadir={}", data.display()),
            format!("--socket={}", socket_path(dir).display()),
            format!("--pid-file={}", dir.join("mariadbd.pid").display()),
            "--bind-address=127.0.0.1".into(),
            "--skip-name-resolve".into(),
            "--character-set-server=utf8mb4".into(),
            "--collation-server=utf8mb4_general_ci".into(),
            "--innodb-buffer-pool-size=32M".into(),
            "--innodb-flush-log-at-trx-commit=0".into(),
            "--max-connections=200".into(),
        ];
        if let Some(tls) = &options.tls {
            let copies = [
                (&tls.cert, "server.crt", 0o644, "--ssl-cert"),
                (&tls.key, "server.key", 0o600, "--ssl-key"),
                (&tls.ca, "ca.crt", 0o644, "--ssl-ca"),
            ];
            for (from, name, mode, flag) in copies {
                let to = dir.join(name);
                fs::copy(from, &to).map_err(|e| format!("copy {}: {e}", from.display()))?;
                give(&to, mode)?;
                settings.push(format!("{flag}={}", to.display()));
            }
        }
        if options.require_secure_transport {
            settings.push("--require-secure-transport=ON".into());
        }

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut command = run_as(as_root, SYSTEM_USER, mariadbd);
            command.args(&settings).arg(format!("--port={port}"));
            let guarded = Guarded {
                dir,
                log_name: LOG_NAME,
                stop_signal: "TERM",
                also_remove: options.also_remove.as_deref(),
                label: "rds-iam-mariadb",
            };
            let (mut guardian, guardian_stdin) = spawn_guardian(&guarded, &command)?;
            match wait_ready(&mut guardian, dir) {
                Ok(()) => {
                    return Ok(MariaDbServer {
                        port,
                        dir: dir.to_owned(),
                        guardian,
                        guardian_stdin: Some(guardian_stdin),
                        startup_time: began.elapsed(),
                    });
                }
                Err(log) => {
                    // The guardian leaves the directory for the next attempt.
                    drop(guardian_stdin);
                    let _ = guardian.wait();
                    if !log.contains("Address already in use") {
                        return Err(format!("mariadbd did not start; its log:\n{log}"));
                    }
                    let _ = fs::remove_file(dir.join(LOG_NAME));
                    last_error = log;
                }
            }
        }
        Err(format!(
            "mariadbd found no free port in {PORT_ATTEMPTS} attempts; last log:\n{last_error}"
        ))
    }

    /// The TCP port (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's log so far (its warnings include every refused password:
    /// `Access denied for user ... (using password: YES)`).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join(LOG_NAME)).unwrap_or_default()
    }

    /// The unix socket.
    pub fn socket(&self) -> PathBuf {
        socket_path(&self.dir)
    }

    /// The `mariadb` command-line client.
    pub fn client(&self) -> PathBuf {
        PathBuf::from("mariadb")
    }

    /// Options for the administrator over the unix socket (no password).
    pub fn admin_opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .socket(Some(self.socket().to_string_lossy().into_owned()))
            .user(Some(SUPERUSER))
            .into()
    }

    /// An administrator connection.
    pub async fn admin(&self) -> mysql_async::Conn {
        mysql_async::Conn::new(self.admin_opts())
            .await
            .expect("admin connection over the unix socket")
    }

    /// Run `sql` (one or more statements) as the administrator.
    pub async fn admin_exec(&self, sql: &str) {
        let mut conn = self.admin().await;
        conn.query_drop(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.disconnect().await;
    }

    /// Create user `name` (for logins from any host) authenticating with `auth`.
    /// An existing user of that name is replaced.
    pub async fn create_user(&self, name: &str, auth: UserAuth<'_>) {
        let user = account(name);
        let identified = match auth {
            UserAuth::NoPassword => String::new(),
            UserAuth::Password(p) => format!(" IDENTIFIED BY {}", quote_literal(p)),
            UserAuth::NativePassword(p) => format!(
                " IDENTIFIED WITH mysql_native_password USING PASSWORD({})",
                quote_literal(p)
            ),
        };
        self.admin_exec(&format!("CREATE OR REPLACE USER {user}{identified}"))
            .await;
    }

    /// `GRANT privileges ON on TO name` (`on` as SQL, e.g. `` `app`.* ``).
    pub async fn grant(&self, privileges: &str, on: &str, name: &str) {
        self.admin_exec(&format!("GRANT {privileges} ON {on} TO {}", account(name)))
            .await;
    }

    /// Create database `name` (if it does not exist yet).
    pub async fn create_database(&self, name: &str) {
        self.admin_exec(&format!(
            "CREATE DATABASE IF NOT EXISTS {}",
            quote_ident(name)
        ))
        .await;
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        // Closing the pipe tells the guardian to stop the server and remove `dir`.
        drop(self.guardian_stdin.take());
        let _ = self.guardian.wait();
    }
}

fn socket_path(dir: &Path) -> PathBuf {
    dir.join("mariadb.sock")
}

/// Wait until the log says the server is ready; on failure return the log.
fn wait_ready(guardian: &mut Child, dir: &Path) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let log = || fs::read_to_string(dir.join(LOG_NAME)).unwrap_or_default();
    loop {
        if log().contains(READY_LINE) && socket_path(dir).exists() {
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

/// `mariadb-install-db` (on the PATH) and `mariadbd` (on the PATH or in /usr/sbin).
fn find_binaries() -> Result<(PathBuf, PathBuf), String> {
    let find = |name: &str| -> Option<PathBuf> {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    };
    match (find("mariadb-install-db"), find("mariadbd")) {
        (Some(install_db), Some(mariadbd)) => Ok((install_db, mariadbd)),
        _ => Err(MISSING.to_owned()),
    }
}

/// `'name'@'%'`.
fn account(name: &str) -> String {
    format!("{}@'%'", quote_literal(name))
}

/// `name` as an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
}
