//! Where trusted CA certificates come from: [`CaSource`] and [`TrustConfig`].

use std::fmt;
use std::path::{Path, PathBuf};

/// The CA file a Harness Database DevOps build task sees when the runner mounts a Secrets
/// Manager secret there (`HARNESS_SECRET_FILE_MAPPINGS=HARNESS_CERT_0:/etc/ssl/certs/dbops/root_ca.crt`
/// and `HARNESS_CI_MOUNT_VOLUMES`). Read only when configured with
/// [`CaSource::MountedBuildTaskBundle`].
pub const BUILD_TASK_CA_FILE: &str = "/etc/ssl/certs/dbops/root_ca.crt";

/// One place to load trusted CA certificates from.
///
/// Every source is a bundle: all its certificates are trusted (the RDS global bundle has over
/// 100), never only the first one.
///
/// `Debug` of [`CaSource::Pem`] shows the length of the text, not the text.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaSource {
    /// A PEM file given by the caller.
    File(PathBuf),
    /// A PEM file named in the JDBC URL (`sslrootcert`, `sslCa` or `serverSslCert`).
    UrlFile {
        /// The URL parameter that named the file.
        parameter: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// PEM text given by the caller (for example read from a secret).
    Pem(String),
    /// The build-task CA file [`BUILD_TASK_CA_FILE`], mounted from AWS Secrets Manager by the
    /// Harness ECS runner.
    MountedBuildTaskBundle,
}

impl CaSource {
    /// A PEM file.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }

    /// PEM text.
    pub fn pem(pem: impl Into<String>) -> Self {
        Self::Pem(pem.into())
    }

    /// The file to read, if this source is a file.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::File(path) | Self::UrlFile { path, .. } => Some(path),
            Self::Pem(_) => None,
            Self::MountedBuildTaskBundle => Some(Path::new(BUILD_TASK_CA_FILE)),
        }
    }
}

impl fmt::Display for CaSource {
    /// What the source is, for messages: `the CA file /etc/rds.pem named by sslrootcert in the
    /// URL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "the CA file {}", path.display()),
            Self::UrlFile { parameter, path } => {
                write!(
                    f,
                    "the CA file {} named by {parameter} in the URL",
                    path.display()
                )
            }
            Self::Pem(_) => f.write_str("the CA PEM text given to the connector"),
            Self::MountedBuildTaskBundle => write!(
                f,
                "the build-task CA file {BUILD_TASK_CA_FILE} (mounted from AWS Secrets Manager)"
            ),
        }
    }
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::UrlFile { parameter, path } => f
                .debug_struct("UrlFile")
                .field("parameter", parameter)
                .field("path", path)
                .finish(),
            Self::Pem(pem) => write!(f, "Pem(<{} bytes>)", pem.len()),
            Self::MountedBuildTaskBundle => f.write_str("MountedBuildTaskBundle"),
        }
    }
}

/// Which certificate authorities a connection trusts: CA sources, and the system trust store
/// (on by default: RDS Proxy and Aurora DSQL present certificates from public CAs).
///
/// The system trust store is used only in `verify-full`. `verify-ca` does not check the host
/// name, so it trusts exactly the CA sources given and never the system store, whatever
/// [`system_roots`](Self::system_roots) says (as libpq trusts only `sslrootcert`); without any
/// source it is an error when the connector is built.
///
/// ```
/// use rds_iam::tls::{CaSource, TrustConfig};
///
/// let trust = TrustConfig::new()
///     .with_source(CaSource::file("/etc/ssl/certs/rds-global-bundle.pem"))
///     .with_system_roots(false);
/// assert_eq!(trust.sources().len(), 1);
/// assert!(!trust.system_roots());
/// assert_eq!(
///     trust.to_string(),
///     "the CA file /etc/ssl/certs/rds-global-bundle.pem"
/// );
/// assert_eq!(TrustConfig::new().to_string(), "the system trust store");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    sources: Vec<CaSource>,
    system_roots: bool,
}

impl Default for TrustConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TrustConfig {
    /// The system trust store only (used in `verify-full`; `verify-ca` needs a source).
    pub fn new() -> Self {
        Self {
            sources: Vec::new(),
            system_roots: true,
        }
    }

    /// Also trust the certificates of `source`.
    #[must_use]
    pub fn with_source(mut self, source: CaSource) -> Self {
        self.add_source(source);
        self
    }

    /// Also trust the certificates of `source` (a source given twice is read once).
    pub fn add_source(&mut self, source: CaSource) {
        if !self.sources.contains(&source) {
            self.sources.push(source);
        }
    }

    /// Whether the system trust store is trusted too, in `verify-full` (default: yes). Never in
    /// `verify-ca`.
    #[must_use]
    pub fn with_system_roots(mut self, system_roots: bool) -> Self {
        self.system_roots = system_roots;
        self
    }

    /// Set whether the system trust store is trusted too, in `verify-full` (never in
    /// `verify-ca`).
    pub fn set_system_roots(&mut self, system_roots: bool) {
        self.system_roots = system_roots;
    }

    /// The CA sources, in the order given.
    pub fn sources(&self) -> &[CaSource] {
        &self.sources
    }

    /// Whether the system trust store is trusted, in `verify-full`.
    pub fn system_roots(&self) -> bool {
        self.system_roots
    }
}

impl fmt::Display for TrustConfig {
    /// The trusted CAs in words, for error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, source) in self.sources.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{source}")?;
        }
        match (self.sources.is_empty(), self.system_roots) {
            (true, true) => f.write_str("the system trust store"),
            (false, true) => f.write_str(" and the system trust store"),
            (true, false) => f.write_str("no CA at all"),
            (false, false) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_every_source() {
        let trust = TrustConfig::new()
            .with_source(CaSource::UrlFile {
                parameter: "sslrootcert",
                path: "/a.pem".into(),
            })
            .with_source(CaSource::MountedBuildTaskBundle)
            .with_source(CaSource::pem("-----BEGIN CERTIFICATE-----"));
        assert_eq!(
            trust.to_string(),
            "the CA file /a.pem named by sslrootcert in the URL, the build-task CA file \
             /etc/ssl/certs/dbops/root_ca.crt (mounted from AWS Secrets Manager), the CA PEM \
             text given to the connector and the system trust store"
        );
        assert_eq!(
            TrustConfig::new().with_system_roots(false).to_string(),
            "no CA at all"
        );
    }

    #[test]
    fn pem_debug_shows_the_length_only() {
        let source = CaSource::pem("-----BEGIN CERTIFICATE-----\nMIIB\n");
        assert_eq!(format!("{source:?}"), "Pem(<33 bytes>)");
    }

    #[test]
    fn duplicates_are_read_once() {
        let mut trust = TrustConfig::new();
        trust.add_source(CaSource::file("/a.pem"));
        trust.add_source(CaSource::file("/a.pem"));
        assert_eq!(trust.sources().len(), 1);
        assert_eq!(
            CaSource::MountedBuildTaskBundle.path(),
            Some(Path::new(BUILD_TASK_CA_FILE))
        );
    }
}
