//! Loading CA bundles: every certificate of every source, or an error naming the source.

use std::fmt;
use std::io;

use super::source::{CaSource, TrustConfig};
use crate::tls_mode::TlsMode;

/// The PEM labels read as certificates.
const CERTIFICATE_LABELS: [&str; 2] = ["CERTIFICATE", "X509 CERTIFICATE"];

/// The trusted CA certificates, loaded: every certificate of every [`CaSource`] of a
/// [`TrustConfig`], plus whether the system trust store is used.
///
/// Load it once and reuse it (the connectors do): reading a bundle is file I/O and parsing.
///
/// ```
/// use rds_iam::tls::{CaBundle, CaSource, TrustConfig};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("bundle.pem");
/// # let pem: String = (0..3).map(|i| {
/// #     let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
/// #     p.distinguished_name.push(rcgen::DnType::CommonName, format!("CA {i}"));
/// #     p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
/// #     p.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap().pem()
/// # }).collect();
/// # std::fs::write(&path, pem)?;
/// // `path` holds three PEM certificates.
/// let bundle = CaBundle::load(&TrustConfig::new().with_source(CaSource::file(&path)))?;
/// assert_eq!(bundle.len(), 3);
/// assert!(bundle.system_roots());
///
/// let missing = CaBundle::load(&TrustConfig::new().with_source(CaSource::file("/nonexistent/ca.pem")));
/// assert!(missing.unwrap_err().to_string().contains("/nonexistent/ca.pem"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct CaBundle {
    trust: TrustConfig,
    der: Vec<Vec<u8>>,
    counts: Vec<usize>,
}

impl CaBundle {
    /// Read and parse every source of `trust` (blocking file reads: CA files are small).
    pub fn load(trust: &TrustConfig) -> Result<Self, CaError> {
        let mut bundle = Self {
            trust: trust.clone(),
            der: Vec::new(),
            counts: Vec::new(),
        };
        for source in trust.sources() {
            let bytes = read(source)?;
            let certificates = parse_bundle(&bytes, source)?;
            bundle.counts.push(certificates.len());
            bundle.der.extend(certificates);
        }
        Ok(bundle)
    }

    /// The configuration this bundle was loaded from.
    pub fn trust(&self) -> &TrustConfig {
        &self.trust
    }

    /// How many certificates were loaded from the sources (the system store not counted).
    pub fn len(&self) -> usize {
        self.der.len()
    }

    /// Whether no certificate was loaded from a source.
    pub fn is_empty(&self) -> bool {
        self.der.is_empty()
    }

    /// Whether the configuration asks for the system trust store too. A connection uses it only
    /// in `verify-full`: see [`CaBundle::system_roots_in`].
    pub fn system_roots(&self) -> bool {
        self.trust.system_roots()
    }

    /// Whether a connection in `mode` trusts the system trust store: only in `verify-full`, and
    /// only when [`system_roots`](Self::system_roots) is on. `verify-ca` trusts exactly the CA
    /// sources given, never the system store (as libpq trusts only `sslrootcert`): it does not
    /// check the host name, so with the system store any certificate for any name from any
    /// public CA would pass. `require` checks nothing.
    ///
    /// ```
    /// use rds_iam::tls::{CaBundle, TrustConfig};
    /// use rds_iam::tls_mode::TlsMode;
    ///
    /// let bundle = CaBundle::load(&TrustConfig::new())?; // system roots on
    /// assert!(bundle.system_roots_in(TlsMode::VerifyFull));
    /// assert!(!bundle.system_roots_in(TlsMode::VerifyCa));
    /// # Ok::<(), rds_iam::tls::CaError>(())
    /// ```
    pub fn system_roots_in(&self, mode: TlsMode) -> bool {
        mode == TlsMode::VerifyFull && self.system_roots()
    }

