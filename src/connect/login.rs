//! The login loop shared by both connectors: hosts in order, a token per host, one retry with a
//! fresh token when the server rejects a cached one, and TLS failures explained.
//!
//! The token provider is called here and nowhere else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::jdbc::Engine;
use crate::provider::{ProvidedToken, TokenProvider};
use crate::tls::diagnose::{self, HandshakeFailure};
use crate::tls::probe::{self, Protocol};
use crate::token::AuthToken;

use super::{BoxError, ConnectError};
use crate::plan::Target;

/// How long the certificate probe behind a host-name-mismatch message may take.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How one login attempt with one token ended.
pub(crate) enum Outcome<T> {
    /// Logged in.
    Connected(T),
    /// The server rejected the credentials (the token).
    Rejected(BoxError),
    /// Anything else.
    Failed(ConnectError),
}

/// Try `targets` in order with `connect` (given each target's index); the first success wins.
pub(crate) async fn each_target<'t, T, F, Fut>(
    targets: &'t [Target],
    mut connect: F,
) -> Result<T, ConnectError>
where
    F: FnMut(usize, &'t Target) -> Fut,
    Fut: Future<Output = Result<T, ConnectError>>,
{
    let mut errors = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        match connect(index, target).await {
            Ok(connected) => return Ok(connected),
            Err(e) if !e.next_host_may_help() => return Err(e),
            Err(e) => {
                if targets.len() > 1 {
                    tracing::info!(target: "rds_iam::connect", server = %target, error = %e, "host failed, trying the next one");
                }
                errors.push(e);
            }
        }
    }
    Err(ConnectError::from_attempts(errors))
}

/// Log in to `target` with a token from `tokens`, retrying once with a fresh token when the
/// server rejects one that came from the cache. `attempt` gets the provider's shared token (a
/// reference count, not a copy).
pub(crate) async fn login<T, F, Fut>(
    tokens: &TokenProvider,
    target: &Target,
    engine: Engine,
    mut attempt: F,
) -> Result<T, ConnectError>
where
    F: FnMut(Arc<AuthToken>) -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let token = token_for(tokens, target).await?;
    match attempt(token.shared()).await {
        Outcome::Connected(connected) => return Ok(connected),
        Outcome::Failed(e) => return Err(e),
        Outcome::Rejected(source) if !token.from_cache() => {
            return Err(rejected(target, engine, false, source));
        }
        Outcome::Rejected(_) => {}
    }
    tracing::info!(
        target: "rds_iam::connect",
        server = %target,
        "the server rejected a cached IAM token: minting a fresh one and retrying once"
    );
    let dropped = tokens.invalidate(&target.token, &token);
    tracing::debug!(target: "rds_iam::connect", server = %target, dropped, "invalidated the rejected token");
    let fresh = token_for(tokens, target).await?;
    match attempt(fresh.shared()).await {
        Outcome::Connected(connected) => Ok(connected),
        Outcome::Failed(e) => Err(e),
        Outcome::Rejected(source) => Err(rejected(target, engine, true, source)),
    }
}

/// A token for `target` (shared with the provider's cache, not copied).
pub(crate) async fn token_for(
    tokens: &TokenProvider,
    target: &Target,
) -> Result<ProvidedToken, ConnectError> {
    tokens
        .token(&target.token)
        .await
        .map_err(|source| ConnectError::Token {
            user: target.token.user.clone(),
            endpoint: format!("{}:{}", target.token.host, target.token.port),
            source: Box::new(source),
        })
}

fn rejected(target: &Target, engine: Engine, retried: bool, source: BoxError) -> ConnectError {
    ConnectError::LoginRejected {
        server: target.to_string(),
        engine,
        user: target.token.user.clone(),
        endpoint: format!("{}:{}", target.token.host, target.token.port),
        region: target.token.region.clone(),
        retried,
        source,
    }
}

/// Explain a failed TLS handshake with `target`: untrusted certificate (naming what was
/// trusted), host name mismatch (naming both names; the certificate is fetched again for its
/// names), or another handshake failure.
pub(crate) async fn tls_failure(
    target: &Target,
    protocol: Protocol,
    trusted: &str,
    source: BoxError,
) -> ConnectError {
    let server = target.to_string();
    match diagnose::classify(&*source).unwrap_or(HandshakeFailure::Other) {
        HandshakeFailure::Untrusted { detail } => ConnectError::UntrustedCertificate {
            server,
            detail,
            trusted: trusted.to_owned(),
            source,
        },
        HandshakeFailure::HostNameMismatch => ConnectError::HostNameMismatch {
            server,
            expected: target.tls_name().to_owned(),
            presented: presented_names(target, protocol).await,
            source,
        },
        HandshakeFailure::Other => ConnectError::Handshake { server, source },
    }
}

/// The DNS names on the certificate `target` presents now (empty when it cannot be read).
async fn presented_names(target: &Target, protocol: Protocol) -> Vec<String> {
    match presented_certificate(target, protocol).await {
        Ok(der) => diagnose::certificate_dns_names(&der),
        Err(e) => {
            tracing::debug!(target: "rds_iam::connect", server = %target, error = %e, "could not read the server certificate's names");
            Vec::new()
        }
    }
}

/// The certificate `target` presents now, as DER (a handshake that sends nothing else).
pub(crate) async fn presented_certificate(
    target: &Target,
    protocol: Protocol,
) -> std::io::Result<Vec<u8>> {
    let addr = tokio::net::lookup_host((target.dial.host.as_str(), target.dial.port))
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other("the host name resolves to no address"))?;
    probe::server_certificate(addr, target.tls_name(), protocol, PROBE_TIMEOUT).await
}
