//! How a command runs and ends: warnings on stderr (`RUST_LOG` chooses more or less), its
//! output on stdout, or one error line on stderr, and the exit code (0 success, 1 failure,
//! 2 usage mistake). Shared by the `rds-iam` command and the root package's examples, which
//! print `PROGRAM: error: ...` under their own names.

use std::error::Error;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Exit code 2: the command line asks for something impossible.
    Usage(String),
    /// Exit code 1: the error and its causes, on one line.
    Error(String),
}

impl Failure {
    /// Exit code 1, with `err` and its causes on one line.
    pub fn error(err: &(dyn Error + 'static)) -> Self {
        Self::Error(error_line(err))
    }
}

/// Run a command: log to stderr, parse the command line as `P`, `run` it, and end as
/// `run` says, printing errors under the name `program`. `--help` and `--version` print on
/// stdout (exit code 0), a usage mistake is one line on stderr (2).
pub fn main<P: clap::Parser>(
    program: &str,
    run: impl FnOnce(P) -> Result<(), Failure>,
) -> ExitCode {
    log_to_stderr();
    // Without a subcommand, an error line rather than the help on stderr.
    let parsed = P::command()
        .arg_required_else_help(false)
        .try_get_matches()
        .and_then(|matches| P::from_arg_matches(&matches));
    let result = match parsed {
        Ok(args) => run(args),
        Err(e) if !e.use_stderr() => {
            let _ = write!(std::io::stdout().lock(), "{}", e.render());
            Ok(())
        }
        Err(e) => Err(Failure::Usage(usage_line(&e))),
    };
    let (code, msg) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => (2, msg),
        Err(Failure::Error(line)) => (1, line),
    };
    let _ = writeln!(std::io::stderr().lock(), "{program}: error: {msg}");
    ExitCode::from(code)
}

/// clap's message on one line: its first paragraph (which lists missing arguments on lines of
/// their own) without the `error: ` prefix, the tips and the usage block.
fn usage_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    format!("{} (see --help)", one_line(first))
}

/// Log to stderr, as `RUST_LOG` says (default [`DEFAULT_LOG`]). Stdout stays the command's
/// output.
fn log_to_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}

/// Without `RUST_LOG`: warnings, except aws-config's own, which repeat the error the command
/// prints when no credentials could be loaded.
const DEFAULT_LOG: &str = "warn,aws_config=error";

/// Print a line to stdout, ignoring a closed pipe (`| head`) instead of panicking.
pub fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// An error and its causes on one line: `error: cause: cause`, each said once (a cause whose
/// text is already in the line, because a layer printed it, is left out).
pub fn error_line(err: &(dyn Error + 'static)) -> String {
    let mut line = one_line(&err.to_string());
    let mut cause = err.source();
    while let Some(err) = cause {
        let text = one_line(&err.to_string());
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        cause = err.source();
    }
    line
}

/// Line breaks and runs of white space as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer problem; do this")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("middle: inner\ncause")]
    struct Middle(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner cause")]
    struct Inner;

    #[test]
    fn causes_are_said_once_on_one_line() {
        assert_eq!(
            error_line(&Outer(Middle(Inner))),
            "outer problem; do this: middle: inner cause"
        );
    }
}
