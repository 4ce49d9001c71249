//! CA bundle loading: many certificates load whole; empty, garbled and missing files are
//! errors that name the file.

use std::fs;
use std::path::Path;

use rds_iam::tls::{BUILD_TASK_CA_FILE, CaBundle, CaError, CaSource, TlsSetupError, TrustConfig};
use rds_iam::tls_mode::TlsMode;

use crate::support::logs::LogCapture;

/// `n` self-signed CA certificates in one PEM text, with text between the blocks as
/// Build the connector of every TLS stack compiled in (native-tls's connector, rustls's client
/// configuration) for `bundle` and `mode`: each must come to the same outcome.
fn build(bundle: &CaBundle, mode: TlsMode) -> Result<(), TlsSetupError> {
    let mut outcomes: Vec<Result<(), TlsSetupError>> = Vec::new();
    #[cfg(feature = "_native-tls")]
    outcomes.push(rds_iam::tls::tls_connector(bundle, mode).map(drop));
    #[cfg(feature = "_rustls")]
    outcomes.push(rds_iam::tls::rustls_config(bundle, mode).map(drop));
    let first = outcomes.remove(0);
    for other in outcomes {
        assert_eq!(
            other.as_ref().map_err(ToString::to_string),
            first.as_ref().map_err(ToString::to_string),
            "the TLS stacks disagree"
        );
    }
    first
}

/// `openssl x509 -text` bundles have.
fn generated_bundle(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(
                rcgen::DnType::CommonName,
                format!("rds-iam bundle test CA {i}"),
            );
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            let cert = params
                .self_signed(&rcgen::KeyPair::generate().unwrap())
                .unwrap();
            format!("# CA {i}\n{}\n", cert.pem())
        })
        .collect()
}

fn load_file(path: &Path) -> Result<CaBundle, CaError> {
    CaBundle::load(&TrustConfig::new().with_source(CaSource::file(path)))
}

#[test]
fn a_bundle_of_120_certificates_loads_as_120_roots() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("global-bundle.pem");
    fs::write(&path, generated_bundle(120)).unwrap();

    let bundle = load_file(&path).unwrap();
    assert_eq!(bundle.len(), 120);
    assert_eq!(bundle.certificates_der().len(), 120);
    let ders: std::collections::HashSet<&[u8]> = bundle.certificates_der().collect();
    assert_eq!(ders.len(), 120, "every certificate is distinct");
    assert_eq!(
        bundle.to_string(),
        format!(
            "the CA file {} (120 certificates) and the system trust store",
            path.display()
        )
    );
    // The same bundle as PEM text, and with the system store off: still 120.
    let text = fs::read_to_string(&path).unwrap();
    let bundle = CaBundle::load(
        &TrustConfig::new()
            .with_source(CaSource::pem(text))
            .with_system_roots(false),
    )
    .unwrap();
    assert_eq!(bundle.len(), 120);
    assert!(build(&bundle, TlsMode::VerifyFull).is_ok());
}

#[test]
fn sources_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.pem"), dir.path().join("b.pem"));
    fs::write(&a, generated_bundle(2)).unwrap();
    fs::write(&b, generated_bundle(3)).unwrap();
    let trust = TrustConfig::new()
        .with_source(CaSource::file(&a))
        .with_source(CaSource::UrlFile {
            parameter: "sslrootcert",
            path: b.clone(),
        });
    let bundle = CaBundle::load(&trust).unwrap();
    assert_eq!(bundle.len(), 5);
    assert_eq!(
        bundle.to_string(),
        format!(
            "the CA file {} (2 certificates), the CA file {} named by sslrootcert in the URL (3 \
             certificates) and the system trust store",
            a.display(),
            b.display()
        )
    );
}

#[test]
fn a_der_file_is_one_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.der");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params
        .self_signed(&rcgen::KeyPair::generate().unwrap())
        .unwrap();
    fs::write(&path, cert.der()).unwrap();
    let bundle = load_file(&path).unwrap();
    assert_eq!(bundle.len(), 1);
    assert_eq!(bundle.certificates_der().next(), Some(cert.der().as_ref()));
}

#[test]
fn an_empty_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("root_ca.crt");
    fs::write(&path, "\n\n").unwrap();
    let err = load_file(&path).unwrap_err();
    assert!(matches!(err, CaError::Empty { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the CA file {} is empty: it must hold the PEM certificates of the CA that signed \
             the database's certificate (for RDS, the bundle from \
             https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)",
            path.display()
        )
    );
}

