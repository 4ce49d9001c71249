//! `sign_verify`: sign with [`sign_rds_token`], verify with the emulator's independent
//! [`Verifier`].
//!
//! An input is a signing request ([`Request`]): host, port, user, region, credentials and time.
//! For a request within the signer's documented domain (a host of `A-Z a-z 0-9 - . _`, a port
//! from 1, a user, a region of `a-z 0-9 -`, both keys, a time from 1970 to 9999) signing must
//! succeed; every token the signer produces must then be accepted by a verifier configured with
//! the same parameters at the signing instant, with the same claims, and refused for another
//! user, another region, another port, and after it expires.
//!
//! Any other input is a password presented to the verifier as it is: never accepted, never a
//! panic.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::Clock;
use rds_iam::token::{RdsTokenParams, sign_rds_token};
use rds_iam_emulator::{DEFAULT_ALLOWED_SKEW, Rejection, Verifier};

/// Separates a request's fields: `0xFF` never occurs in UTF-8 text.
pub const SEPARATOR: u8 = 0xFF;

/// The last second the signer takes: 9999-12-31T23:59:59Z.
const MAX_UNIX_SECS: u64 = 253_402_300_799;

/// A signing request. Encoded as its fields in this order, separated by [`SEPARATOR`]: host,
/// port (decimal), user, region, access key id, secret access key, time (`secs[.nanos]` since
/// 1970), and optionally a last field, the session token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The host signed for.
    pub host: &'a str,
    /// The port signed for.
    pub port: u16,
    /// The database user.
    pub user: &'a str,
    /// The signing region.
    pub region: &'a str,
    /// The access key id.
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token, for temporary credentials.
    pub session_token: Option<&'a str>,
    /// Seconds since 1970.
    pub secs: u64,
    /// Nanoseconds in that second (below 1 000 000 000).
    pub nanos: u32,
}

impl<'a> Request<'a> {
    /// Decode a request; `None` when `data` is not one.
    pub fn decode(data: &'a [u8]) -> Option<Self> {
        let mut fields = data.split(|&b| b == SEPARATOR).map(std::str::from_utf8);
        let mut next = || fields.next()?.ok();
        let (host, port, user, region) = (next()?, next()?, next()?, next()?);
        let (access_key_id, secret_access_key, time) = (next()?, next()?, next()?);
        let session_token = next();
        if next().is_some() {
            return None;
        }
        let (secs, nanos) = time.split_once('.').unwrap_or((time, "0"));
        let nanos = nanos.parse().ok().filter(|&n| n < 1_000_000_000)?;
        Some(Self {
            host,
            port: port.parse().ok()?,
            user,
            region,
            access_key_id,
            secret_access_key,
            session_token,
            secs: secs.parse().ok()?,
            nanos,
        })
    }

    /// The bytes [`decode`](Self::decode) reads back as this request.
    pub fn encode(&self) -> Vec<u8> {
        let port = self.port.to_string();
        let time = format!("{}.{}", self.secs, self.nanos);
        let mut fields = vec![
            self.host,
            &port,
            self.user,
            self.region,
            self.access_key_id,
            self.secret_access_key,
            &time,
        ];
        fields.extend(self.session_token);
        fields
            .iter()
            .map(|f| f.as_bytes())
            .collect::<Vec<_>>()
            .join(&SEPARATOR)
    }

    fn at(&self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::new(self.secs, self.nanos))
    }

    /// Whether the signer's docs promise a token for this request. IPv6 hosts are left out:
    /// issue 10, item 7 is settling which form (bracketed or not) the signer takes.
    fn must_sign(&self) -> bool {
        !self.host.is_empty()
            && self
                .host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
            && self.port != 0
            && !self.user.is_empty()
            && !self.region.is_empty()
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !self.access_key_id.is_empty()
            && !self.secret_access_key.is_empty()
            && self.secs <= MAX_UNIX_SECS
    }
}

/// What happened to an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not a request: refused as a password.
    Refused,
    /// A request the signer declined.
    NotSigned,
    /// Signed, but in a known exclusion, so not verified.
    Excluded,
    /// Signed and verified.
    Verified,
}

/// Run the checks on `data`.
pub fn check(data: &[u8]) -> Outcome {
    let Some(request) = Request::decode(data) else {
        let password = String::from_utf8_lossy(data);
        let credentials = Credentials::new("AKIDEXAMPLE", "example-secret", None, None, "fuzz");
        let clock = Arc::new(At(UNIX_EPOCH + Duration::from_secs(1_709_210_096)));
        let verifier = Verifier::new(
            "db.example.com",
            5432,
            "us-east-1",
            credentials,
            clock,
            DEFAULT_ALLOWED_SKEW,
        );
        let verdict = verifier.verify(&password, "user");
        assert!(verdict.is_err(), "an unsigned password was accepted");
        return Outcome::Refused;
    };
    let Some(at) = request.at() else {
        return Outcome::NotSigned;
    };
    let credentials = Credentials::new(
        request.access_key_id,
        request.secret_access_key,
        request.session_token.map(str::to_owned),
        None,
        "fuzz",
    );
    let params = RdsTokenParams::new(request.host, request.port, request.user, request.region);
    let token = match sign_rds_token(&params, &credentials, at) {
        Ok(token) => token,
        Err(error) => {
            assert!(
                !request.must_sign(),
                "the signer refused a valid request: {error}"
            );
            return Outcome::NotSigned;
        }
    };
    // The verifier reads the credential scope split at `/`; AWS access key ids are `\w+`.
    if request.access_key_id.contains('/') {
        return Outcome::Excluded;
    }
    let (user, exposed) = (request.user, token.expose());
    let verify = |r: &Request<'_>, now: SystemTime, login_user: &str| {
        Verifier::new(
            r.host,
            r.port,
            r.region,
            credentials.clone(),
            Arc::new(At(now)),
            DEFAULT_ALLOWED_SKEW,
        )
        .verify(exposed, login_user)
    };
    let verified = verify(&request, at, user)
        .unwrap_or_else(|r| panic!("the verifier refused a token signed for it: {r}"));
    assert_eq!(verified.user, user);
    assert_eq!(verified.signed_at, token.signed_at());
    assert_eq!(verified.expires_at, token.expires_at());

    let other_user = format!("{user}x");
    assert_eq!(verify(&request, at, &other_user), Err(Rejection::WrongUser));
    let other_region = format!("{}x", request.region);
    let in_other_region = Request {
        region: &other_region,
        ..request.clone()
    };
    assert_eq!(
        verify(&in_other_region, at, user),
        Err(Rejection::WrongRegion)
    );
    let on_other_port = Request {
        port: request.port % u16::MAX + 1,
        ..request.clone()
    };
    assert_eq!(verify(&on_other_port, at, user), Err(Rejection::WrongHost));
    let after = token.expires_at() + Duration::from_secs(1);
    assert_eq!(verify(&request, after, user), Err(Rejection::Expired));
    if let Some(before) = token
        .signed_at()
        .checked_sub(DEFAULT_ALLOWED_SKEW + Duration::from_secs(1))
    {
        assert_eq!(verify(&request, before, user), Err(Rejection::NotYetValid));
    }
    Outcome::Verified
}

/// A clock stopped at one instant. (`ManualClock` keeps nanoseconds in a `u64`, so it stops
/// at the year 2554; the signer goes to 9999.)
#[derive(Debug)]
struct At(SystemTime);

impl Clock for At {
    fn now(&self) -> SystemTime {
        self.0
    }
}
