//! Looking at a server's TLS without logging in: whether it accepts TLS, whether its
//! certificate passes the connector's own check (same CAs, same mode, same name), the names
//! the certificate carries, whether they cover the name checked, and when it expires. For
//! `rds-iam doctor`'s tls stage; reached through `PgConnector::inspect_tls` and
//! `MySqlConnector::inspect_tls`, so the check is the connector's, not a copy.
//!
//! Nothing but the TLS request and the handshake is sent: no user name, no token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::connect::ConnectError;
use crate::connect::login;
use crate::plan::Target;
use crate::tls_mode::TlsMode;

use super::bundle::CaBundle;
use super::diagnose;
use super::probe::{self, Protocol};

/// What a server's TLS looks like, once its certificate passed the connector's check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerTls {
    /// The TLS mode checked.
    pub mode: TlsMode,
    /// The name the certificate is checked for and the token signed for (the signing host).
    pub name: String,
    /// What was trusted, in words (names the CA file used).
    pub trusted: String,
    /// The DNS names on the certificate (empty when it could not be read).
    pub names: Vec<String>,
    /// Whether the certificate is valid for [`name`](Self::name) (checked in `verify-full`,
    /// reported in the other modes).
    pub covers_name: bool,
    /// When the certificate stops being valid (`None` when it could not be read).
    pub not_after: Option<SystemTime>,
}

/// Inspect `target`'s TLS as a connector in `mode` trusting `bundle` would check it, within
/// `timeout` for each of the two connections (a checked handshake, then one that reads the
/// certificate). Errors are the connector's: [`ConnectError::Unreachable`],
/// [`ConnectError::TlsRefused`], [`ConnectError::UntrustedCertificate`],
/// [`ConnectError::HostNameMismatch`], [`ConnectError::Handshake`], [`ConnectError::Timeout`].
pub(crate) async fn inspect(
    target: &Target,
    protocol: Protocol,
    bundle: &CaBundle,
    mode: TlsMode,
    timeout: Duration,
) -> Result<ServerTls, ConnectError> {
    let server = target.to_string();
    let trusted = bundle.trusted_in(mode).to_string();
    let timed_out = || ConnectError::Timeout {
        server: server.clone(),
        after: timeout,
    };
    let addr = tokio::time::timeout(timeout, resolve(target))
        .await
        .map_err(|_| timed_out())??;
    let stream = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| ConnectError::Unreachable {
            server: server.clone(),
            source: Box::new(e),
        })?;
    let stream = tokio::time::timeout(timeout, probe::start_tls(stream, protocol))
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::Unsupported => ConnectError::TlsRefused {
                server: server.clone(),
                source: Box::new(e),
            },
            _ => ConnectError::Unreachable {
                server: server.clone(),
                source: Box::new(e),
            },
        })?;
    let checked = tokio::time::timeout(timeout, handshake(stream, target, protocol, bundle, mode))
        .await
        .map_err(|_| timed_out())?;
    if let Err(e) = checked {
        let e = match e {
            Failure::Setup(e) => e,
            Failure::Handshake(source) => {
                login::tls_failure(target, protocol, &trusted, source).await
            }
        };
        return Err(e);
    }
    let der = probe::server_certificate(addr, target.tls_name(), protocol, timeout)
        .await
        .map_err(|e| ConnectError::Handshake {
            server: server.clone(),
            source: Box::new(e),
        })?;
    Ok(ServerTls {
        mode,
        name: target.tls_name().to_owned(),
        trusted,
        names: diagnose::certificate_dns_names(&der),
        covers_name: certificate_covers(&der, target.tls_name()),
        not_after: certificate_not_after(&der),
    })
}

async fn resolve(target: &Target) -> Result<std::net::SocketAddr, ConnectError> {
    let unreachable = |source| ConnectError::Unreachable {
        server: target.to_string(),
        source,
    };
    tokio::net::lookup_host((target.dial.host.as_str(), target.dial.port))
        .await
        .map_err(|e| unreachable(Box::new(e)))?
        .next()
        .ok_or_else(|| unreachable("the host name resolves to no address".into()))
}

enum Failure {
    /// The TLS client could not be set up.
    Setup(ConnectError),
    /// The handshake failed (the TLS library's error).
    Handshake(crate::connect::BoxError),
}

