//! Token verification, written apart from the crate's token minting code.
//!
//! An RDS IAM token is a presigned SigV4 query:
//! `host:port/?Action=connect&DBUser=u&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240101%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=...&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=...`
//! (plus `X-Amz-Security-Token` for temporary credentials). [`Verifier`] parses it,
//! recomputes the signature with HMAC-SHA256 directly from the SigV4 specification
//! (it does not call `aws-sigv4` nor anything in this crate's `token` module, so a bug
//! there cannot hide itself here), and checks every claim against what the emulator
//! was configured with.
//!
//! The order of the checks decides which [`Rejection`] a bad token gets: structure,
//! access key id, signature, then the signed claims (service, region, host, session
//! token, user, expiry window, time). Claims are only meaningful once the signature
//! holds, so a tampered token is always [`Rejection::BadSignature`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

use rds_iam::clock::Clock;

/// The longest validity a token may claim (`X-Amz-Expires`), in seconds. RDS tokens
/// are valid for 15 minutes.
pub const MAX_EXPIRES_SECS: u64 = 900;

/// The default tolerance for a token dated in the future (clock skew between the
/// signer and the emulator): 5 minutes, as AWS allows for SigV4.
pub const DEFAULT_ALLOWED_SKEW: Duration = Duration::from_secs(300);

/// SigV4 URI encoding: everything but `A-Z a-z 0-9 - _ . ~` is percent-encoded.
const SIGV4_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SHA-256 of the empty payload: presigned RDS tokens sign an empty body.
const EMPTY_PAYLOAD_SHA256: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Why the emulator refused a login. Recorded per login attempt; its `Debug` and
/// `Display` never contain the token or any part of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rejection {
    /// The client did not upgrade to TLS; no password was asked for.
    NoTls,
    /// The password is not a presigned token, or a required part is missing or invalid.
    /// The text names the part (never its value).
    Malformed(&'static str),
    /// The token was signed with an access key id the emulator does not know.
    WrongAccessKey,
    /// The signature does not match (tampered token or wrong secret access key).
    BadSignature,
    /// The credential scope names a service other than `rds-db`.
    WrongService,
    /// The credential scope names another region than the emulated endpoint's.
    WrongRegion,
    /// The token was signed for another `host:port` than the emulated endpoint.
    WrongHost,
    /// The session token is missing, unexpected, or not the configured one.
    WrongSessionToken,
    /// `DBUser` is not the user name of the login.
    WrongUser,
    /// `X-Amz-Date` lies further in the future than the allowed clock skew.
    NotYetValid,
    /// `X-Amz-Date` + `X-Amz-Expires` has passed by the emulator's clock.
    Expired,
    /// The token is valid, but the PostgreSQL user is not a member of `rds_iam` in the backend
    /// (with [`EmulatorConfigBuilder::require_rds_iam`](crate::EmulatorConfigBuilder::require_rds_iam)).
    NotRdsIamMember,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTls => f.write_str("the client did not use TLS"),
            Self::Malformed(what) => write!(f, "the password is not a valid token: {what}"),
            Self::WrongAccessKey => {
                f.write_str("the token is signed with an unknown access key id")
            }
            Self::BadSignature => f.write_str("the token signature does not match"),
            Self::WrongService => f.write_str("the token is not signed for service rds-db"),
            Self::WrongRegion => f.write_str("the token is signed for another region"),
            Self::WrongHost => f.write_str("the token is signed for another host:port"),
            Self::WrongSessionToken => f.write_str("the token carries the wrong session token"),
            Self::WrongUser => f.write_str("the token is signed for another database user"),
            Self::NotYetValid => f.write_str("the token is dated in the future"),
            Self::Expired => f.write_str("the token has expired"),
            Self::NotRdsIamMember => f.write_str("the user is not a member of rds_iam"),
        }
    }
}

/// What a valid token claimed (no secret parts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The `DBUser` the token was signed for.
    pub user: String,
    /// When it was signed (`X-Amz-Date`).
    pub signed_at: SystemTime,
    /// When it stops being valid (`X-Amz-Date` + `X-Amz-Expires`).
    pub expires_at: SystemTime,
}

