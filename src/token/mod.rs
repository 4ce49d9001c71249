//! Minting IAM database authentication tokens: RDS / Aurora (`rds-db:connect`) and
//! Aurora DSQL.
//!
//! A token is a SigV4-presigned URL without its scheme, used as the database password.
//! [`sign_rds_token`] and [`sign_dsql_token`] are pure functions of their parameters, the
//! AWS credentials and the signing instant, and give byte for byte what botocore (and so
//! the AWS CLI) gives; the repository checks this against golden vectors made by botocore
//! (`tests/data/token_vectors/`).
//!
//! The result is an [`AuthToken`]: a secret (redacted `Debug`, no `Display`, an explicit
//! [`AuthToken::expose`]) that knows when it was signed and until when it can be used.
//!
//! ```
//! use aws_credential_types::Credentials;
//! use rds_iam::token::{RdsTokenParams, sign_rds_token};
//! use std::time::{Duration, UNIX_EPOCH};
//!
//! let params = RdsTokenParams::new("db.example.com", 3306, "user@corp", "eu-west-1");
//! let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example");
//! let at = UNIX_EPOCH + Duration::from_secs(1_709_164_800); // 2024-02-29T00:00:00Z
//! let token = sign_rds_token(&params, &credentials, at)?;
//!
//! assert_eq!(token.endpoint(), "db.example.com:3306");
//! assert_eq!(
//!     format!("{token:?}"),
//!     "AuthToken { endpoint: \"db.example.com:3306\", signed_at: 2024-02-29T00:00:00Z, \
//!      expires_at: 2024-02-29T00:15:00Z, credentials_expiry: None, token: *** }"
//! );
//! assert!(token.redacted().to_string().ends_with("&X-Amz-Signature=***"));
//! # Ok::<(), rds_iam::token::TokenError>(())
//! ```

mod auth_token;
mod date;
mod encode;
mod error;
mod params;
mod redact;
mod sign;

pub use auth_token::AuthToken;
pub(crate) use date::Rfc3339;
pub use error::TokenError;
pub use params::{DsqlAction, DsqlTokenParams, RdsTokenParams};
pub use redact::RedactedUrl;
pub use sign::{sign_dsql_token, sign_rds_token};
