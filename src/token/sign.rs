//! SigV4 query presigning for `rds-db:connect` and Aurora DSQL tokens.
//!
//! The canonical request and string to sign are built directly (no generic HTTP request
//! signer) and hashed as they are written; the signing key and signature come from
//! `aws-sigv4`'s public functions. The output matches botocore's
//! `generate_db_auth_token` and DSQL token calls byte for byte (see
//! `tests/data/token_vectors/`):
//!
//! - token: `host[:port]/?Action=..[&DBUser=..]&X-Amz-Algorithm=AWS4-HMAC-SHA256&
//!   X-Amz-Credential=..&X-Amz-Date=..&X-Amz-Expires=..&X-Amz-SignedHeaders=host
//!   [&X-Amz-Security-Token=..]&X-Amz-Signature=..` (no scheme);
//! - canonical query: the same pairs sorted by key, so the session token comes before
//!   `X-Amz-SignedHeaders` there, and without the signature;
//! - signed `host` header: the host in lower case, then `:port` unless the port is 443
//!   (both botocore and aws-sigv4 sign as if for `https://`, whose default port they drop);
//! - an IPv6 host is written in brackets in both, as in a URL, whether it was given with
//!   them (botocore's convention) or without (as [`crate::jdbc::HostPort`] holds it);
//! - payload hash: SHA-256 of the empty string.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::sign::v4::{calculate_signature, generate_signing_key};
use sha2::{Digest, Sha256};

use super::date::{MAX_UNIX_SECS, UtcDateTime};
use super::encode::{encoded_len, push_encoded};
use super::{AuthToken, DsqlTokenParams, RdsTokenParams, TokenError};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// SHA-256 of the empty payload, hex.
const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const RDS_SERVICE: &str = "rds-db";
const DSQL_SERVICE: &str = "dsql";
/// The port botocore and aws-sigv4 leave out of the signed `host` header (https default).
const HTTPS_PORT: u16 = 443;

