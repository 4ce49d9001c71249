//! The grammar: `jdbc:[aws-wrapper:]<engine>://[user[:password]@]<hosts>[/<database>][?<params>]`.
//!
//! Pure string handling: no I/O, no environment, and no operation that can panic on any input
//! (only `split_once`/`strip_prefix`-style slicing, never indexing).

use std::net::Ipv6Addr;

use super::percent::{self, DecodeError};
use super::settings::{self, Settings};
use super::{Engine, HostPort, JdbcUrl, JdbcUrlError};

const WRAPPER_PREFIX: &str = "jdbc:aws-wrapper:";
const PLAIN_PREFIX: &str = "jdbc:";

pub(crate) fn parse(input: &str) -> Result<JdbcUrl, JdbcUrlError> {
    let (aws_wrapper, engine, rest) = split_prefix(input)?;
    let rest = rest
        .strip_prefix("//")
        .ok_or(JdbcUrlError::MissingHost(engine))?;

    // The authority ends at the first '/' or '?'.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at_checked(authority_end).unwrap_or((rest, ""));

    let mut settings = Settings::default();
    let host_list = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            apply_userinfo(&mut settings, userinfo)?;
            hosts
        }
        None => authority,
    };
    let hosts = parse_hosts(host_list, engine)?;

    let (path, query) = match after.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (after, None),
    };
    let database = parse_database(path)?;

    let mut extra = Vec::new();
    if let Some(query) = query {
        let params = parse_query(query)?;
        settings::apply(&mut settings, &mut extra, engine, params)?;
    }

    Ok(JdbcUrl {
        aws_wrapper,
        engine,
        hosts,
        database,
        settings,
        extra,
    })
}

/// `jdbc:aws-wrapper:<engine>:` or `jdbc:<engine>:`, exact and lower case.
fn split_prefix(input: &str) -> Result<(bool, Engine, &str), JdbcUrlError> {
    let (aws_wrapper, rest) = if let Some(rest) = input.strip_prefix(WRAPPER_PREFIX) {
        (true, rest)
    } else if let Some(rest) = input.strip_prefix(PLAIN_PREFIX) {
        (false, rest)
    } else {
        return Err(uppercase_hint(input).unwrap_or(JdbcUrlError::NotJdbc));
    };
    for engine in Engine::ALL {
        if let Some(rest) = rest
            .strip_prefix(engine.as_str())
            .and_then(|r| r.strip_prefix(':'))
        {
            return Ok((aws_wrapper, engine, rest));
        }
    }
    Err(uppercase_hint(input).unwrap_or(JdbcUrlError::UnknownEngine))
}

/// If the input is a valid prefix written in the wrong case, say so.
fn uppercase_hint(input: &str) -> Option<JdbcUrlError> {
    let lower = input
        .chars()
        .take(WRAPPER_PREFIX.len() + "postgresql:".len())
        .collect::<String>()
        .to_ascii_lowercase();
    for engine in Engine::ALL {
        let wrapped = format!("{WRAPPER_PREFIX}{}:", engine.as_str());
        let plain = format!("{PLAIN_PREFIX}{}:", engine.as_str());
        if lower.starts_with(&wrapped) || lower.starts_with(&plain) {
            return Some(JdbcUrlError::UppercasePrefix(engine));
        }
    }
    None
}

fn apply_userinfo(settings: &mut Settings, userinfo: &str) -> Result<(), JdbcUrlError> {
    let (user, password) = match userinfo.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (userinfo, None),
    };
    let user = decode(user, false, || "the user name before @".to_owned())?;
    settings.user = (!user.is_empty()).then_some(user);
    if let Some(password) = password {
        let password = decode(password, false, || "the password before @".to_owned())?;
        settings.password = (!password.is_empty()).then(|| password.into());
    }
    Ok(())
}

fn parse_hosts(list: &str, engine: Engine) -> Result<Vec<HostPort>, JdbcUrlError> {
    if list.is_empty() {
        return Err(JdbcUrlError::MissingHost(engine));
    }
    list.split(',')
        .enumerate()
        .map(|(i, entry)| parse_host(entry, i + 1, engine))
        .collect()
}

