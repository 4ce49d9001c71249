//! `rds-iam`: IAM database authentication for Amazon Aurora and RDS from the command line, a
//! thin layer over the `rds-iam` library.
//!
//! ```sh
//! cargo install --path crates/rds-iam-cli
//! rds-iam token 'jdbc:aws-wrapper:postgresql://db.abc123.eu-west-1.rds.amazonaws.com:5432/app?wrapperPlugins=iam&user=app'
//! rds-iam connect 'jdbc:aws-wrapper:postgresql://...' -c 'SELECT current_user'
//! rds-iam doctor 'jdbc:aws-wrapper:postgresql://...' --user harness_iam_user
//! rds-iam emulator --engine postgres --listen 127.0.0.1:15432 --backend 127.0.0.1:5432 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432 --region us-east-1
//! rds-iam proxy 'jdbc:aws-wrapper:postgresql://...?wrapperPlugins=iam&user=app' &  # psql -h 127.0.0.1
//! ```
//!
//! Exit codes: 0 success, 1 failure (one line on stderr naming the cause), 2 usage error.
//! Warnings go to stderr; `RUST_LOG` chooses more or less.
//!
//! Each subcommand is a module with an `Args` (clap) and a `run`, and nothing else of this
//! file: the root package's examples compile the same modules. A new subcommand is a module,
//! a variant of [`Command`] and its arm in `main`.

mod admin;
mod connect;
mod doctor;
mod emulator;
mod proxy;
mod report;
mod setup;
mod token;

use std::process::ExitCode;

/// What `rds-iam` prints as its name in errors.
const PROGRAM: &str = "rds-iam";

/// IAM database authentication for Amazon Aurora and RDS: tokens, connections, a local endpoint
#[derive(clap::Parser)]
#[command(name = PROGRAM, version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(clap::Subcommand)]
#[allow(clippy::large_enum_variant)] // reason: one value, parsed once per run
enum Command {
    Token(token::Args),
    Connect(connect::Args),
    Doctor(doctor::Args),
    Emulator(emulator::Args),
    Proxy(proxy::Args),
    Setup(setup::Args),
}

fn main() -> ExitCode {
    report::main(PROGRAM, |cli: Cli| match cli.command {
        Command::Token(args) => token::run(args),
        Command::Connect(args) => connect::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Emulator(args) => emulator::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Setup(args) => setup::run(args),
    })
}