#[test]
fn a_garbage_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garbage.pem");
    fs::write(&path, "this is not a certificate\n\x01\x02").unwrap();
    let err = load_file(&path).unwrap_err();
    assert!(matches!(err, CaError::NoCertificate { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(&format!(
            "the CA file {} holds no PEM certificate",
            path.display()
        )),
        "{err}"
    );

    // A bundle whose 3rd of 4 certificates is garbled.
    let mut pem = generated_bundle(4);
    let third = pem
        .match_indices("-----BEGIN CERTIFICATE-----")
        .nth(2)
        .unwrap()
        .0;
    pem.replace_range(third + 40..third + 60, "!!!!garbled!!!!!!!!!");
    fs::write(&path, pem).unwrap();
    let err = load_file(&path).unwrap_err();
    assert!(
        matches!(
            err,
            CaError::InvalidCertificate {
                index: 3,
                total: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with(&format!(
            "certificate 3 of 4 in the CA file {} is not a valid X.509 certificate",
            path.display()
        )),
        "{err}"
    );

    // Cut short.
    let pem = generated_bundle(2);
    fs::write(&path, &pem[..pem.len() - 40]).unwrap();
    let err = load_file(&path).unwrap_err();
    assert!(
        matches!(err, CaError::Unterminated { index: 2, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.pem");
    let err = load_file(&path).unwrap_err();
    assert!(matches!(err, CaError::Read { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read the CA file {}: the file is not there: check the path",
            path.display()
        )
    );
    assert!(std::error::Error::source(&err).is_some());

    let err = load_file(dir.path()).unwrap_err();
    assert!(err.to_string().contains("it is a directory"), "{err}");
}

#[test]
fn the_build_task_bundle_is_read_only_when_configured() {
    assert_eq!(BUILD_TASK_CA_FILE, "/etc/ssl/certs/dbops/root_ca.crt");
    // Not configured: nothing is read, whatever is mounted.
    assert_eq!(CaBundle::load(&TrustConfig::new()).unwrap().len(), 0);

    let result = CaBundle::load(&TrustConfig::new().with_source(CaSource::MountedBuildTaskBundle));
    if Path::new(BUILD_TASK_CA_FILE).exists() {
        // On a build task with the secret mounted: loaded, or an error naming it.
        if let Err(err) = result {
            assert!(err.to_string().contains(BUILD_TASK_CA_FILE), "{err}");
        }
    } else {
        let err = result.unwrap_err();
        assert!(
            err.to_string().starts_with(
                "cannot read the build-task CA file /etc/ssl/certs/dbops/root_ca.crt (mounted \
                 from AWS Secrets Manager): the file is not there: mount the CA secret"
            ),
            "{err}"
        );
    }
}

#[test]
fn verifying_with_nothing_trusted_is_refused() {
    let nothing = CaBundle::load(&TrustConfig::new().with_system_roots(false)).unwrap();
    let err = build(&nothing, TlsMode::VerifyFull).unwrap_err();
    assert!(err.to_string().contains("no CA is trusted"), "{err}");
}

#[test]
fn verify_ca_without_a_ca_source_is_refused_even_with_the_system_store() {
    for system_roots in [true, false] {
        let bundle = CaBundle::load(&TrustConfig::new().with_system_roots(system_roots)).unwrap();
        let err = build(&bundle, TlsMode::VerifyCa).unwrap_err();
        assert!(matches!(err, TlsSetupError::VerifyCaWithoutCa), "{err:?}");
        let text = err.to_string();
        for needle in [
            "verify-ca trusts only the CA certificates given, never the system trust store",
            "sslrootcert",
            "sslCa",
            ".ca(CaSource::file(PATH))",
            "use verify-full",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
    // With a CA source: built.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    fs::write(&path, generated_bundle(1)).unwrap();
    assert!(build(&load_file(&path).unwrap(), TlsMode::VerifyCa).is_ok());
}

#[test]
fn require_warns_that_the_server_is_not_authenticated() {
    let capture = LogCapture::default();
    let _guard = capture.install();
    let nothing = CaBundle::load(&TrustConfig::new().with_system_roots(false)).unwrap();
    assert!(build(&nothing, TlsMode::Require).is_ok());
    let logs = capture.text();
    assert!(logs.contains(" WARN "), "{logs}");
    assert!(logs.contains("the server is not authenticated"), "{logs}");
}
