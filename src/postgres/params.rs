//! pgjdbc / libpq URL parameters passed through to tokio-postgres.

use std::time::Duration;

use tokio_postgres::config::TargetSessionAttrs;

use crate::connect::{ConnectError, Settings};

/// What the pass-through parameters ask for, beyond the `Config` setters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PassThrough {
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) login_timeout: Option<Duration>,
    pub(crate) keepalives: Option<bool>,
    pub(crate) target_session_attrs: Option<TargetSessionAttrs>,
}

/// Parameters that need a client certificate or a Java class: not supported, said once.
const UNSUPPORTED: [&str; 6] = [
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslfactory",
    "sslhostnameverifier",
    "sslpasswordcallback",
];

/// Read the pass-through parameters of `settings` (unknown ones are ignored, with a debug
/// line; client-certificate ones with a warning).
pub(crate) fn pass_through(settings: &Settings) -> Result<PassThrough, ConnectError> {
    pass_through_params(&settings.params)
}

/// [`pass_through`] of the URL's other parameters.
pub(crate) fn pass_through_params(
    params: &[(String, String)],
) -> Result<PassThrough, ConnectError> {
    let mut out = PassThrough::default();
    let mut schema = None;
    for (key, value) in params {
        match key.as_str() {
            "ApplicationName" | "applicationName" | "application_name" => {
                out.application_name = Some(value.clone());
            }
            "options" => out.options = Some(value.clone()),
            "currentSchema" => schema = Some(value.clone()),
            "loginTimeout" => {
                let secs: u64 = value.parse().map_err(|_| ConnectError::Parameter {
                    key: key.clone(),
                    accepted: "a whole number of seconds (0: no limit)",
                })?;
                out.login_timeout = Some(Duration::from_secs(secs)).filter(|d| !d.is_zero());
            }
            "tcpKeepAlive" => {
                out.keepalives = Some(match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(ConnectError::Parameter {
                            key: key.clone(),
                            accepted: "true or false",
                        });
                    }
                });
            }
            "targetServerType" | "target_session_attrs" => {
                out.target_session_attrs = Some(match value.to_ascii_lowercase().as_str() {
                    "any" => TargetSessionAttrs::Any,
                    "primary" | "master" | "read-write" => TargetSessionAttrs::ReadWrite,
                    "secondary" | "standby" | "read-only" => TargetSessionAttrs::ReadOnly,
                    _ => {
                        return Err(ConnectError::Parameter {
                            key: key.clone(),
                            accepted: "any, primary (master) or secondary (standby)",
                        });
                    }
                });
            }
            k if UNSUPPORTED.contains(&k) => tracing::warn!(
                target: "rds_iam::postgres",
                parameter = k,
                "client certificates are not supported by the IAM connector: parameter ignored"
            ),
            k => {
                tracing::debug!(target: "rds_iam::postgres", parameter = k, "URL parameter ignored")
            }
        }
    }
    if let Some(schema) = schema {
        let search_path = format!("-c search_path={}", escape_option(&schema));
        out.options = Some(match out.options.take() {
            Some(options) if !options.is_empty() => format!("{options} {search_path}"),
            _ => search_path,
        });
    }
    Ok(out)
}

/// Escape a value inside libpq's `options` (spaces and backslashes are backslash-escaped).
fn escape_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == ' ' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jdbc::{Engine, JdbcUrl};

    fn read(query: &str) -> Result<PassThrough, ConnectError> {
        let url = JdbcUrl::parse(&format!("jdbc:postgresql://h/d?{query}")).unwrap();
        pass_through(&Settings::from_url(&url, "PgConnector", &[Engine::Postgresql]).unwrap())
    }

    #[test]
    fn known_parameters_pass_through() {
        let p = read(
            "ApplicationName=flyway+migrate&options=-c%20statement_timeout%3D5000\
             &currentSchema=my%20app&loginTimeout=7&tcpKeepAlive=false&targetServerType=primary\
             &unknownThing=1",
        )
        .unwrap();
        assert_eq!(
            p,
            PassThrough {
                application_name: Some("flyway migrate".into()),
                options: Some("-c statement_timeout=5000 -c search_path=my\\ app".into()),
                login_timeout: Some(Duration::from_secs(7)),
                keepalives: Some(false),
                target_session_attrs: Some(TargetSessionAttrs::ReadWrite),
            }
        );
    }

    #[test]
    fn bad_values_name_the_key_not_the_value() {
        let e = read("loginTimeout=soon").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the URL parameter loginTimeout has a value the connector cannot use: use a whole \
             number of seconds (0: no limit)"
        );
        assert_eq!(
            read("tcpKeepAlive=S3cretValue").unwrap_err().to_string(),
            "the URL parameter tcpKeepAlive has a value the connector cannot use: use true or \
             false"
        );
        assert_eq!(
            read("targetServerType=preferSecondary")
                .unwrap_err()
                .to_string(),
            "the URL parameter targetServerType has a value the connector cannot use: use any, \
             primary (master) or secondary (standby)"
        );
    }
}
