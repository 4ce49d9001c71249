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

/// Classify a TLS handshake error (a native-tls error anywhere in `error`'s source chain).
///
/// With OpenSSL, native-tls writes the verification result in parentheses after the error:
/// `... certificate verify failed ... (hostname mismatch)`.
pub(crate) fn classify(error: &(dyn StdError + 'static)) -> HandshakeFailure {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<native_tls::Error>().is_some() {
            return classify_text(&e.to_string());
        }
        current = e.source();
    }
    HandshakeFailure::Other
}

fn classify_text(text: &str) -> HandshakeFailure {
    let lower = text.to_ascii_lowercase();
    if lower.contains("hostname mismatch")
        || lower.contains("ip address mismatch")
        || lower.contains("host name mismatch")
    {
        return HandshakeFailure::HostNameMismatch;
    }
    if lower.contains("certificate verify failed")
        || lower.contains("certificate is not trusted")
        || lower.contains("unable to get local issuer")
        || lower.contains("self-signed")
        || lower.contains("self signed")
    {
        let detail = text
            .rsplit_once('(')
            .and_then(|(_, d)| d.strip_suffix(')'))
            .unwrap_or("certificate verify failed")
            .to_owned();
        return HandshakeFailure::Untrusted { detail };
    }
    HandshakeFailure::Other
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
    fn openssl_texts_are_classified() {
        assert_eq!(
            classify_text(
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:2102: (hostname mismatch)"
            ),
            HandshakeFailure::HostNameMismatch
        );
        assert_eq!(
            classify_text(
                "error:0A000086:SSL routines:tls_post_process_server_certificate:certificate \
                 verify failed:../ssl/statem/statem_clnt.c:2102: (unable to get local issuer \
                 certificate)"
            ),
            HandshakeFailure::Untrusted {
                detail: "unable to get local issuer certificate".into()
            }
        );
        assert_eq!(
            classify_text("Connection reset by peer (os error 104)"),
            HandshakeFailure::Other
        );
    }

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