/// Checks tokens against one emulated endpoint, one region and one set of credentials.
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, UNIX_EPOCH};
/// use aws_credential_types::Credentials;
/// use rds_iam::clock::ManualClock;
/// use rds_iam_emulator::{DEFAULT_ALLOWED_SKEW, Rejection, Verifier};
///
/// // botocore's test vector: signed 2016-11-07T17:39:33Z with `akid`/`skid`.
/// let token = "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect\
///     &DBUser=someusername&X-Amz-Algorithm=AWS4-HMAC-SHA256\
///     &X-Amz-Date=20161107T173933Z&X-Amz-SignedHeaders=host&X-Amz-Expires=900\
///     &X-Amz-Credential=akid%2F20161107%2Fus-east-1%2Frds-db%2Faws4_request\
///     &X-Amz-Signature=d1138cdbc0ca63eec012ec0fc6c2267e03642168f5884a7795320d4c18374c61";
/// let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_478_540_373 + 60));
/// let verifier = Verifier::new(
///     "prod-instance.us-east-1.rds.amazonaws.com",
///     3306,
///     "us-east-1",
///     Credentials::new("akid", "skid", None, None, "example"),
///     Arc::new(clock.clone()),
///     DEFAULT_ALLOWED_SKEW,
/// );
/// assert_eq!(verifier.verify(token, "someusername").unwrap().user, "someusername");
/// assert_eq!(verifier.verify(token, "admin"), Err(Rejection::WrongUser));
/// clock.advance(Duration::from_secs(15 * 60));
/// assert_eq!(verifier.verify(token, "someusername"), Err(Rejection::Expired));
/// ```
#[derive(Debug, Clone)]
pub struct Verifier {
    host: String,
    port: u16,
    region: String,
    credentials: Credentials,
    clock: Arc<dyn Clock>,
    allowed_skew: Duration,
}

impl Verifier {
    /// A verifier for tokens signed for `host:port` in `region` with `credentials`
    /// (access key id, secret access key, and the session token if there is one),
    /// judging time by `clock` with a tolerance of `allowed_skew` for tokens dated in
    /// the future. An IPv6 `host` may be written with or without brackets (`::1`,
    /// `[::1]`); tokens carry it in brackets.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        region: impl Into<String>,
        credentials: Credentials,
        clock: Arc<dyn Clock>,
        allowed_skew: Duration,
    ) -> Self {
        let host = host.into();
        Self {
            host: unbracketed(&host).to_owned(),
            port,
            region: region.into(),
            credentials,
            clock,
            allowed_skew,
        }
    }

    /// Verify `token` presented as the password of `login_user`.
    pub fn verify(&self, token: &str, login_user: &str) -> Result<VerifiedToken, Rejection> {
        let parsed = ParsedToken::parse(token)?;
        let scope = parsed.scope()?;
        if scope.access_key_id != self.credentials.access_key_id() {
            return Err(Rejection::WrongAccessKey);
        }
        let expected = signature(
            self.credentials.secret_access_key(),
            parsed.host_port,
            &parsed.params,
            &scope,
            parsed.amz_date,
        );
        if !constant_time_eq(expected.as_bytes(), parsed.signature.as_bytes()) {
            return Err(Rejection::BadSignature);
        }
        if scope.service != "rds-db" {
            return Err(Rejection::WrongService);
        }
        if scope.region != self.region {
            return Err(Rejection::WrongRegion);
        }
        if !self.is_endpoint(parsed.host_port) {
            return Err(Rejection::WrongHost);
        }
        if parsed.param("X-Amz-Security-Token") != self.credentials.session_token() {
            return Err(Rejection::WrongSessionToken);
        }
        if parsed.param("Action") != Some("connect") {
            return Err(Rejection::Malformed("Action is not connect"));
        }
        let user = parsed
            .param("DBUser")
            .ok_or(Rejection::Malformed("DBUser is missing"))?;
        if user != login_user {
            return Err(Rejection::WrongUser);
        }
        let expires = parsed
            .param("X-Amz-Expires")
            .and_then(|e| e.parse::<u64>().ok())
            .ok_or(Rejection::Malformed(
                "X-Amz-Expires is missing or not a number",
            ))?;
        if expires == 0 || expires > MAX_EXPIRES_SECS {
            return Err(Rejection::Malformed("X-Amz-Expires is not within 1..=900"));
        }
        let signed_at = parse_amz_date(parsed.amz_date).ok_or(Rejection::Malformed(
            "X-Amz-Date is not a yyyymmddThhmmssZ time",
        ))?;
        let expires_at = signed_at + Duration::from_secs(expires);
        let now = self.clock.now();
        if signed_at > now + self.allowed_skew {
            return Err(Rejection::NotYetValid);
        }
        if now > expires_at {
            return Err(Rejection::Expired);
        }
        Ok(VerifiedToken {
            user: user.to_owned(),
            signed_at,
            expires_at,
        })
    }

    fn is_endpoint(&self, host_port: &str) -> bool {
        match host_port.rsplit_once(':') {
            Some((host, port)) => {
                unbracketed(host).eq_ignore_ascii_case(&self.host)
                    && port.parse::<u16>() == Ok(self.port)
            }
            None => false,
        }
    }
}