/// Sign an RDS / Aurora IAM authentication token (`rds-db:connect`) at the instant `at`.
///
/// A pure function: the same parameters, credentials and instant always give the same
/// token, byte for byte what botocore's `generate_db_auth_token` (and so
/// `aws rds generate-db-auth-token`) gives. The token is valid for 15 minutes after `at`
/// (rounded down to the second), or until `credentials` expire if that is sooner (see
/// [`AuthToken::valid_until`]).
///
/// # Errors
///
/// [`TokenError`] when the host, port, user or region cannot be signed for (empty, or
/// characters no host or region has), when the credentials lack a key or had expired at
/// `at` ([`TokenError::CredentialsExpired`]), or when `at` is before 1970 or after the year
/// 9999.
///
/// # Example
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::token::{RdsTokenParams, sign_rds_token};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let params = RdsTokenParams::new(
///     "mydb.cluster-abc123.us-east-1.rds.amazonaws.com", 5432, "app user", "us-east-1");
/// let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example");
/// let at = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29T12:34:56Z
///
/// let token = sign_rds_token(&params, &credentials, at)?;
/// assert!(token.expose().starts_with(
///     "mydb.cluster-abc123.us-east-1.rds.amazonaws.com:5432/?Action=connect\
///      &DBUser=app%20user&X-Amz-Algorithm=AWS4-HMAC-SHA256\
///      &X-Amz-Credential=AKIDEXAMPLE%2F20240229%2Fus-east-1%2Frds-db%2Faws4_request\
///      &X-Amz-Date=20240229T123456Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
///      &X-Amz-Signature="));
/// assert_eq!(token.expires_at(), at + Duration::from_secs(900));
/// assert!(!format!("{token:?}").contains("X-Amz-Signature"));
/// # Ok::<(), rds_iam::token::TokenError>(())
/// ```
pub fn sign_rds_token(
    params: &RdsTokenParams,
    credentials: &Credentials,
    at: SystemTime,
) -> Result<AuthToken, TokenError> {
    let host = check_host(&params.host)?;
    if params.port == 0 {
        return Err(TokenError::InvalidPort);
    }
    if params.user.is_empty() {
        return Err(TokenError::EmptyUser);
    }
    check_region(&params.region)?;
    presign(
        &Target {
            host,
            port: Some(params.port),
            action: "connect",
            user: Some(&params.user),
            region: &params.region,
            service: RDS_SERVICE,
            expires_secs: RdsTokenParams::LIFETIME.as_secs(),
        },
        credentials,
        at,
    )
}

/// Sign an Aurora DSQL authentication token (`DbConnect` or `DbConnectAdmin`) at the
/// instant `at`.
///
/// Like [`sign_rds_token`], a pure function matching botocore's
/// `generate_db_connect_auth_token` / `generate_db_connect_admin_auth_token`: the token is
/// `host/?Action=DbConnect...` (no port, no user), signed for service `dsql`, valid for
/// `params.expires_in`.
///
/// # Errors
///
/// As [`sign_rds_token`], and [`TokenError::ExpiryOutOfRange`] when `expires_in` is not
/// whole seconds from 1 to 604800.
///
/// ```
/// use aws_credential_types::Credentials;
/// use rds_iam::token::{DsqlAction, DsqlTokenParams, sign_dsql_token};
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let params = DsqlTokenParams::new("abc.dsql.us-east-1.on.aws", "us-east-1", DsqlAction::DbConnectAdmin)
///     .with_expires_in(Duration::from_secs(3600));
/// let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "example");
/// let at = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
/// let token = sign_dsql_token(&params, &credentials, at)?;
/// assert!(token.expose().starts_with("abc.dsql.us-east-1.on.aws/?Action=DbConnectAdmin&"));
/// assert!(token.expose().contains("&X-Amz-Expires=3600&"));
/// # Ok::<(), rds_iam::token::TokenError>(())
/// ```
pub fn sign_dsql_token(
    params: &DsqlTokenParams,
    credentials: &Credentials,
    at: SystemTime,
) -> Result<AuthToken, TokenError> {
    let host = check_host(&params.host)?;
    check_region(&params.region)?;
    let expires_in = params.expires_in;
    if expires_in.subsec_nanos() != 0
        || expires_in.is_zero()
        || expires_in > DsqlTokenParams::MAX_EXPIRES_IN
    {
        return Err(TokenError::ExpiryOutOfRange { expires_in });
    }
    presign(
        &Target {
            host,
            port: None,
            action: params.action.as_str(),
            user: None,
            region: &params.region,
            service: DSQL_SERVICE,
            expires_secs: expires_in.as_secs(),
        },
        credentials,
        at,
    )
}

/// What is being presigned (already checked).
struct Target<'a> {
    host: Host<'a>,
    port: Option<u16>,
    action: &'static str,
    user: Option<&'a str>,
    region: &'a str,
    service: &'static str,
    expires_secs: u64,
}

