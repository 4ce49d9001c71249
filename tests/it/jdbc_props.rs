//! Property tests of the JDBC URL parser: it never panics, whatever the input, and every URL it
//! accepts formats back to a URL that parses to an equal value.

use std::net::{Ipv4Addr, Ipv6Addr};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;
use rds_iam::endpoint::classify;
use rds_iam::jdbc::JdbcUrl;
use rds_iam::plan::{ConnectPlan, PlanOverrides};
use rds_iam::tls_mode::EffectiveTls;

use super::jdbc_urls::valid_urls;

/// Whatever happened, an accepted URL must round-trip, and the rest of the pipeline must not
/// panic on it either.
fn check_accepted(input: &str) -> Result<(), TestCaseError> {
    if let Ok(url) = JdbcUrl::parse(input) {
        let full = url.to_url_exposing_secrets();
        let again = JdbcUrl::parse(&full);
        prop_assert_eq!(
            again.as_ref(),
            Ok(&url),
            "input {:?} formatted as {:?}",
            input,
            full
        );
        let _ = EffectiveTls::resolve(&url);
        let _ = ConnectPlan::resolve(&url, &PlanOverrides::new());
        for h in url.hosts() {
            let _ = classify(&h.host);
        }
    }
    Ok(())
}

fn prefix() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "jdbc:aws-wrapper:postgresql://",
        "jdbc:aws-wrapper:mysql://",
        "jdbc:aws-wrapper:mariadb://",
        "jdbc:postgresql://",
        "jdbc:mysql://",
        "jdbc:mariadb://",
        "jdbc:aws-wrapper:",
        "jdbc:",
        "",
    ])
}

/// Characters that matter to the grammar, plus some that should not.
const INTERESTING: &str = ":/?&=%+@[],.#_- \u{e9}\u{0}0123456789abcdefABCDEF";

fn mutation() -> impl Strategy<Value = (usize, u8, char)> {
    (
        any::<usize>(),
        0u8..3,
        prop_oneof![
            prop::sample::select(INTERESTING.chars().collect::<Vec<_>>()),
            any::<char>(),
        ],
    )
}

fn mutate(seed: &str, mutations: &[(usize, u8, char)]) -> String {
    let mut chars: Vec<char> = seed.chars().collect();
    for &(at, op, c) in mutations {
        let len = chars.len();
        match op {
            0 => chars.insert(at % (len + 1), c),
            1 if len > 0 => {
                chars.remove(at % len);
            }
            _ if len > 0 => chars[at % len] = c,
            _ => chars.push(c),
        }
    }
    chars.into_iter().collect()
}

/// A generated URL and what parsing it must give.
#[derive(Debug, Clone)]
struct Model {
    url: String,
    hosts: Vec<(String, u16)>,
    database: Option<String>,
    user: Option<String>,
    password: Option<String>,
    extra: Vec<(String, String)>,
}

