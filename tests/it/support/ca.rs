//! A test certificate authority generated at run time (rcgen), and server
//! certificates it signs, written to temporary PEM files.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tempfile::TempDir;

/// A CA whose certificate is in a PEM file (`ca_path`). The files live as long as
/// the value.
pub struct TestCa {
    dir: TempDir,
    cert: Certificate,
    key: KeyPair,
    path: PathBuf,
}

/// A server certificate and its private key (PKCS#8), as PEM text and files.
pub struct ServerCert {
    /// The certificate file.
    pub cert_path: PathBuf,
    /// The private key file.
    pub key_path: PathBuf,
    /// The certificate.
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

impl TestCa {
    /// A fresh CA named `common_name`.
    pub fn new(common_name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("rds-iam-test-ca-")
            .tempdir()
            .expect("create a temporary directory for the test CA");
        let key = KeyPair::generate().expect("generate the CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-sign the CA");
        let path = dir.path().join("ca.pem");
        fs::write(&path, cert.pem()).expect("write the CA certificate");
        Self {
            dir,
            cert,
            key,
            path,
        }
    }

    /// The directory holding the CA and certificate files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate file (PEM).
    pub fn ca_path(&self) -> &Path {
        &self.path
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    /// A server certificate for `names` (DNS names or IP addresses; the first is also
    /// the common name), written as `<file_stem>.crt` / `<file_stem>.key`.
    pub fn server_cert(&self, file_stem: &str, names: &[&str]) -> ServerCert {
        let key = KeyPair::generate().expect("generate the server key");
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .expect("server certificate parameters");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .expect("sign the server certificate");
        let cert_path = self.dir.path().join(format!("{file_stem}.crt"));
        let key_path = self.dir.path().join(format!("{file_stem}.key"));
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        fs::write(&cert_path, &cert_pem).expect("write the server certificate");
        fs::write(&key_path, &key_pem).expect("write the server key");
        ServerCert {
            cert_path,
            key_path,
            cert_pem,
            key_pem,
        }
    }
}
