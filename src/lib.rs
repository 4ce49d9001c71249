//! # rds-iam
//!
//! IAM database authentication for Amazon Aurora and RDS (PostgreSQL and MySQL).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod secret;
