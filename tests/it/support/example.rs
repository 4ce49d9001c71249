//! The crate's examples built for real and run as child processes, in an environment that is
//! exactly what each test gives them (no AWS variables of the developer's, instance metadata
//! off, empty shared config and credentials files).
//!
//! Each example is built once per test run with `cargo build --example NAME` (the same features
//! and profile as this test binary, so cargo reuses the library it built for the tests).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, PoisonError};

use super::aws_env::AwsEnv;

/// The path of the built example `name` (built on first use; cargo would serialise
/// concurrent builds anyway).
pub fn built(name: &'static str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<&str, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(PoisonError::into_inner);
    built.entry(name).or_insert_with(|| build(name)).clone()
}

fn build(name: &str) -> PathBuf {
    // Exactly this test binary's features (`default` included), so that cargo reuses the
    // library it built for the tests instead of building it again.
    let features: Vec<&str> = [
        ("default", cfg!(feature = "default")),
        ("aws-config", cfg!(feature = "aws-config")),
        ("postgres", cfg!(feature = "postgres")),
        ("mysql", cfg!(feature = "mysql")),
        ("postgres-rustls", cfg!(feature = "postgres-rustls")),
        ("mysql-rustls", cfg!(feature = "mysql-rustls")),
        ("proxy", cfg!(feature = "proxy")),
    ]
    .into_iter()
    .filter_map(|(name, on)| on.then_some(name))
    .collect();
    let features = features.join(",");
    let mut args = vec!["--no-default-features"];
    if !features.is_empty() {
        args.extend(["--features", &features]);
    }
    super::cargo_example::build(name, &args)
}

/// A child environment: nothing of this process's, no credentials anywhere unless added.
pub struct ChildEnv(AwsEnv);

impl ChildEnv {
    pub fn empty() -> Self {
        Self(AwsEnv::empty())
    }

    /// Static credentials in the environment variables.
    pub fn with_keys(access_key_id: &str, secret: &str, session_token: Option<&str>) -> Self {
        let mut env = Self::empty()
            .var("AWS_ACCESS_KEY_ID", access_key_id)
            .var("AWS_SECRET_ACCESS_KEY", secret);
        if let Some(token) = session_token {
            env = env.var("AWS_SESSION_TOKEN", token);
        }
        env
    }

    pub fn var(self, name: &str, value: &str) -> Self {
        Self(self.0.var(name, value))
    }

    fn command(&self, example: &'static str, args: &[&str]) -> Command {
        let mut command = Command::new(built(example));
        command
            .env_clear()
            .envs(self.0.vars().iter().cloned())
            .args(args);
        command
    }

    /// Run `example` with `args`; `secrets` must not appear on its stderr.
    pub fn run_example(&self, example: &'static str, args: &[&str], secrets: &[&str]) -> Run {
        let output = self
            .command(example, args)
            .output()
            .expect("the example runs");
        Run::new(example, output, secrets)
    }

    /// Start `example` with `args`, its stdout and stderr piped, killed when dropped.
    pub fn spawn_example(&self, example: &'static str, args: &[&str]) -> tokio::process::Child {
        let mut command = tokio::process::Command::from(self.command(example, args));
        command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        command.spawn().expect("the example starts")
    }

    /// [`ChildEnv::run_example`] without blocking the test's runtime (which serves the child).
    pub async fn run_example_async(
        &self,
        example: &'static str,
        args: &[&str],
        secrets: &[&str],
    ) -> Run {
        let output = tokio::process::Command::from(self.command(example, args))
            .output()
            .await
            .expect("the example runs");
        Run::new(example, output, secrets)
    }
}

/// What one run of an example did.
#[derive(Debug)]
pub struct Run {
    example: &'static str,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn new(example: &'static str, output: Output, secrets: &[&str]) -> Self {
        let run = Self {
            example,
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        for secret in secrets {
            assert!(!run.stderr.contains(secret), "a secret on stderr: {run:?}");
        }
        assert!(!run.stderr.contains("panicked"), "{run:?}");
        run
    }

    /// Failure with `code`: nothing on stdout, one `EXAMPLE: error: ` line on stderr; that line.
    pub fn error(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "{self:?}");
        assert_eq!(self.stdout, "", "{self:?}");
        let prefix = format!("{}: error: ", self.example);
        let line = self
            .stderr
            .strip_suffix('\n')
            .and_then(|s| s.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("not one error line: {self:?}"));
        assert!(!line.contains('\n'), "more than one line: {self:?}");
        line
    }
}

/// An emulated endpoint of `E` in front of its shared throw-away server, on the system clock
/// (the examples sign with it), for [`ENDPOINT_HOST`](super::iam::ENDPOINT_HOST).
#[cfg(any(feature = "_postgres", feature = "_mysql"))]
pub async fn emulator<E: super::engine::Db>() -> rds_iam_emulator::RunningEmulator {
    let config = super::engine::emulator_config_on_system_clock::<E>()
        .build()
        .unwrap();
    rds_iam_emulator::Emulator::start(config).await.unwrap()
}