fn presign(
    target: &Target<'_>,
    credentials: &Credentials,
    at: SystemTime,
) -> Result<AuthToken, TokenError> {
    let access_key_id = credentials.access_key_id();
    let secret_access_key = credentials.secret_access_key();
    if access_key_id.is_empty() || secret_access_key.is_empty() {
        return Err(TokenError::IncompleteCredentials);
    }
    let secs = at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| TokenError::TimeBeforeEpoch)?
        .as_secs();
    if secs > MAX_UNIX_SECS {
        return Err(TokenError::TimeAfterYear9999);
    }
    let signed_at = UNIX_EPOCH + Duration::from_secs(secs);
    if let Some(expiry) = credentials.expiry()
        && expiry <= at
    {
        return Err(TokenError::CredentialsExpired {
            expiry,
            at: signed_at,
        });
    }
    let amz_date_bytes = UtcDateTime::from_unix_secs(secs).amz_date();
    let amz_date = ascii(&amz_date_bytes);
    let date = &amz_date[..8];

    let mut port_buf = [0u8; 20];
    let port = target.port.map(|p| decimal(u64::from(p), &mut port_buf));
    let mut expires_buf = [0u8; 20];
    let expires = decimal(target.expires_secs, &mut expires_buf);
    let session_token = credentials.session_token();

    let mut token = String::with_capacity(
        target.host.len()
            + port.map_or(0, |p| 1 + p.len())
            + TOKEN_FIXED_LEN
            + target.action.len()
            + target.user.map_or(0, |u| "&DBUser=".len() + encoded_len(u))
            + encoded_len(access_key_id)
            + target.region.len()
            + target.service.len()
            + expires.len()
            + session_token.map_or(0, |t| "&X-Amz-Security-Token=".len() + encoded_len(t)),
    );
    target.host.push_to(&mut token);
    if let Some(port) = port {
        token.push(':');
        token.push_str(port);
    }
    let endpoint_len = token.len();
    token.push_str("/?");
    let query_start = token.len();
    token.push_str("Action=");
    token.push_str(target.action);
    if let Some(user) = target.user {
        token.push_str("&DBUser=");
        push_encoded(&mut token, user);
    }
    token.push_str("&X-Amz-Algorithm=");
    token.push_str(ALGORITHM);
    token.push_str("&X-Amz-Credential=");
    push_encoded(&mut token, access_key_id);
    token.push_str("%2F");
    token.push_str(date);
    token.push_str("%2F");
    token.push_str(target.region); // checked: only unreserved characters
    token.push_str("%2F");
    token.push_str(target.service);
    token.push_str("%2Faws4_request&X-Amz-Date=");
    token.push_str(amz_date);
    token.push_str("&X-Amz-Expires=");
    token.push_str(expires);
    let signed_headers_start = token.len();
    token.push_str(SIGNED_HEADERS_PAIR);
    let session_start = token.len();
    if let Some(session_token) = session_token {
        token.push_str("&X-Amz-Security-Token=");
        push_encoded(&mut token, session_token);
    }

    // Canonical request, hashed as it is assembled:
    // GET \n / \n <sorted query> \n host:<host> \n \n host \n <payload hash>
    let mut hasher = Sha256::new();
    hasher.update(b"GET\n/\n");
    hasher.update(&token[query_start..signed_headers_start]);
    hasher.update(&token[session_start..]); // X-Amz-Security-Token sorts before SignedHeaders
    hasher.update(SIGNED_HEADERS_PAIR);
    hasher.update(b"\nhost:");
    let host = target.host;
    if host.ipv6 {
        hasher.update(b"[");
    }
    if host.name.bytes().any(|b| b.is_ascii_uppercase()) {
        hasher.update(host.name.to_ascii_lowercase());
    } else {
        hasher.update(host.name);
    }
    if host.ipv6 {
        hasher.update(b"]");
    }
    if let (Some(port), Some(number)) = (port, target.port)
        && number != HTTPS_PORT
    {
        hasher.update(b":");
        hasher.update(port);
    }
    hasher.update(b"\n\nhost\n");
    hasher.update(EMPTY_PAYLOAD_SHA256);
    let mut canonical_hash = [0u8; 64];
    hex::encode_to_slice(hasher.finalize(), &mut canonical_hash)
        .expect("a SHA-256 digest is 32 bytes, 64 hex digits");

    let mut string_to_sign =
        Vec::with_capacity(STRING_TO_SIGN_FIXED_LEN + target.region.len() + target.service.len());
    string_to_sign.extend_from_slice(ALGORITHM.as_bytes());
    string_to_sign.push(b'\n');
    string_to_sign.extend_from_slice(&amz_date_bytes);
    string_to_sign.push(b'\n');
    string_to_sign.extend_from_slice(date.as_bytes());
    string_to_sign.push(b'/');
    string_to_sign.extend_from_slice(target.region.as_bytes());
    string_to_sign.push(b'/');
    string_to_sign.extend_from_slice(target.service.as_bytes());
    string_to_sign.extend_from_slice(b"/aws4_request\n");
    string_to_sign.extend_from_slice(&canonical_hash);

    let signing_key =
        generate_signing_key(secret_access_key, signed_at, target.region, target.service);
    let signature = calculate_signature(signing_key, &string_to_sign);
    token.push_str("&X-Amz-Signature=");
    token.push_str(&signature);

    Ok(AuthToken::new(
        token,
        endpoint_len,
        signed_at,
        signed_at + Duration::from_secs(target.expires_secs),
        credentials.expiry(),
    ))
}

