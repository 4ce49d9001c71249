//! Telling TLS failures apart: an untrusted certificate, a host name mismatch, or something
//! else; and reading a certificate's DNS names for the mismatch message.

use std::error::Error as StdError;

/// What a failed TLS handshake means for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeFailure {
    /// The certificate chain does not lead to a trusted CA (or is expired, or self-signed).
    Untrusted {
        /// The TLS library's verification result, such as `unable to get local issuer
        /// certificate`.
        detail: String,
    },
    /// The chain is trusted but the certificate is not for the host name checked.
    HostNameMismatch,
    /// Anything else (protocol versions, a reset connection, ...).
    Other,
}

/// Classify a TLS failure: the first TLS library error in `error`'s source chain, read by the
/// glue of its stack (native-tls: its text; rustls: its type). `None` when the chain holds no
/// TLS library error. What the user is told about each [`HandshakeFailure`] is decided in one
/// place, `connect::login::tls_failure`, for both stacks.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> Option<HandshakeFailure> {
    let mut current = Some(error);
    while let Some(e) = current {
        #[cfg(feature = "_native-tls")]
        if let Some(failure) = super::native::classify(e) {
            return Some(failure);
        }
        #[cfg(feature = "_rustls")]
        if let Some(failure) = super::rustls::classify(e) {
            return Some(failure);
        }
        // `io::Error::source` skips the error it wraps (tokio-rustls wraps rustls's there).
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    None
}

/// The DNS names in a certificate's subjectAltName extension (wildcards included), or an
/// empty list when the certificate cannot be parsed or has none.
pub(crate) fn certificate_dns_names(der: &[u8]) -> Vec<String> {
    let der = pki_types::CertificateDer::from(der);
    match webpki::EndEntityCert::try_from(&der) {
        Ok(cert) => cert.valid_dns_names().map(str::to_owned).collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_read_from_the_certificate() {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec![
            "db.abc123.us-east-1.rds.amazonaws.com".to_owned(),
            "*.abc123.us-east-1.rds.amazonaws.com".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            certificate_dns_names(cert.der()),
            [
                "db.abc123.us-east-1.rds.amazonaws.com",
                "*.abc123.us-east-1.rds.amazonaws.com"
            ]
        );
        assert!(certificate_dns_names(b"not a certificate").is_empty());
    }
}
