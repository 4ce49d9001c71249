//! Connect with IAM and run SQL, a minimal `psql -c` / `mysql -e` for IAM users:
//! `rds-iam connect`, as an example of the library.
//!
//! ```sh
//! cargo run --example connect -- \
//!   'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&sslmode=verify-full' \
//!   --user harness_iam_user --ca /etc/ssl/certs/dbops/root_ca.crt -c 'SELECT current_user'
//! ```
//!
//! The command lives in the `rds-iam` command's crate (crates/rds-iam-cli/src/connect.rs),
//! compiled here as it is there: one source, the same flags and output. See `--help`.

#[path = "../crates/rds-iam-cli/src/connect.rs"]
mod connect;
#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("connect", connect::run)
}