/// A handshake checked as the connector for `protocol` checks it (its stack, its CAs, its
/// mode), for the signing host's name.
async fn handshake(
    stream: tokio::net::TcpStream,
    target: &Target,
    protocol: Protocol,
    bundle: &CaBundle,
    mode: TlsMode,
) -> Result<(), Failure> {
    let rustls = match protocol {
        Protocol::Postgres => cfg!(feature = "postgres-rustls"),
        Protocol::MySql => cfg!(feature = "mysql-rustls"),
    };
    let setup = |e: super::TlsSetupError| Failure::Setup(e.into());
    if rustls {
        #[cfg(feature = "_rustls")]
        {
            let config = super::rustls_config(bundle, mode).map_err(setup)?;
            let name = pki_types::ServerName::try_from(target.tls_name().to_owned())
                .map_err(|e| Failure::Handshake(Box::new(e)))?;
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, stream)
                .await
                .map_err(|e| Failure::Handshake(Box::new(e)))?;
            return Ok(());
        }
    }
    #[cfg(feature = "_native-tls")]
    {
        let connector = super::tls_connector(bundle, mode).map_err(setup)?;
        tokio_native_tls::TlsConnector::from(connector)
            .connect(target.tls_name(), stream)
            .await
            .map_err(|e| Failure::Handshake(Box::new(e)))?;
        Ok(())
    }
    #[cfg(not(feature = "_native-tls"))]
    {
        let _ = (stream, target, bundle, mode, setup);
        unreachable!("without native-tls, every connector is on rustls")
    }
}

/// Whether the certificate `der` is valid for `name` (a DNS name or an IP address).
fn certificate_covers(der: &[u8], name: &str) -> bool {
    let der = pki_types::CertificateDer::from(der);
    let (Ok(cert), Ok(name)) = (
        webpki::EndEntityCert::try_from(&der),
        pki_types::ServerName::try_from(name),
    ) else {
        return false;
    };
    cert.verify_is_valid_for_subject_name(&name).is_ok()
}

/// The end of the certificate's validity (`notAfter`), read from its DER: Certificate ->
/// tbsCertificate -> (version) serial, signature, issuer, validity -> notAfter.
pub(crate) fn certificate_not_after(der: &[u8]) -> Option<SystemTime> {
    let (certificate, _) = element(der, 0x30)?;
    let (tbs, _) = element(certificate, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xa0) {
        rest = element(rest, 0xa0)?.1;
    }
    for _ in 0..3 {
        // serial, signature algorithm, issuer
        rest = element(rest, *rest.first()?)?.1;
    }
    let (validity, _) = element(rest, 0x30)?;
    let (_, after_not_before) = element(validity, *validity.first()?)?;
    let tag = *after_not_before.first()?;
    let (time, _) = element(after_not_before, tag)?;
    asn1_time(tag, time)
}

/// The content of the DER element with `tag` at the start of `input`, and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    if *input.first()? != tag {
        return None;
    }
    let first = *input.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        (
            bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
            2 + n,
        )
    };
    let end = header.checked_add(len)?;
    Some((input.get(header..end)?, input.get(end..)?))
}

/// A UTCTime (`YYMMDDHHMMSSZ`, tag 0x17) or GeneralizedTime (`YYYYMMDDHHMMSSZ`, 0x18).
fn asn1_time(tag: u8, text: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    let num = |s: &str| s.parse::<u64>().ok();
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy = num(&text[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (0x18, 14) => (num(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (month, day) = (num(&rest[0..2])?, num(&rest[2..4])?);
    let (hour, minute, second) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    if year < 1970 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // Days from civil (the inverse of the arithmetic in token::date).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_names_are_read() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["db.abc123.us-east-1.rds.amazonaws.com".to_owned()])
                .unwrap();
        params.not_after = rcgen::date_time_ymd(2049, 12, 31);
        let cert = params.clone().self_signed(&key).unwrap();
        // 2049-12-31T00:00:00Z (UTCTime) and, past 2049, GeneralizedTime.
        assert_eq!(
            certificate_not_after(cert.der()),
            Some(UNIX_EPOCH + Duration::from_secs(2_524_521_600))
        );
        params.not_after = rcgen::date_time_ymd(2126, 2, 28);
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            certificate_not_after(cert.der()),
            Some(UNIX_EPOCH + Duration::from_secs(4_927_910_400))
        );
        assert!(certificate_covers(
            cert.der(),
            "db.abc123.us-east-1.rds.amazonaws.com"
        ));
        assert!(!certificate_covers(cert.der(), "other.example.com"));
        assert_eq!(certificate_not_after(b"not a certificate"), None);
    }

    #[test]
    fn times_are_read() {
        assert_eq!(asn1_time(0x17, b"700101000000Z"), Some(UNIX_EPOCH));
        assert_eq!(
            asn1_time(0x18, b"20240229120000Z"),
            Some(UNIX_EPOCH + Duration::from_secs(1_709_208_000))
        );
        assert_eq!(asn1_time(0x17, b"2402291200Z"), None);
        assert_eq!(asn1_time(0x18, b"2024022912000Z"), None);
    }
}