    /// What a connection in `mode` trusts, in words (as [`Display`](fmt::Display), without the
    /// system trust store when `mode` does not use it).
    pub(crate) fn trusted_in(&self, mode: TlsMode) -> impl fmt::Display + '_ {
        Trusted {
            bundle: self,
            system_roots: self.system_roots_in(mode),
        }
    }

    /// The loaded certificates as DER, in source order.
    pub fn certificates_der(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.der.iter().map(Vec::as_slice)
    }

    /// Whether anything at all is trusted (a source or the system store).
    pub fn trusts_anything(&self) -> bool {
        self.system_roots() || !self.is_empty()
    }
}

impl fmt::Display for CaBundle {
    /// The trusted CAs in words, with counts: `the CA file /a.pem (108 certificates) and the
    /// system trust store`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Trusted {
            bundle: self,
            system_roots: self.system_roots(),
        }
        .fmt(f)
    }
}

/// A bundle's sources in words, with or without the system trust store.
struct Trusted<'a> {
    bundle: &'a CaBundle,
    system_roots: bool,
}

impl fmt::Display for Trusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bundle = self.bundle;
        for (i, (source, count)) in bundle
            .trust
            .sources()
            .iter()
            .zip(&bundle.counts)
            .enumerate()
        {
            if i > 0 {
                f.write_str(", ")?;
            }
            let plural = if *count == 1 { "" } else { "s" };
            write!(f, "{source} ({count} certificate{plural})")?;
        }
        match (bundle.counts.is_empty(), self.system_roots) {
            (true, true) => f.write_str("the system trust store"),
            (false, true) => f.write_str(" and the system trust store"),
            (true, false) => f.write_str("no CA at all"),
            (false, false) => Ok(()),
        }
    }
}

impl fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaBundle")
            .field("trust", &self.trust)
            .field("certificates", &self.der.len())
            .finish()
    }
}

/// A CA source could not be loaded. Every message names the source (the file).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// The file could not be read.
    #[error("cannot read {source_name}: {hint}")]
    Read {
        /// The source (its `Display` names the file).
        source_name: CaSource,
        /// What to check.
        hint: &'static str,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The source holds nothing (or only white space).
    #[error(
        "{source_name} is empty: it must hold the PEM certificates of the CA that signed the \
         database's certificate (for RDS, the bundle from \
         https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)"
    )]
    Empty {
        /// The source.
        source_name: CaSource,
    },
    /// The source holds no certificate block.
    #[error(
        "{source_name} holds no PEM certificate (no -----BEGIN CERTIFICATE----- block{found}): \
         give the CA bundle in PEM form (for RDS, \
         https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)"
    )]
    NoCertificate {
        /// The source.
        source_name: CaSource,
        /// The other blocks found, as `; found PRIVATE KEY`, or empty.
        found: String,
    },
    /// A block has no end line.
    #[error(
        "block {index} of {source_name} (-----BEGIN {label}-----) has no -----END {label}----- \
         line: the file is cut short or garbled; download or copy it again"
    )]
    Unterminated {
        /// The source.
        source_name: CaSource,
        /// 1-based block number.
        index: usize,
        /// The block's label.
        label: String,
    },
    /// A certificate block does not parse.
    #[error(
        "certificate {index} of {total} in {source_name} is not a valid X.509 certificate: the \
         file is garbled; download or copy the CA bundle again"
    )]
    InvalidCertificate {
        /// The source.
        source_name: CaSource,
        /// 1-based certificate number.
        index: usize,
        /// How many certificate blocks the source has.
        total: usize,
        /// The parser's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl CaError {
    /// The source that failed.
    pub fn ca_source(&self) -> &CaSource {
        match self {
            Self::Read { source_name, .. }
            | Self::Empty { source_name }
            | Self::NoCertificate { source_name, .. }
            | Self::Unterminated { source_name, .. }
            | Self::InvalidCertificate { source_name, .. } => source_name,
        }
    }
}

