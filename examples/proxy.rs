//! A local IAM login proxy: `rds-iam proxy`, as an example of the library (feature `proxy`).
//!
//! ```sh
//! cargo run --features proxy --example proxy -- \
//!     'jdbc:aws-wrapper:postgresql://my-cluster.cluster-abc123.us-east-1.rds.amazonaws.com:5432/postgres?wrapperPlugins=iam&user=harness_iam_user' &
//! psql 'host=127.0.0.1 port=5432 dbname=postgres user=harness_iam_user'
//! ```
//!
//! The command lives in the `rds-iam` command's crate (crates/rds-iam-cli/src/proxy.rs),
//! compiled here as it is there: one source, the same flags and output.

#[path = "../crates/rds-iam-cli/src/proxy.rs"]
mod proxy;
#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("proxy", proxy::run)
}