/// `host` without the brackets of an IPv6 address (`[::1]` is `::1`).
pub(crate) fn unbracketed(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A token split into its parts. Holds borrowed slices of the token; never printed.
struct ParsedToken<'a> {
    /// The signed `host:port` (everything before `/?`).
    host_port: &'a str,
    /// Decoded query parameters other than the signature, in token order.
    params: Vec<(String, String)>,
    signature: &'a str,
    amz_date: &'a str,
    credential: String,
}

/// The parts of `X-Amz-Credential`: `AKID/yyyymmdd/region/service/aws4_request`.
struct Scope<'a> {
    access_key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
}

impl<'a> ParsedToken<'a> {
    fn parse(token: &'a str) -> Result<Self, Rejection> {
        let (host_port, query) = token
            .split_once("/?")
            .ok_or(Rejection::Malformed("no `host:port/?` prefix"))?;
        if host_port.is_empty() || host_port.contains(['/', '?', '&', '=']) {
            return Err(Rejection::Malformed("the host:port part is invalid"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        let mut signature = None;
        let mut amz_date = None;
        for pair in query.split('&') {
            let (raw_key, raw_value) = pair
                .split_once('=')
                .ok_or(Rejection::Malformed("a query parameter has no `=`"))?;
            let key = decode(raw_key)?;
            match key.as_str() {
                "X-Amz-Signature" => {
                    if signature.replace(raw_value).is_some() {
                        return Err(Rejection::Malformed("X-Amz-Signature appears twice"));
                    }
                    continue;
                }
                // A second X-Amz-Date fails the duplicate check below.
                "X-Amz-Date" => amz_date = Some(raw_value),
                _ => {}
            }
            if params.iter().any(|(k, _)| *k == key) {
                return Err(Rejection::Malformed("a query parameter appears twice"));
            }
            params.push((key, decode(raw_value)?));
        }
        let signature = signature.ok_or(Rejection::Malformed("X-Amz-Signature is missing"))?;
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Rejection::Malformed("X-Amz-Signature is not 64 hex digits"));
        }
        let amz_date = amz_date.ok_or(Rejection::Malformed("X-Amz-Date is missing"))?;
        let lookup = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v);
        if lookup("X-Amz-Algorithm").map(String::as_str) != Some("AWS4-HMAC-SHA256") {
            return Err(Rejection::Malformed(
                "X-Amz-Algorithm is not AWS4-HMAC-SHA256",
            ));
        }
        if lookup("X-Amz-SignedHeaders").map(String::as_str) != Some("host") {
            return Err(Rejection::Malformed("X-Amz-SignedHeaders is not `host`"));
        }
        let credential = lookup("X-Amz-Credential")
            .cloned()
            .ok_or(Rejection::Malformed("X-Amz-Credential is missing"))?;
        Ok(Self {
            host_port,
            params,
            signature,
            amz_date,
            credential,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn scope(&self) -> Result<Scope<'_>, Rejection> {
        let mut parts = self.credential.split('/');
        let mut next = || {
            parts
                .next()
                .ok_or(Rejection::Malformed("X-Amz-Credential has too few parts"))
        };
        let scope = Scope {
            access_key_id: next()?,
            date: next()?,
            region: next()?,
            service: next()?,
        };
        if next()? != "aws4_request" || parts.next().is_some() {
            return Err(Rejection::Malformed(
                "X-Amz-Credential does not end in aws4_request",
            ));
        }
        if self.amz_date.len() != 16
            || !self.amz_date.starts_with(scope.date)
            || scope.date.len() != 8
        {
            return Err(Rejection::Malformed(
                "X-Amz-Date does not match the credential scope date",
            ));
        }
        Ok(scope)
    }
}

fn decode(raw: &str) -> Result<String, Rejection> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Rejection::Malformed("a query parameter is not UTF-8"))
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, SIGV4_ENCODE).to_string()
}