const SIGNED_HEADERS_PAIR: &str = "&X-Amz-SignedHeaders=host";

/// The token's length without its variable parts (host, port, action, user, access key
/// id, region, service, expiry, session token).
const TOKEN_FIXED_LEN: usize = "/?Action=".len()
    + "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=".len()
    + "%2Fyyyymmdd%2F".len()
    + "%2F%2Faws4_request&X-Amz-Date=yyyymmddThhmmssZ&X-Amz-Expires=".len()
    + SIGNED_HEADERS_PAIR.len()
    + "&X-Amz-Signature=".len()
    + 64;

/// The string to sign's length without the region and service.
const STRING_TO_SIGN_FIXED_LEN: usize =
    "AWS4-HMAC-SHA256\nyyyymmddThhmmssZ\nyyyymmdd///aws4_request\n".len() + 64;

/// `bytes` (ASCII by construction) as text.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("formatted dates and numbers are ASCII")
}

/// `value` in decimal, written at the end of `buf`.
fn decimal(mut value: u64, buf: &mut [u8; 20]) -> &str {
    let mut start = buf.len();
    loop {
        start -= 1;
        buf[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    ascii(&buf[start..])
}

/// A checked signing host: a DNS name or IPv4 address, or an IPv6 address, which the token
/// writes in brackets (as a URL does) whether it was given with them or not.
#[derive(Clone, Copy)]
struct Host<'a> {
    /// Without brackets.
    name: &'a str,
    ipv6: bool,
}

impl Host<'_> {
    /// Its length as written in the token.
    fn len(self) -> usize {
        self.name.len() + if self.ipv6 { 2 } else { 0 }
    }

    fn push_to(self, token: &mut String) {
        if self.ipv6 {
            token.push('[');
            token.push_str(self.name);
            token.push(']');
        } else {
            token.push_str(self.name);
        }
    }
}

/// A host is a DNS name / IPv4 address (`A-Z a-z 0-9 - . _`) or an IPv6 address, bare or in
/// brackets; anything else (a port, a path, `@`, spaces) would change what the token means.
fn check_host(host: &str) -> Result<Host<'_>, TokenError> {
    if host.is_empty() {
        return Err(TokenError::EmptyHost);
    }
    let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let bad = if let Some(inner) = bracketed {
        if inner.is_empty() {
            Some(']')
        } else {
            inner
                .chars()
                .find(|&c| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
        }
    } else if host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_ok() {
        None
    } else {
        host.chars()
            .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    };
    match bad {
        Some(found) => Err(TokenError::InvalidHost { found }),
        None => Ok(Host {
            name: bracketed.unwrap_or(host),
            ipv6: bracketed.is_some() || host.contains(':'),
        }),
    }
}

