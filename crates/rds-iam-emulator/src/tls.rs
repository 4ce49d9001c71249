//! The emulator's TLS identity: loaded from PEM files, or a freshly generated test CA
//! and server certificate.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};

use super::EmulatorError;
use super::config::TlsIdentity;

/// A TLS acceptor plus where its CA certificate went (if it was generated).
pub(crate) struct ServerTls {
    pub(crate) acceptor: tokio_native_tls::TlsAcceptor,
    pub(crate) ca: Option<CaFile>,
}

/// A generated CA certificate written to disk. A file in a directory the emulator
/// created itself is removed with it; a file at a path the caller chose stays.
pub(crate) struct CaFile {
    pub(crate) path: PathBuf,
    pub(crate) pem: String,
    owned_dir: Option<PathBuf>,
}

impl Drop for CaFile {
    fn drop(&mut self) {
        if let Some(dir) = &self.owned_dir {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// A test CA and a server certificate signed by it, all PEM.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// Generate a CA and a server certificate valid for `names` (DNS names or IP
/// addresses).
pub(crate) fn generate_test_pki(names: &[String]) -> Result<TestPki, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "rds-iam emulator test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params.self_signed(&ca_key)?;

    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &ca, &ca_key)?;
    Ok(TestPki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// Build the TLS acceptor for `identity`; `endpoint_host` names the generated certificate.
pub(crate) fn server_tls(
    identity: &TlsIdentity,
    endpoint_host: &str,
) -> Result<ServerTls, EmulatorError> {
    let (cert_pem, key_pem, ca) = match identity {
        TlsIdentity::PemFiles { cert, key } => (read(cert)?, read(key)?, None),
        TlsIdentity::GenerateTestCa { write_ca_to } => {
            let names = vec![
                endpoint_host.to_owned(),
                "localhost".to_owned(),
                "127.0.0.1".to_owned(),
                "::1".to_owned(),
            ];
            let pki =
                generate_test_pki(&names).map_err(|source| EmulatorError::GenerateCa { source })?;
            let ca = write_ca(write_ca_to.as_deref(), pki.ca_pem)?;
            (
                pki.cert_pem.into_bytes(),
                pki.key_pem.into_bytes(),
                Some(ca),
            )
        }
    };
    let identity = native_tls::Identity::from_pkcs8(&cert_pem, &key_pem)
        .map_err(|source| EmulatorError::TlsIdentity { source })?;
    let acceptor = native_tls::TlsAcceptor::builder(identity)
        .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
        .build()
        .map_err(|source| EmulatorError::TlsIdentity { source })?;
    Ok(ServerTls {
        acceptor: acceptor.into(),
        ca,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, EmulatorError> {
    fs::read(path).map_err(|source| EmulatorError::ReadTlsFile {
        path: path.to_owned(),
        source,
    })
}

fn write_ca(path: Option<&Path>, pem: String) -> Result<CaFile, EmulatorError> {
    let (path, owned_dir) = match path {
        Some(path) => (path.to_owned(), None),
        None => {
            let dir = fresh_temp_dir()?;
            (dir.join("emulator-ca.pem"), Some(dir))
        }
    };
    let ca = CaFile {
        path,
        pem,
        owned_dir,
    };
    fs::write(&ca.path, &ca.pem).map_err(|source| EmulatorError::WriteCa {
        path: ca.path.clone(),
        source,
    })?;
    Ok(ca)
}

fn fresh_temp_dir() -> Result<PathBuf, EmulatorError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("rds-iam-emulator-{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(EmulatorError::WriteCa { path: dir, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_identity_loads_and_ca_file_is_cleaned_up() {
        let tls = server_tls(
            &TlsIdentity::GenerateTestCa { write_ca_to: None },
            "mydb.cluster-abc123.us-east-1.rds.amazonaws.com",
        )
        .unwrap();
        let ca = tls.ca.as_ref().unwrap();
        let on_disk = fs::read_to_string(&ca.path).unwrap();
        assert!(on_disk.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(on_disk, ca.pem);
        native_tls::Certificate::from_pem(on_disk.as_bytes()).unwrap();
        let dir = ca.path.parent().unwrap().to_owned();
        drop(tls);
        assert!(!dir.exists());
    }

    #[test]
    fn missing_pem_file_is_named() {
        let err = server_tls(
            &TlsIdentity::PemFiles {
                cert: "/nonexistent/cert.pem".into(),
                key: "/nonexistent/key.pem".into(),
            },
            "h",
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }

    /// A name rcgen cannot put in a certificate (not ASCII) is refused with the builder
    /// method to fix; rcgen's words are the source.
    #[test]
    fn a_name_that_cannot_be_certified_names_the_fix() {
        let Err(err) = server_tls(
            &TlsIdentity::GenerateTestCa { write_ca_to: None },
            "bücher.example",
        ) else {
            panic!("a certificate for a non-ASCII name")
        };
        assert!(matches!(err, EmulatorError::GenerateCa { .. }), "{err:?}");
        assert!(
            err.to_string().contains("EmulatorConfigBuilder::endpoint"),
            "{err}"
        );
        let source = std::error::Error::source(&err).unwrap().to_string();
        assert!(source.contains("bücher.example"), "{source}");
        assert!(!err.to_string().contains(&source), "{err}");
    }
}
