//! Mint an IAM database authentication token, like `aws rds generate-db-auth-token`, or show
//! what would be signed for a JDBC URL: `rds-iam token`, as an example of the library.
//!
//! ```sh
//! # The token alone on stdout, for a password variable:
//! PGPASSWORD=$(cargo run -q --example token -- \
//!     'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&user=harness_iam_user')
//! # From flags (--port is required, as for the AWS CLI):
//! cargo run -q --example token -- --host mydb.abc123.eu-west-1.rds.amazonaws.com --port 3306 --user app
//! # What would be signed, without credentials:
//! cargo run -q --example token -- --dry-run --json 'jdbc:aws-wrapper:postgresql://...'
//! ```
//!
//! The command lives in the `rds-iam` command's crate (crates/rds-iam-cli/src/token), compiled
//! here as it is there: one source, the same flags and the same bytes out. See `--help`.

#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;
#[path = "../crates/rds-iam-cli/src/token/mod.rs"]
mod token;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("token", token::run)
}
