//! Print (and apply) the IAM policy and the SQL that let a database user log in with IAM:
//! `rds-iam setup`, as an example of the library.
//!
//! ```sh
//! cargo run --example setup -- --engine postgres --user harness_iam_user \
//!   --account 123456789012 --region us-east-1 --resource-id cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2
//! ```
//!
//! The command lives in the `rds-iam` command's crate (crates/rds-iam-cli/src/setup.rs),
//! compiled here as it is there: one source, the same flags and output. See `--help`.

#[path = "../crates/rds-iam-cli/src/admin.rs"]
mod admin;
#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;
#[path = "../crates/rds-iam-cli/src/setup.rs"]
mod setup;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("setup", setup::run)
}