/// The SigV4 signature (lowercase hex) of a presigned `GET /` request to `host_port`
/// with query `params` (without `X-Amz-Signature`).
fn signature(
    secret_access_key: &str,
    host_port: &str,
    params: &[(String, String)],
    scope: &Scope<'_>,
    amz_date: &str,
) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let canonical_query = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical_request = format!(
        "GET\n/\n{canonical_query}\nhost:{}\n\nhost\n{EMPTY_PAYLOAD_SHA256}",
        signed_host(host_port).trim().to_ascii_lowercase()
    );
    let credential_scope = format!(
        "{}/{}/{}/aws4_request",
        scope.date, scope.region, scope.service
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{credential_scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac_sha256(
        format!("AWS4{secret_access_key}").as_bytes(),
        scope.date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    hex::encode(hmac_sha256(&k_signing, string_to_sign.as_bytes()))
}

/// The `host` header a signer signs for the token's `host:port`: a presigned RDS
/// token is signed as a request to `https://host:port`, and SigV4 signers (botocore,
/// aws-sigv4) leave the default port of `https`, 443, out of the host header while the
/// token text keeps it.
fn signed_host(host_port: &str) -> &str {
    host_port.strip_suffix(":443").unwrap_or(host_port)
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Compare without an early exit, so timing does not reveal how much of a forged
/// signature was right. Signatures are compared in lowercase hex.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    if expected.len() != presented.len() {
        return false;
    }
    expected
        .iter()
        .zip(presented)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b.to_ascii_lowercase()))
        == 0
}

/// `yyyymmddThhmmssZ` to a time (UTC), or `None` if it is not one.
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(range)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_since_epoch(year, month, day);
    let secs = days * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given date (year >= 1970).
