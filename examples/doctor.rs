//! Check an IAM database login stage by stage (url, credentials, network, tls, token, login,
//! database) and say what to fix: `rds-iam doctor`, as an example of the library.
//!
//! ```sh
//! cargo run --example doctor -- \
//!   'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&sslmode=verify-full' \
//!   --user harness_iam_user --ca /etc/ssl/certs/dbops/root_ca.crt
//! ```
//!
//! The command lives in the `rds-iam` command's crate (crates/rds-iam-cli/src/doctor.rs),
//! compiled here as it is there: one source, the same flags and output. See `--help`.

#[path = "../crates/rds-iam-cli/src/admin.rs"]
mod admin;
#[allow(dead_code)] // reason: the doctor uses only its query helpers, not the command
#[path = "../crates/rds-iam-cli/src/connect.rs"]
mod connect;
#[path = "../crates/rds-iam-cli/src/doctor.rs"]
mod doctor;
#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("doctor", doctor::run)
}