fn read(source: &CaSource) -> Result<Vec<u8>, CaError> {
    let path = match source {
        CaSource::Pem(pem) => return Ok(pem.as_bytes().to_vec()),
        other => other.path().expect("every other source is a file"),
    };
    std::fs::read(path).map_err(|e| CaError::Read {
        source_name: source.clone(),
        hint: read_hint(source, &e),
        source: e,
    })
}

fn read_hint(source: &CaSource, e: &io::Error) -> &'static str {
    match (source, e.kind()) {
        (CaSource::MountedBuildTaskBundle, io::ErrorKind::NotFound) => {
            "the file is not there: mount the CA secret into the build task \
             (HARNESS_SECRET_FILE_MAPPINGS=HARNESS_CERT_0:/etc/ssl/certs/dbops/root_ca.crt and \
             HARNESS_CI_MOUNT_VOLUMES with the same path on both sides)"
        }
        (CaSource::UrlFile { .. }, io::ErrorKind::NotFound) => {
            "the file is not there: fix the path in the JDBC URL (relative paths are relative to \
             the working directory)"
        }
        (_, io::ErrorKind::NotFound) => "the file is not there: check the path",
        (_, io::ErrorKind::PermissionDenied) => {
            "permission denied: make the file readable by this process's user"
        }
        (_, io::ErrorKind::IsADirectory) => "it is a directory: give the PEM file inside it",
        _ => "check that the path names a readable PEM file",
    }
}

/// Parse a PEM bundle (or a single DER certificate) into the DER of its certificates, each
/// checked to be a certificate a TLS library can take as a trust anchor. The same parser for
/// both TLS stacks: native-tls and rustls get the same certificates, or the same error.
fn parse_bundle(bytes: &[u8], source: &CaSource) -> Result<Vec<Vec<u8>>, CaError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CaError::Empty {
            source_name: source.clone(),
        });
    }
    let blocks = match pem_blocks(bytes) {
        Ok(blocks) => blocks,
        Err((index, label)) => {
            return Err(CaError::Unterminated {
                source_name: source.clone(),
                index,
                label,
            });
        }
    };
    let (certificates, others): (Vec<_>, Vec<_>) = blocks
        .into_iter()
        .partition(|b| CERTIFICATE_LABELS.contains(&b.label.as_str()));
    if certificates.is_empty() {
        // A DER file: one certificate, starting with a SEQUENCE.
        if others.is_empty() && bytes.first() == Some(&0x30) && anchor(bytes).is_ok() {
            return Ok(vec![bytes.to_vec()]);
        }
        let mut labels: Vec<&str> = others.iter().map(|b| b.label.as_str()).collect();
        labels.dedup();
        let found = if labels.is_empty() {
            String::new()
        } else {
            format!("; found {}", labels.join(", "))
        };
        return Err(CaError::NoCertificate {
            source_name: source.clone(),
            found,
        });
    }
    let total = certificates.len();
    certificates
        .iter()
        .enumerate()
        .map(|(i, block)| {
            certificate_der(block).map_err(|e| CaError::InvalidCertificate {
                source_name: source.clone(),
                index: i + 1,
                total,
                source: e,
            })
        })
        .collect()
}

/// The DER of one PEM certificate block, checked with [`anchor`].
fn certificate_der(block: &PemBlock) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    use pki_types::pem::PemObject;
    // `X509 CERTIFICATE` is the old label of the same thing.
    let text = block
        .text
        .replace("X509 CERTIFICATE-----", "CERTIFICATE-----");
    let der = pki_types::CertificateDer::from_pem_slice(text.as_bytes())
        .map_err(|e| format!("not a PEM certificate: {e}"))?;
    anchor(&der)?;
    Ok(der.to_vec())
}

/// Whether `der` parses as an X.509 certificate usable as a trust anchor.
fn anchor(der: &[u8]) -> Result<(), webpki::Error> {
    webpki::anchor_from_trusted_cert(&pki_types::CertificateDer::from(der)).map(drop)
}

