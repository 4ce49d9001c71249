//! A local IAM-enabled RDS endpoint in front of a real database: `rds-iam emulator`, as an
//! example of the library.
//!
//! ```sh
//! export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY='the matching secret'
//! cargo run --example emulator -- \
//!     --engine postgres --listen 127.0.0.1:15432 --backend 127.0.0.1:5432 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432 --region us-east-1 \
//!     --write-ca /tmp/emulator-ca.pem
//!
//! # MySQL / MariaDB: the same with --engine mysql and a MariaDB or MySQL backend
//! cargo run --example emulator -- \
//!     --engine mysql --listen 127.0.0.1:13306 --backend 127.0.0.1:3306 \
//!     --endpoint mydb.cluster-abc123.us-east-1.rds.amazonaws.com:3306 --region us-east-1 \
//!     --write-ca /tmp/emulator-ca.pem
//! ```
//!
//! Secrets come from the environment or from files, never from the command line (see
//! `--help`). The command lives in the `rds-iam` command's crate
//! (crates/rds-iam-cli/src/emulator.rs), compiled here as it is there: one source, the same
//! flags and output.

#[path = "../crates/rds-iam-cli/src/emulator.rs"]
mod emulator;
#[path = "../crates/rds-iam-cli/src/report.rs"]
mod report;

use std::process::ExitCode;

fn main() -> ExitCode {
    report::main("emulator", emulator::run)
}
