//! Errors from parsing a JDBC URL.

use super::Engine;

/// Why a JDBC URL was rejected.
///
/// Every message says what is wrong and how to fix it. No message ever contains the value of a
/// parameter (in particular never a password): at most the parameter's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JdbcUrlError {
    /// The text does not start with `jdbc:`.
    #[error(
        "not a JDBC URL: it must start with jdbc:aws-wrapper:postgresql://, jdbc:aws-wrapper:mysql://, \
         jdbc:aws-wrapper:mariadb:// (IAM-capable) or jdbc:postgresql://, jdbc:mysql://, jdbc:mariadb://"
    )]
    NotJdbc,
    /// The prefix or engine name is not written in lower case (`JDBC:AWS-WRAPPER:...`).
    #[error(
        "the JDBC prefix must be lower case: write jdbc:aws-wrapper:{0}:// (or jdbc:{0}://), \
         exactly as the AWS JDBC wrapper expects"
    )]
    UppercasePrefix(Engine),
    /// The engine after `jdbc:` or `jdbc:aws-wrapper:` is not one we know.
    #[error(
        "unsupported database engine in the JDBC URL: use postgresql, mysql or mariadb \
         (for example jdbc:aws-wrapper:postgresql://host:5432/db)"
    )]
    UnknownEngine,
    /// No host between `//` and the path (`jdbc:postgresql:///db`), or no `//` at all.
    #[error(
        "the JDBC URL names no host: write it as jdbc:aws-wrapper:{0}://HOST[:PORT]/DATABASE \
         (the host is needed to connect and to sign the IAM token)"
    )]
    MissingHost(Engine),
    /// One entry of the host list is not a valid `host[:port]`.
    #[error(
        "host number {index} in the JDBC URL {reason}: write each host as NAME[:PORT] or \
         [IPv6]:PORT, separated by commas"
    )]
    InvalidHost {
        /// 1-based position in the host list.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A port is not a number from 1 to 65535.
    #[error(
        "the port of host number {index} in the JDBC URL is not a number from 1 to 65535: fix it \
         or leave it out to use the default port"
    )]
    InvalidPort {
        /// 1-based position in the host list.
        index: usize,
    },
    /// A `%` not followed by two hexadecimal digits.
    #[error(
        "malformed percent escape in {part}: write a literal % as %25 (and a literal + in a parameter as %2B)"
    )]
    MalformedEscape {
        /// Which part of the URL (a parameter name, the database, the user or password).
        part: String,
    },
    /// Percent escapes that do not decode to UTF-8.
    #[error(
        "percent escapes in {part} do not decode to UTF-8 text: encode the text as UTF-8 before escaping it"
    )]
    InvalidUtf8 {
        /// Which part of the URL.
        part: String,
    },
    /// A query parameter with an empty name (`?=value`).
    #[error(
        "a query parameter in the JDBC URL has an empty name (`=value`): add the name or remove it"
    )]
    EmptyKey,
    /// A typed setting has a value outside its accepted set.
    #[error("invalid value for the JDBC URL parameter `{key}`: accepted values are {accepted}")]
    InvalidValue {
        /// The parameter name.
        key: &'static str,
        /// What the parameter accepts.
        accepted: &'static str,
    },
    /// A parameter of the other engine family (`sslmode` on a MySQL URL, `sslMode` on PostgreSQL).
    #[error(
        "`{key}` is not a {engine} parameter (the {engine} driver would silently ignore it): {fix}"
    )]
    WrongEngine {
        /// The parameter name.
        key: &'static str,
        /// The URL's engine.
        engine: Engine,
        /// What to write instead.
        fix: &'static str,
    },
    /// A Java KeyStore trust store (`trustCertificateKeyStoreUrl`).
    #[error(
        "trustCertificateKeyStoreUrl (a Java KeyStore) is not supported: export the CA certificates to a \
         PEM file (keytool -exportcert -rfc) and give its path as {pem_key}=/path/to/ca.pem"
    )]
    JksTrustStore {
        /// The parameter that takes a PEM file for this engine.
        pem_key: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jdbc::JdbcUrl;

    /// Every message, pinned: what a user reads when a URL is refused.
    #[test]
    fn messages() {
        for (e, text) in [
            (
                JdbcUrlError::NotJdbc,
                "not a JDBC URL: it must start with jdbc:aws-wrapper:postgresql://, \
                 jdbc:aws-wrapper:mysql://, jdbc:aws-wrapper:mariadb:// (IAM-capable) or \
                 jdbc:postgresql://, jdbc:mysql://, jdbc:mariadb://",
            ),
            (
                JdbcUrlError::UppercasePrefix(Engine::Mysql),
                "the JDBC prefix must be lower case: write jdbc:aws-wrapper:mysql:// (or \
                 jdbc:mysql://), exactly as the AWS JDBC wrapper expects",
            ),
            (
                JdbcUrlError::UnknownEngine,
                "unsupported database engine in the JDBC URL: use postgresql, mysql or mariadb \
                 (for example jdbc:aws-wrapper:postgresql://host:5432/db)",
            ),
            (
                JdbcUrlError::MissingHost(Engine::Postgresql),
                "the JDBC URL names no host: write it as \
                 jdbc:aws-wrapper:postgresql://HOST[:PORT]/DATABASE (the host is needed to \
                 connect and to sign the IAM token)",
            ),
            (
                JdbcUrlError::InvalidHost {
                    index: 2,
                    reason: "is empty",
                },
                "host number 2 in the JDBC URL is empty: write each host as NAME[:PORT] or \
                 [IPv6]:PORT, separated by commas",
            ),
            (
                JdbcUrlError::InvalidPort { index: 1 },
                "the port of host number 1 in the JDBC URL is not a number from 1 to 65535: fix \
                 it or leave it out to use the default port",
            ),
            (
                JdbcUrlError::MalformedEscape {
                    part: "the password before @".into(),
                },
                "malformed percent escape in the password before @: write a literal % as %25 \
                 (and a literal + in a parameter as %2B)",
            ),
            (
                JdbcUrlError::InvalidUtf8 {
                    part: "the value of `user`".into(),
                },
                "percent escapes in the value of `user` do not decode to UTF-8 text: encode the \
                 text as UTF-8 before escaping it",
            ),
            (
                JdbcUrlError::EmptyKey,
                "a query parameter in the JDBC URL has an empty name (`=value`): add the name or \
                 remove it",
            ),
            (
                JdbcUrlError::InvalidValue {
                    key: "iamDefaultPort",
                    accepted: "a port number from 1 to 65535",
                },
                "invalid value for the JDBC URL parameter `iamDefaultPort`: accepted values are \
                 a port number from 1 to 65535",
            ),
            (
                JdbcUrlError::WrongEngine {
                    key: "sslmode",
                    engine: Engine::Mariadb,
                    fix: "for MySQL and MariaDB use sslMode=VERIFY_IDENTITY (or VERIFY_CA, \
                          REQUIRED)",
                },
                "`sslmode` is not a mariadb parameter (the mariadb driver would silently ignore \
                 it): for MySQL and MariaDB use sslMode=VERIFY_IDENTITY (or VERIFY_CA, REQUIRED)",
            ),
            (
                JdbcUrlError::JksTrustStore { pem_key: "sslCa" },
                "trustCertificateKeyStoreUrl (a Java KeyStore) is not supported: export the CA \
                 certificates to a PEM file (keytool -exportcert -rfc) and give its path as \
                 sslCa=/path/to/ca.pem",
            ),
        ] {
            assert_eq!(e.to_string(), text);
        }
    }

    /// A refused value never appears in the message, however it is refused: only the
    /// parameter's name (or the URL part) does.
    #[test]
    fn no_message_echoes_a_value() {
        const SECRET: &str = "S3cretValue";
        for url in [
            "jdbc:aws-wrapper:postgresql://u:S3cretValue%zz@h/d",
            "jdbc:aws-wrapper:postgresql://u:S3cretValue%FF@h/d",
            "jdbc:aws-wrapper:postgresql://h/d?password=S3cretValue%zz",
            "jdbc:aws-wrapper:postgresql://h/d?sslpassword=S3cretValue%FF",
            "jdbc:aws-wrapper:postgresql://h/d?iamRegion=S3cretValue!",
            "jdbc:aws-wrapper:postgresql://h/d?iamExpiration=S3cretValue",
            "jdbc:aws-wrapper:mysql://h/d?sslmode=S3cretValue",
            "jdbc:aws-wrapper:postgresql://h/d?trustCertificateKeyStoreUrl=S3cretValue",
            "jdbc:aws-wrapper:postgresql://h:S3cretValue/d",
        ] {
            let e = JdbcUrl::parse(url).unwrap_err();
            assert!(!e.to_string().contains(SECRET), "{url}: {e}");
            assert!(!format!("{e:?}").contains(SECRET), "{url}: {e:?}");
        }
    }
}