fn days_since_epoch(year: u32, month: u32, day: u32) -> u64 {
    let years: u64 = (1970..year)
        .map(|y| if is_leap(y) { 366 } else { 365 })
        .sum();
    let months: u64 = (1..month).map(|m| u64::from(days_in_month(year, m))).sum();
    years + months + u64::from(day - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rds_iam::clock::ManualClock;

    // botocore's unit test vector (tests/unit/test_signers.py,
    // TestGenerateDBAuthToken.test_generate_db_auth_token): access key `akid`, secret
    // `skid`, region us-east-1, signed 2016-11-07T17:39:33Z. Parameters in botocore's
    // (unsorted) output order.
    const BOTOCORE_TOKEN: &str = "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect\
        &DBUser=someusername&X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Date=20161107T173933Z&X-Amz-SignedHeaders=host\
        &X-Amz-Expires=900&X-Amz-Credential=akid%2F20161107%2F\
        us-east-1%2Frds-db%2Faws4_request&X-Amz-Signature\
        =d1138cdbc0ca63eec012ec0fc6c2267e03642168f5884a7795320d4c18374c61";
    const SIGNED_AT: u64 = 1_478_540_373; // 2016-11-07T17:39:33Z

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn verifier_with(credentials: Credentials, clock: &ManualClock) -> Verifier {
        Verifier::new(
            "prod-instance.us-east-1.rds.amazonaws.com",
            3306,
            "us-east-1",
            credentials,
            Arc::new(clock.clone()),
            DEFAULT_ALLOWED_SKEW,
        )
    }

    fn verifier(clock: &ManualClock) -> Verifier {
        verifier_with(Credentials::new("akid", "skid", None, None, "test"), clock)
    }

    #[test]
    fn botocore_vector_verifies() {
        let clock = ManualClock::new(at(SIGNED_AT + 60));
        let verified = verifier(&clock)
            .verify(BOTOCORE_TOKEN, "someusername")
            .unwrap();
        assert_eq!(verified.user, "someusername");
        assert_eq!(verified.signed_at, at(SIGNED_AT));
        assert_eq!(verified.expires_at, at(SIGNED_AT + 900));
    }

    // botocore's DSQL vector (TestDSQLGenerateDBAuthToken): checks the signature code
    // with a session token in the signed query and another service name.
    #[test]
    fn botocore_dsql_vector_signature_with_session_token() {
        let token = "test.dsql.us-east-1.on.aws/?Action=DbConnect\
            &X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\
            ACCESS_KEY%2F20241107%2Fus-east-1%2Fdsql%2Faws4_request\
            &X-Amz-Date=20241107T173933Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
            &X-Amz-Security-Token=SESSION_TOKEN&X-Amz-Signature=\
            57fe03e060348aaa21405c239bf02572bbc911076e94dcd65c12ae569dd8fcf4";
        let parsed = ParsedToken::parse(token).unwrap();
        let scope = parsed.scope().unwrap();
        assert_eq!(scope.service, "dsql");
        let sig = signature(
            "SECRET_KEY",
            parsed.host_port,
            &parsed.params,
            &scope,
            parsed.amz_date,
        );
        assert_eq!(sig, parsed.signature);
        // And the verifier refuses it for its service, not for its signature.
        let clock = ManualClock::new(at(1_731_001_173));
        let v = Verifier::new(
            "test.dsql.us-east-1.on.aws",
            443,
            "us-east-1",
            Credentials::new(
                "ACCESS_KEY",
                "SECRET_KEY",
                Some("SESSION_TOKEN".into()),
                None,
                "t",
            ),
            Arc::new(clock),
            DEFAULT_ALLOWED_SKEW,
        );
        assert_eq!(v.verify(token, "x"), Err(Rejection::WrongService));
    }

    // botocore's token for port 443 (tests/data/token_vectors/rds_tokens.json,
    // `port_443`): the token text keeps `:443`, the signed host header does not.
    #[test]
    fn port_443_is_left_out_of_the_signed_host_as_botocore_does() {
        let token = "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com:443/?Action=connect\
            &DBUser=harness_iam_user&X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIDEXAMPLE%2F20240229%2Fus-east-1%2Frds-db%2Faws4_request\
            &X-Amz-Date=20240229T123456Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=3caa52a322fa215c502a5c92691420c79affeed46b6027a4f0abe542f9609615";
        let clock = ManualClock::new(at(1_709_210_096));
        let v = Verifier::new(
            "mydb.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
            443,
            "us-east-1",
            Credentials::new(
                "AKIDEXAMPLE",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                None,
                None,
                "t",
            ),
            Arc::new(clock),
            DEFAULT_ALLOWED_SKEW,
        );
        assert_eq!(
            v.verify(token, "harness_iam_user").unwrap().user,
            "harness_iam_user"
        );
        // Only the https default is left out: 1443, 4430 and 80 stay in.
        assert_eq!(signed_host("h:443"), "h");
        assert_eq!(signed_host("[::1]:443"), "[::1]");
        for kept in ["h:1443", "h:4430", "h:80", "h"] {
            assert_eq!(signed_host(kept), kept);
        }
    }

    #[test]
    fn expiry_window_is_exact() {
        let clock = ManualClock::new(at(SIGNED_AT + 900));
        let v = verifier(&clock);
        assert!(v.verify(BOTOCORE_TOKEN, "someusername").is_ok());
        clock.advance(Duration::from_secs(1));
        assert_eq!(
            v.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::Expired)
        );
        clock.set(at(SIGNED_AT + 16 * 60));
        assert_eq!(
            v.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn future_tokens_allowed_within_skew_only() {
        let clock = ManualClock::new(at(SIGNED_AT - 300));
        let v = verifier(&clock);
        assert!(v.verify(BOTOCORE_TOKEN, "someusername").is_ok());
        clock.set(at(SIGNED_AT - 301));
        assert_eq!(
            v.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::NotYetValid)
        );
    }

    #[test]
    fn claims_are_checked() {
        let clock = ManualClock::new(at(SIGNED_AT));
        let v = verifier(&clock);
        assert_eq!(
            v.verify(BOTOCORE_TOKEN, "someone_else"),
            Err(Rejection::WrongUser)
        );
        let other_port = Verifier::new(
            "prod-instance.us-east-1.rds.amazonaws.com",
            3307,
            "us-east-1",
            Credentials::new("akid", "skid", None, None, "t"),
            Arc::new(clock.clone()),
            DEFAULT_ALLOWED_SKEW,
        );
        assert_eq!(
            other_port.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::WrongHost)
        );
        let other_region = Verifier::new(
            "prod-instance.us-east-1.rds.amazonaws.com",
            3306,
            "eu-west-1",
            Credentials::new("akid", "skid", None, None, "t"),
            Arc::new(clock.clone()),
            DEFAULT_ALLOWED_SKEW,
        );
        assert_eq!(
            other_region.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::WrongRegion)
        );
        let wrong_secret =
            verifier_with(Credentials::new("akid", "other", None, None, "t"), &clock);
        assert_eq!(
            wrong_secret.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::BadSignature)
        );
        let other_key = verifier_with(Credentials::new("AKOTHER", "skid", None, None, "t"), &clock);
        assert_eq!(
            other_key.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::WrongAccessKey)
        );
        let wants_session = verifier_with(
            Credentials::new("akid", "skid", Some("sess".into()), None, "t"),
            &clock,
        );
        assert_eq!(
            wants_session.verify(BOTOCORE_TOKEN, "someusername"),
            Err(Rejection::WrongSessionToken)
        );
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let clock = ManualClock::new(at(SIGNED_AT));
        let v = verifier(&clock);
        let cases = [
            BOTOCORE_TOKEN.replace("DBUser=someusername", "DBUser=admin"),
            BOTOCORE_TOKEN.replace("d1138cdb", "d1138cdc"),
            BOTOCORE_TOKEN.replace("X-Amz-Expires=900", "X-Amz-Expires=600"),
            BOTOCORE_TOKEN.replace("20161107T173933Z", "20161107T183933Z"),
            BOTOCORE_TOKEN.replace("prod-instance.", "prod-instance2."),
            format!("{BOTOCORE_TOKEN}&X-Amz-Security-Token=abc")
                .replace("&X-Amz-Signature", "&Extra=1&X-Amz-Signature"),
        ];
        for token in cases {
            assert_eq!(
                v.verify(&token, "someusername"),
                Err(Rejection::BadSignature),
            );
        }
    }

    #[test]
    fn malformed_passwords() {
        let clock = ManualClock::new(at(SIGNED_AT));
        let v = verifier(&clock);
        for password in [
            "",
            "hunter2",
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?",
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect",
            &BOTOCORE_TOKEN.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
            &BOTOCORE_TOKEN.replace("SignedHeaders=host", "SignedHeaders=host%3Bx"),
            &BOTOCORE_TOKEN.replace("%2Faws4_request", "%2Faws5_request"),
            BOTOCORE_TOKEN.split("&X-Amz-Signature").next().unwrap(),
            &BOTOCORE_TOKEN.replace("=d1138cdb", "=zz38cdb"),
            &format!("{BOTOCORE_TOKEN}&Action=connect"),
        ] {
            match v.verify(password, "someusername") {
                Err(Rejection::Malformed(_)) => {}
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn rejection_text_never_contains_the_token() {
        let clock = ManualClock::new(at(SIGNED_AT + 10_000));
        let v = verifier(&clock);
        let rejection = v.verify(BOTOCORE_TOKEN, "someusername").unwrap_err();
        assert_eq!(format!("{rejection:?}"), "Expired");
        assert_eq!(rejection.to_string(), "the token has expired");
        let malformed = v.verify("secret-password-value", "u").unwrap_err();
        assert!(!format!("{malformed:?} {malformed}").contains("secret-password-value"));
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(UNIX_EPOCH));
        assert_eq!(parse_amz_date("20161107T173933Z"), Some(at(SIGNED_AT)));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(at(1_709_251_199)));
        for bad in [
            "20230229T000000Z",
            "20161307T173933Z",
            "20161107T243933Z",
            "20161107 173933Z",
            "2016110T7173933Z",
            "+0161107T173933Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    /// Every reason, pinned: what a login record and the log say about a refused login.
    #[test]
    fn rejection_messages() {
        for (rejection, text) in [
            (Rejection::NoTls, "the client did not use TLS"),
            (
                Rejection::Malformed("X-Amz-Date is missing"),
                "the password is not a valid token: X-Amz-Date is missing",
            ),
            (
                Rejection::WrongAccessKey,
                "the token is signed with an unknown access key id",
            ),
            (
                Rejection::BadSignature,
                "the token signature does not match",
            ),
            (
                Rejection::WrongService,
                "the token is not signed for service rds-db",
            ),
            (
                Rejection::WrongRegion,
                "the token is signed for another region",
            ),
            (
                Rejection::WrongHost,
                "the token is signed for another host:port",
            ),
            (
                Rejection::WrongSessionToken,
                "the token carries the wrong session token",
            ),
            (
                Rejection::WrongUser,
                "the token is signed for another database user",
            ),
            (Rejection::NotYetValid, "the token is dated in the future"),
            (Rejection::Expired, "the token has expired"),
        ] {
            assert_eq!(rejection.to_string(), text);
        }
    }
}