fn parse_host(entry: &str, index: usize, engine: Engine) -> Result<HostPort, JdbcUrlError> {
    let invalid = |reason| JdbcUrlError::InvalidHost { index, reason };
    let (host, port) = if let Some(bracketed) = entry.strip_prefix('[') {
        let (addr, after) = bracketed
            .split_once(']')
            .ok_or(invalid("has a '[' without a closing ']'"))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(invalid("is not a valid IPv6 address inside [ ]"));
        }
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(invalid("has text after ']' that is not :PORT"))?,
            ),
        };
        (addr, port)
    } else {
        match entry.split_once(':') {
            Some((_, port)) if port.contains(':') => {
                return Err(invalid(
                    "has several ':' (write an IPv6 address in brackets: [2001:db8::1]:5432)",
                ));
            }
            Some((host, port)) => (host, Some(port)),
            None => (entry, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("is empty"));
    }
    if !entry.starts_with('[') && !is_valid_host_name(host) {
        return Err(invalid(
            "contains a character not allowed in a host name (use letters, digits, '-', '.', '_')",
        ));
    }
    let port = match port {
        None => engine.default_port(),
        Some(p) => settings::parse_port(p).ok_or(JdbcUrlError::InvalidPort { index })?,
    };
    Ok(HostPort {
        host: host.to_owned(),
        port,
    })
}

/// Letters, digits, `-`, `.` and `_` (ASCII); not empty.
pub(crate) fn is_valid_host_name(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// The first path segment, percent-decoded (`+` stays a plus); none when empty.
fn parse_database(path: &str) -> Result<Option<String>, JdbcUrlError> {
    let path = path.strip_prefix('/').unwrap_or(path);
    let segment = path.split('/').next().unwrap_or("");
    let db = decode(segment, false, || "the database name".to_owned())?;
    Ok((!db.is_empty()).then_some(db))
}

/// `&`-separated `key[=value]` pairs, decoded like the AWS JDBC wrapper (`+` is a space), with
/// the last value of a repeated key winning (at the key's first position).
fn parse_query(query: &str) -> Result<Vec<(String, String)>, JdbcUrlError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(raw_key, true, || "a query parameter name".to_owned())?;
        if key.is_empty() {
            return Err(JdbcUrlError::EmptyKey);
        }
        let value = decode(raw_value, true, || format!("the value of `{key}`"))?;
        match params.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => params.push((key, value)),
        }
    }
    Ok(params)
}

fn decode(
    raw: &str,
    plus_is_space: bool,
    part: impl FnOnce() -> String,
) -> Result<String, JdbcUrlError> {
    percent::decode(raw, plus_is_space).map_err(|e| match e {
        DecodeError::Malformed => JdbcUrlError::MalformedEscape { part: part() },
        DecodeError::NotUtf8 => JdbcUrlError::InvalidUtf8 { part: part() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_ports_and_ipv6() {
        let hosts = parse_hosts("a:1,[::1]:5433,[2001:db8::1],b", Engine::Mysql).unwrap();
        let got: Vec<(&str, u16)> = hosts.iter().map(|h| (h.host.as_str(), h.port)).collect();
        assert_eq!(
            got,
            [("a", 1), ("::1", 5433), ("2001:db8::1", 3306), ("b", 3306)]
        );
    }

    #[test]
    fn bad_hosts() {
        for (list, want) in [
            (
                "a,,b",
                JdbcUrlError::InvalidHost {
                    index: 2,
                    reason: "is empty",
                },
            ),
            ("a:0", JdbcUrlError::InvalidPort { index: 1 }),
            ("a:", JdbcUrlError::InvalidPort { index: 1 }),
            ("a:x", JdbcUrlError::InvalidPort { index: 1 }),
        ] {
            assert_eq!(
                parse_hosts(list, Engine::Postgresql).unwrap_err(),
                want,
                "{list}"
            );
        }
        assert!(matches!(
            parse_hosts("::1", Engine::Postgresql),
            Err(JdbcUrlError::InvalidHost { index: 1, .. })
        ));
        assert!(matches!(
            parse_hosts("[::1", Engine::Postgresql),
            Err(JdbcUrlError::InvalidHost { index: 1, .. })
        ));
    }

    #[test]
    fn query_last_wins_at_first_position() {
        let p = parse_query("a=1&b&c=&a=2&&d=x+y%2B").unwrap();
        let want = [("a", "2"), ("b", ""), ("c", ""), ("d", "x y+")];
        let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_escape_names_the_key_not_the_value() {
        let err = parse_query("password=100%").unwrap_err();
        assert_eq!(
            err,
            JdbcUrlError::MalformedEscape {
                part: "the value of `password`".into()
            }
        );
        assert!(!err.to_string().contains("100"));
    }
}
