//! What the commands log: warnings on stderr, or what `RUST_LOG` asks for. Stdout stays the
//! command's output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Without `RUST_LOG`: warnings, except aws-config's own, which repeat the error the command
/// prints when no credentials could be loaded.
const DEFAULT: &str = "warn,aws_config=error";

/// Log to stderr, as `RUST_LOG` says (default [`DEFAULT`]).
pub fn to_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .init();
}