/// One `-----BEGIN X-----` ... `-----END X-----` block, as text.
#[derive(Debug)]
struct PemBlock {
    label: String,
    text: String,
}

/// Split PEM text into its blocks; text outside blocks (comments, `openssl x509 -text`
/// output) is skipped. `Err((index, label))` for a block without its end line.
fn pem_blocks(bytes: &[u8]) -> Result<Vec<PemBlock>, (usize, String)> {
    let text = String::from_utf8_lossy(bytes);
    let mut blocks = Vec::new();
    let mut current: Option<PemBlock> = None;
    for line in text.lines() {
        let line = line.trim();
        match &mut current {
            None => {
                if let Some(label) = line
                    .strip_prefix("-----BEGIN ")
                    .and_then(|l| l.strip_suffix("-----"))
                {
                    current = Some(PemBlock {
                        label: label.to_owned(),
                        text: format!("{line}\n"),
                    });
                }
            }
            Some(block) => {
                block.text.push_str(line);
                block.text.push('\n');
                let end = line
                    .strip_prefix("-----END ")
                    .and_then(|l| l.strip_suffix("-----"));
                if end == Some(block.label.as_str()) {
                    blocks.extend(current.take());
                } else if line.starts_with("-----BEGIN ") {
                    return Err((blocks.len() + 1, block.label.clone()));
                }
            }
        }
    }
    match current {
        Some(block) => Err((blocks.len() + 1, block.label)),
        None => Ok(blocks),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_ca_trusts_and_names_only_the_sources() {
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let bundle =
            CaBundle::load(&TrustConfig::new().with_source(CaSource::pem(ca.pem()))).unwrap();
        assert!(bundle.system_roots());
        assert!(!bundle.system_roots_in(TlsMode::VerifyCa));
        assert!(!bundle.system_roots_in(TlsMode::Require));
        assert_eq!(
            bundle.trusted_in(TlsMode::VerifyCa).to_string(),
            "the CA PEM text given to the connector (1 certificate)"
        );
        assert_eq!(
            bundle.trusted_in(TlsMode::VerifyFull).to_string(),
            "the CA PEM text given to the connector (1 certificate) and the system trust store"
        );
        assert_eq!(
            bundle.trusted_in(TlsMode::VerifyFull).to_string(),
            bundle.to_string()
        );
    }

    #[test]
    fn blocks_are_split_and_text_between_them_skipped() {
        let text = "subject=CN=a\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
                    # comment\n  -----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";
        let blocks = pem_blocks(text.as_bytes()).unwrap();
        let labels: Vec<_> = blocks.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(labels, ["CERTIFICATE", "PRIVATE KEY"]);
        assert_eq!(
            blocks[0].text,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn unterminated_blocks_are_found() {
        let cut = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nAA";
        assert_eq!(
            pem_blocks(cut.as_bytes()).unwrap_err(),
            (2, "CERTIFICATE".into())
        );
        let nested = "-----BEGIN CERTIFICATE-----\nAAAA\n-----BEGIN CERTIFICATE-----\n";
        assert_eq!(
            pem_blocks(nested.as_bytes()).unwrap_err(),
            (1, "CERTIFICATE".into())
        );
    }

    #[test]
    fn errors_name_the_source() {
        let source = CaSource::pem("");
        let err = parse_bundle(b" \n\t", &source).err().unwrap();
        assert!(matches!(err, CaError::Empty { .. }));
        assert!(
            err.to_string()
                .starts_with("the CA PEM text given to the connector is empty")
        );

        let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = parse_bundle(key_only, &CaSource::file("/k.pem"))
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .starts_with("the CA file /k.pem holds no PEM certificate (no -----BEGIN CERTIFICATE----- block; found PRIVATE KEY)"),
            "{err}"
        );

        let garbled = b"-----BEGIN CERTIFICATE-----\n!!notbase64!!\n-----END CERTIFICATE-----\n";
        let err = parse_bundle(garbled, &CaSource::file("/g.pem"))
            .err()
            .unwrap();
        assert!(
            err.to_string().starts_with(
                "certificate 1 of 1 in the CA file /g.pem is not a valid X.509 certificate"
            ),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    /// Every message, pinned; the I/O or parser error is the source, not in the message.
    #[test]
    fn messages() {
        use std::error::Error as _;
        let url_file = || CaSource::UrlFile {
            parameter: "sslrootcert",
            path: "/etc/rds.pem".into(),
        };
        let file = || CaSource::file("/etc/ca.pem");
        let read = |source_name: CaSource, kind: io::ErrorKind| {
            let source = io::Error::new(kind, "distinctive-io-cause");
            CaError::Read {
                hint: read_hint(&source_name, &source),
                source_name,
                source,
            }
        };
        let parse_error = anchor(b"not a certificate").unwrap_err().into();
        for (e, text) in [
            (
                read(CaSource::MountedBuildTaskBundle, io::ErrorKind::NotFound),
                "cannot read the build-task CA file /etc/ssl/certs/dbops/root_ca.crt (mounted \
                 from AWS Secrets Manager): the file is not there: mount the CA secret into the \
                 build task \
                 (HARNESS_SECRET_FILE_MAPPINGS=HARNESS_CERT_0:/etc/ssl/certs/dbops/root_ca.crt \
                 and HARNESS_CI_MOUNT_VOLUMES with the same path on both sides)",
            ),
            (
                read(url_file(), io::ErrorKind::NotFound),
                "cannot read the CA file /etc/rds.pem named by sslrootcert in the URL: the file \
                 is not there: fix the path in the JDBC URL (relative paths are relative to the \
                 working directory)",
            ),
            (
                read(file(), io::ErrorKind::NotFound),
                "cannot read the CA file /etc/ca.pem: the file is not there: check the path",
            ),
            (
                read(file(), io::ErrorKind::PermissionDenied),
                "cannot read the CA file /etc/ca.pem: permission denied: make the file readable \
                 by this process's user",
            ),
            (
                read(url_file(), io::ErrorKind::IsADirectory),
                "cannot read the CA file /etc/rds.pem named by sslrootcert in the URL: it is a \
                 directory: give the PEM file inside it",
            ),
            (
                read(file(), io::ErrorKind::Other),
                "cannot read the CA file /etc/ca.pem: check that the path names a readable PEM \
                 file",
            ),
            (
                CaError::Empty {
                    source_name: CaSource::pem(""),
                },
                "the CA PEM text given to the connector is empty: it must hold the PEM \
                 certificates of the CA that signed the database's certificate (for RDS, the \
                 bundle from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)",
            ),
            (
                CaError::NoCertificate {
                    source_name: file(),
                    found: "; found PRIVATE KEY".into(),
                },
                "the CA file /etc/ca.pem holds no PEM certificate (no -----BEGIN CERTIFICATE----- \
                 block; found PRIVATE KEY): give the CA bundle in PEM form (for RDS, \
                 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)",
            ),
            (
                CaError::Unterminated {
                    source_name: url_file(),
                    index: 2,
                    label: "CERTIFICATE".into(),
                },
                "block 2 of the CA file /etc/rds.pem named by sslrootcert in the URL (-----BEGIN \
                 CERTIFICATE-----) has no -----END CERTIFICATE----- line: the file is cut short \
                 or garbled; download or copy it again",
            ),
            (
                CaError::InvalidCertificate {
                    source_name: file(),
                    index: 3,
                    total: 108,
                    source: parse_error,
                },
                "certificate 3 of 108 in the CA file /etc/ca.pem is not a valid X.509 \
                 certificate: the file is garbled; download or copy the CA bundle again",
            ),
        ] {
            assert_eq!(e.to_string(), text);
            if let Some(source) = e.source() {
                assert!(!text.contains(&source.to_string()), "{text}");
            }
        }
    }
}