fn enc(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

fn host() -> impl Strategy<Value = (String, String)> {
    // (as written in the URL, as parsed)
    prop_oneof![
        "[a-z][a-z0-9-]{0,12}(\\.[a-z0-9_-]{1,10}){0,4}".prop_map(|h| (h.clone(), h)),
        any::<Ipv4Addr>().prop_map(|a| (a.to_string(), a.to_string())),
        any::<Ipv6Addr>().prop_map(|a| (format!("[{a}]"), a.to_string())),
    ]
}

/// A typed parameter with a valid value, for the engine (`true` = PostgreSQL).
fn typed_param(postgres: bool) -> BoxedStrategy<(String, String)> {
    let any_engine = prop_oneof![
        "(iam|failover2|efm2|readWriteSplitting)(,(iam|failover2|efm2)){0,3}"
            .prop_map(|v| ("wrapperPlugins".to_owned(), v)),
        "[a-z][a-z0-9-]{0,20}\\.[a-z]{2,6}".prop_map(|v| ("iamHost".to_owned(), v)),
        (1u16..).prop_map(|p| ("iamDefaultPort".to_owned(), p.to_string())),
        "[a-z]{2,4}-[a-z]{3,9}-[1-9]".prop_map(|v| ("iamRegion".to_owned(), v)),
        (0u64..=900).prop_map(|s| ("iamExpiration".to_owned(), s.to_string())),
        (0u64..100_000).prop_map(|s| ("connectTimeout".to_owned(), s.to_string())),
    ];
    if postgres {
        prop_oneof![
            any_engine,
            prop::sample::select(vec![
                "disable",
                "allow",
                "prefer",
                "require",
                "verify-ca",
                "verify-full"
            ])
            .prop_map(|v| ("sslmode".to_owned(), v.to_owned())),
            prop::sample::select(vec!["true", "false", "", "TRUE"])
                .prop_map(|v| ("ssl".to_owned(), v.to_owned())),
            "/[a-z/ .]{1,30}\\.pem".prop_map(|v| ("sslrootcert".to_owned(), v)),
        ]
        .boxed()
    } else {
        prop_oneof![
            any_engine,
            prop::sample::select(vec![
                "DISABLED",
                "PREFERRED",
                "REQUIRED",
                "VERIFY_CA",
                "VERIFY_IDENTITY",
                "trust",
                "verify-full"
            ])
            .prop_map(|v| ("sslMode".to_owned(), v.to_owned())),
            "/[a-z/ .]{1,30}\\.pem".prop_map(|v| ("sslCa".to_owned(), v)),
            "/[a-z/ .]{1,30}\\.pem".prop_map(|v| ("serverSslCert".to_owned(), v)),
        ]
        .boxed()
    }
}

fn model() -> impl Strategy<Value = Model> {
    (
        any::<bool>(),
        prop::sample::select(vec!["postgresql", "mysql", "mariadb"]),
    )
        .prop_flat_map(|(wrapper, engine)| {
            let postgres = engine == "postgresql";
            (
                Just(wrapper),
                Just(engine),
                prop::collection::vec((host(), prop::option::of(1u16..)), 1..4),
                prop::option::of((any::<String>(), prop::option::of(any::<String>()))),
                prop::option::of(any::<String>()),
                prop::collection::vec(
                    prop_oneof![
                        typed_param(postgres).prop_map(|p| (true, p)),
                        ("x[A-Za-z0-9_.~-]{0,12}", any::<String>()).prop_map(|p| (false, p)),
                    ],
                    0..8,
                ),
            )
        })
        .prop_map(|(wrapper, engine, hosts, userinfo, database, params)| {
            let default_port = if engine == "postgresql" { 5432 } else { 3306 };
            let mut url = format!(
                "jdbc:{}{engine}://",
                if wrapper { "aws-wrapper:" } else { "" }
            );
            let (mut user, mut password) = (None, None);
            if let Some((u, p)) = &userinfo {
                url.push_str(&enc(u));
                if let Some(p) = p {
                    url.push(':');
                    url.push_str(&enc(p));
                    password = Some(p.clone()).filter(|p| !p.is_empty());
                }
                url.push('@');
                user = Some(u.clone()).filter(|u| !u.is_empty());
            }
            let written: Vec<String> = hosts
                .iter()
                .map(|((w, _), port)| match port {
                    Some(p) => format!("{w}:{p}"),
                    None => w.clone(),
                })
                .collect();
            url.push_str(&written.join(","));
            if let Some(db) = &database {
                url.push('/');
                url.push_str(&enc(db));
            }
            let mut extra: Vec<(String, String)> = Vec::new();
            for (i, (typed, (k, v))) in params.iter().enumerate() {
                url.push(if i == 0 { '?' } else { '&' });
                url.push_str(&enc(k));
                url.push('=');
                url.push_str(&enc(v));
                if !typed {
                    match extra.iter_mut().find(|(ek, _)| ek == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => extra.push((k.clone(), v.clone())),
                    }
                }
            }
            Model {
                url,
                hosts: hosts
                    .into_iter()
                    .map(|((_, h), p)| (h, p.unwrap_or(default_port)))
                    .collect(),
                database: database.filter(|d| !d.is_empty()),
                user,
                password,
                extra,
            }
        })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_strings(s in any::<String>()) {
        check_accepted(&s)?;
        let _ = classify(&s);
    }

    #[test]
    fn never_panics_on_url_shaped_strings(
        p in prefix(),
        rest in "[a-zA-Z0-9:/?&=%+@\\[\\],.#_ \u{e9}-]{0,60}",
    ) {
        check_accepted(&format!("{p}{rest}"))?;
    }

    #[test]
    fn never_panics_on_mutated_valid_urls(
        seed in prop::sample::select(valid_urls()),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        check_accepted(&mutate(&seed, &mutations))?;
    }

    #[test]
    fn generated_urls_parse_to_their_model_and_round_trip(m in model()) {
        let url = JdbcUrl::parse(&m.url);
        prop_assert!(url.is_ok(), "{} -> {:?}", m.url, url);
        let url = url.unwrap();
        let hosts: Vec<(String, u16)> =
            url.hosts().iter().map(|h| (h.host.clone(), h.port)).collect();
        prop_assert_eq!(hosts, m.hosts);
        prop_assert_eq!(url.database(), m.database.as_deref());
        prop_assert_eq!(url.user(), m.user.as_deref());
        prop_assert_eq!(url.password().map(|p| p.expose()), m.password.as_deref());
        prop_assert_eq!(url.extra_params(), &m.extra[..]);
        check_accepted(&m.url)?;
    }
}
