//! Why a [`TokenProvider`](super::TokenProvider) could not hand out a token.

use std::time::SystemTime;

use crate::credentials::CredentialsError;
use crate::token::{Rfc3339, TokenError};

/// No valid token could be handed out.
///
/// `Display` says what failed and what to do; the cause (a
/// [`CredentialsError`] or a [`TokenError`]) is the
/// [`source`](std::error::Error::source) and is not repeated in the message.
/// Nothing secret appears: endpoints and user names are not secrets, tokens
/// and keys never enter an error. Cheap to clone, so that callers waiting on
/// one signing all receive its error.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// AWS credentials could not be loaded, and no cached token is valid.
    #[error(
        "no IAM token for {who} at {endpoint}: AWS credentials could not be loaded; \
         fix the credentials source as the cause says"
    )]
    Credentials {
        /// `host:port` (RDS) or `host` (DSQL).
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// Why the credentials could not be loaded.
        #[source]
        source: CredentialsError,
    },

    /// The parameters cannot be signed for (empty user, bad host or region, ...).
    #[error(
        "no IAM token for {who} at {endpoint}: the parameters cannot be signed for; \
         correct the one the cause names"
    )]
    Signing {
        /// `host:port` (RDS) or `host` (DSQL), as given.
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// What is wrong with the parameters.
        #[source]
        source: TokenError,
    },

    /// The only credentials available expire too soon for a token to be
    /// handed out (within the provider's margin), and no newer ones could be
    /// fetched.
    #[error(
        "no IAM token for {who} at {endpoint}: the AWS credentials expire at {} (within the \
         token margin) and no newer ones could be fetched; check that the credentials \
         source is reachable (the credentials cache logs why its refresh failed)",
        Rfc3339(*credentials_expiry)
    )]
    CredentialsExpiring {
        /// `host:port` (RDS) or `host` (DSQL).
        endpoint: String,
        /// The database user (RDS) or the DSQL action.
        who: String,
        /// When the credentials expire.
        credentials_expiry: SystemTime,
    },

    /// A background refresher was asked for outside a Tokio runtime.
    #[error(
        "the background token refresher needs a Tokio runtime; call \
         start_background_refresh from within one (e.g. inside #[tokio::main])"
    )]
    NoRuntime,
}