fn check_region(region: &str) -> Result<(), TokenError> {
    if region.is_empty() {
        return Err(TokenError::EmptyRegion);
    }
    match region
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        Some(found) => Err(TokenError::InvalidRegion { found }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::DsqlAction;
    use proptest::prelude::*;

    fn creds() -> Credentials {
        Credentials::new("AKIDEXAMPLE", "secret", None, None, "unit")
    }

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_709_210_096) // 2024-02-29T12:34:56Z
    }

    fn rds(host: &str, port: u16, user: &str, region: &str) -> Result<AuthToken, TokenError> {
        sign_rds_token(
            &RdsTokenParams::new(host, port, user, region),
            &creds(),
            at(),
        )
    }

    fn dsql(expires_in: Duration) -> Result<AuthToken, TokenError> {
        let params = DsqlTokenParams::new(
            "abc.dsql.us-east-1.on.aws",
            "us-east-1",
            DsqlAction::DbConnect,
        )
        .with_expires_in(expires_in);
        sign_dsql_token(&params, &creds(), at())
    }

    #[test]
    fn rejects_unsignable_parameters_with_a_fix() {
        assert_eq!(
            rds("", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::EmptyHost
        );
        assert_eq!(
            rds("db:5432", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidHost { found: ':' }
        );
        assert_eq!(
            rds("1:2", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidHost { found: ':' }
        );
        assert_eq!(
            rds("db/x", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidHost { found: '/' }
        );
        assert_eq!(
            rds("[]", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidHost { found: ']' }
        );
        assert_eq!(
            rds("[::1%eth0]", 5432, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidHost { found: '%' }
        );
        assert_eq!(
            rds("db", 0, "u", "us-east-1").unwrap_err(),
            TokenError::InvalidPort
        );
        assert_eq!(
            rds("db", 5432, "", "us-east-1").unwrap_err(),
            TokenError::EmptyUser
        );
        assert_eq!(
            rds("db", 5432, "u", "").unwrap_err(),
            TokenError::EmptyRegion
        );
        assert_eq!(
            rds("db", 5432, "u", "US-EAST-1").unwrap_err(),
            TokenError::InvalidRegion { found: 'U' }
        );
        assert_eq!(
            rds("db", 5432, "u", "us east").unwrap_err(),
            TokenError::InvalidRegion { found: ' ' }
        );
        let message = rds("db:5432", 5432, "u", "us-east-1")
            .unwrap_err()
            .to_string();
        assert!(message.contains("the port in its own field"), "{message}");
        let message = rds("db", 5432, "u", "").unwrap_err().to_string();
        assert!(message.contains("never guessed"), "{message}");
    }

    #[test]
    fn accepts_ip_addresses_and_any_user() {
        for host in [
            "10.0.0.1",
            "[::1]",
            "[fd00:ec2::254]",
            "::1",
            "::ffff:10.0.0.1",
            "LOCALHOST",
            "a_b.example",
        ] {
            assert!(rds(host, 5432, "u", "us-east-1").is_ok(), "{host}");
        }
        for user in [
            "name with space",
            "a+b",
            "user@corp",
            "ünï",
            "sl/ash;semi&amp=eq",
            "\0",
        ] {
            assert!(rds("db", 5432, user, "us-east-1").is_ok(), "{user:?}");
        }
    }

    #[test]
    fn rejects_incomplete_credentials_and_out_of_range_times() {
        let params = RdsTokenParams::new("db", 5432, "u", "us-east-1");
        for creds in [
            Credentials::new("", "secret", None, None, "unit"),
            Credentials::new("AKID", "", None, None, "unit"),
        ] {
            assert_eq!(
                sign_rds_token(&params, &creds, at()).unwrap_err(),
                TokenError::IncompleteCredentials
            );
        }
        let before = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(
            sign_rds_token(&params, &creds(), before).unwrap_err(),
            TokenError::TimeBeforeEpoch
        );
        let after = UNIX_EPOCH + Duration::from_secs(MAX_UNIX_SECS + 1);
        assert_eq!(
            sign_rds_token(&params, &creds(), after).unwrap_err(),
            TokenError::TimeAfterYear9999
        );
        assert!(
            TokenError::TimeBeforeEpoch
                .to_string()
                .contains("sign at the current time")
        );
    }

    #[test]
    fn dsql_expiry_limits() {
        for ok in [1, 900, 3600, 604_800] {
            let token = dsql(Duration::from_secs(ok)).unwrap();
            assert!(token.expose().contains(&format!("&X-Amz-Expires={ok}&")));
            assert_eq!(
                token.expires_at(),
                token.signed_at() + Duration::from_secs(ok)
            );
        }
        for bad in [
            Duration::ZERO,
            Duration::from_secs(604_801),
            Duration::from_millis(1500),
            Duration::from_nanos(1),
        ] {
            assert_eq!(
                dsql(bad).unwrap_err(),
                TokenError::ExpiryOutOfRange { expires_in: bad }
            );
        }
        let message = dsql(Duration::ZERO).unwrap_err().to_string();
        assert!(message.contains("from 1 to 604800"), "{message}");
    }

    #[test]
    fn lifetime_follows_the_signing_second_and_the_credentials() {
        let params = RdsTokenParams::new("db", 5432, "u", "us-east-1");
        let at = at() + Duration::from_millis(999);
        let token = sign_rds_token(&params, &creds(), at).unwrap();
        assert_eq!(token.signed_at(), self::at());
        assert_eq!(token.expires_at(), self::at() + Duration::from_secs(900));
        assert_eq!(token.credentials_expiry(), None);
        assert_eq!(token.valid_until(), token.expires_at());

        let soon = self::at() + Duration::from_secs(60);
        let temporary = Credentials::new("AKID", "secret", Some("t".into()), Some(soon), "unit");
        let token = sign_rds_token(&params, &temporary, at).unwrap();
        assert_eq!(token.credentials_expiry(), Some(soon));
        assert_eq!(token.valid_until(), soon);

        let later = self::at() + Duration::from_secs(3600);
        let temporary = Credentials::new("AKID", "secret", Some("t".into()), Some(later), "unit");
        let token = sign_rds_token(&params, &temporary, at).unwrap();
        assert_eq!(token.valid_until(), token.expires_at());
    }

    #[test]
    fn credentials_expired_at_the_signing_instant_are_refused() {
        let params = RdsTokenParams::new("db", 5432, "u", "us-east-1");
        let dsql = DsqlTokenParams::new(
            "abc.dsql.us-east-1.on.aws",
            "us-east-1",
            DsqlAction::DbConnect,
        );
        let expired =
            |expiry| Credentials::new("AKID", "secret", Some("t".into()), Some(expiry), "unit");
        let an_hour_ago = at() - Duration::from_secs(3600);
        for expiry in [an_hour_ago, at()] {
            let want = TokenError::CredentialsExpired { expiry, at: at() };
            assert_eq!(
                sign_rds_token(&params, &expired(expiry), at()).unwrap_err(),
                want
            );
            assert_eq!(
                sign_dsql_token(&dsql, &expired(expiry), at()).unwrap_err(),
                want
            );
        }
        let message = sign_rds_token(
            &params,
            &expired(an_hour_ago),
            at() + Duration::from_millis(500),
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.starts_with(
                "the AWS credentials expired at 2024-02-29T11:34:56Z, at or before the signing \
                 time 2024-02-29T12:34:56Z"
            ),
            "{message}"
        );
        assert!(message.contains("fresh credentials"), "{message}");
        // A second of life left is still a token (valid for that second).
        let token = sign_rds_token(&params, &expired(at() + Duration::from_secs(1)), at()).unwrap();
        assert_eq!(token.valid_until(), at() + Duration::from_secs(1));
    }

    #[test]
    fn port_443_stays_in_the_token() {
        let token = rds("db.example.com", 443, "u", "us-east-1").unwrap();
        assert!(
            token
                .expose()
                .starts_with("db.example.com:443/?Action=connect&")
        );
        assert_eq!(token.endpoint(), "db.example.com:443");
    }

    #[test]
    fn decimal_writes_every_width() {
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), "0");
        assert_eq!(decimal(7, &mut buf), "7");
        assert_eq!(decimal(65_535, &mut buf), "65535");
        assert_eq!(decimal(u64::MAX, &mut buf), "18446744073709551615");
    }

    #[test]
    fn capacity_is_exact() {
        let with_session = Credentials::new("AKID", "secret", Some("a/b+c=".into()), None, "u");
        let params = RdsTokenParams::new("db.example.com", 5432, "ünï user", "eu-west-1");
        let token = sign_rds_token(&params, &with_session, at())
            .unwrap()
            .into_exposed();
        assert_eq!(token.capacity(), token.len());
        let token = dsql(Duration::from_secs(604_800)).unwrap().into_exposed();
        assert_eq!(token.capacity(), token.len());
        let token = rds("fd00::1", 5432, "u", "us-east-1")
            .unwrap()
            .into_exposed();
        assert_eq!(token.capacity(), token.len());
    }

    proptest! {
        /// Any user name signs, and its `DBUser` value decodes back to it.
        #[test]
        fn user_round_trips(user in "\\PC+") {
            let token = rds("db", 5432, &user, "us-east-1").unwrap();
            let value = token
                .expose()
                .split('&')
                .find_map(|pair| pair.strip_prefix("DBUser="))
                .unwrap();
            let decoded = percent_encoding::percent_decode_str(value).decode_utf8().unwrap();
            prop_assert_eq!(decoded.as_ref(), user.as_str());
        }
    }
}
