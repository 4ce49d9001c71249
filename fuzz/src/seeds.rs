//! Seed inputs for every target, made at run time from the data files under `../tests/data`
//! (JDBC URL cases, RDS host names, botocore's token vectors), so no generated corpus is
//! committed. `cargo run --example seeds -- DIR` writes them as `DIR/<target>/seed-<n>`.

use bytes::BytesMut;
use mysql_common::constants::CapabilityFlags;
use mysql_common::packets::{AuthPlugin, HandshakeResponse, SslRequest};
use mysql_common::proto::MySerialize;
use postgres_protocol::message::frontend;
use serde_json::Value;

use crate::sign_verify::Request;

/// A fuzz target: its name in `fuzz_targets/`, its check and its seeds.
pub struct Target {
    /// The name of the target (`cargo fuzz run NAME`).
    pub name: &'static str,
    /// The target's body (what `fuzz_targets/NAME.rs` runs).
    pub check: fn(&[u8]),
    /// The seed inputs.
    pub seeds: fn() -> Vec<Vec<u8>>,
}

/// Every target.
pub const TARGETS: [Target; 5] = [
    Target {
        name: "jdbc_url",
        check: |data| {
            crate::jdbc_url::check(data);
        },
        seeds: jdbc_url,
    },
    Target {
        name: "endpoint",
        check: |data| {
            crate::endpoint::check(data);
        },
        seeds: endpoint,
    },
    Target {
        name: "sign_verify",
        check: |data| {
            crate::sign_verify::check(data);
        },
        seeds: sign_verify,
    },
    Target {
        name: "pg_wire",
        check: |data| {
            crate::pg_wire::check(data);
        },
        seeds: pg_wire,
    },
    Target {
        name: "mysql_wire",
        check: |data| {
            crate::mysql_wire::check(data);
        },
        seeds: mysql_wire,
    },
];

const JDBC_URLS: &str = include_str!("../../tests/data/jdbc_urls.json");
const RDS_HOSTS: &str = include_str!("../../tests/data/rds_hosts.json");
const RDS_TOKENS: &str = include_str!("../../tests/data/token_vectors/rds_tokens.json");

/// The URL of every case in `jdbc_urls.json`, valid or not.
pub fn jdbc_url() -> Vec<Vec<u8>> {
    cases(JDBC_URLS)
        .iter()
        .map(|case| text(case, "url").into())
        .collect()
}

/// The host names of `rds_hosts.json` and of the token vectors.
pub fn endpoint() -> Vec<Vec<u8>> {
    let hosts = cases(RDS_HOSTS)
        .into_iter()
        .map(|case| text(&case, "host").to_owned());
    hosts
        .chain(token_vectors().into_iter().map(|v| v.host))
        .map(String::into_bytes)
        .collect()
}

/// Each token vector as a signing request, and its token as a password.
pub fn sign_verify() -> Vec<Vec<u8>> {
    token_vectors()
        .iter()
        .flat_map(|v| [v.request().encode(), v.token.clone().into_bytes()])
        .collect()
}

/// For each token vector, a client logging in over TLS with its user and token; then a few
/// other clients: without TLS, after a `GSSENCRequest`, a cancel request, and length fields
/// claiming gigabytes.
pub fn pg_wire() -> Vec<Vec<u8>> {
    let startup = |tls: bool, user: &str| {
        let mut buf = BytesMut::new();
        if tls {
            frontend::ssl_request(&mut buf);
        }
        frontend::startup_message([("user", user), ("database", "postgres")], &mut buf)
            .expect("a user name without NUL");
        buf
    };
    let login = |tls: bool, user: &str, password: &str| {
        let mut buf = startup(tls, user);
        frontend::password_message(password.as_bytes(), &mut buf).expect("a short password");
        buf.to_vec()
    };
    let mut seeds: Vec<Vec<u8>> = token_vectors()
        .iter()
        .map(|v| login(true, &v.user, &v.token))
        .collect();
    seeds.push(login(false, "iam_user", "a-password"));
    let gss_request = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30];
    seeds.push([&gss_request[..], &login(true, "iam_user", "a-token")].concat());
    let mut cancel = BytesMut::new();
    frontend::cancel_request(42, 7, &mut cancel);
    seeds.push(cancel.to_vec());
    // An initial packet, then a password message, each claiming about 2 GiB.
    seeds.push(vec![0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
    let mut huge_password = startup(true, "iam_user");
    huge_password.extend_from_slice(&[b'p', 0x7f, 0xff, 0xff, 0xff, b'x']);
    seeds.push(huge_password.to_vec());
    seeds
}

/// For each token vector, a client logging in over TLS with its user, answering the switch
/// to `mysql_clear_password` with its token (sequence ids as after the server's greeting);
/// then a client that sends the token in its handshake response, one without TLS, and a
/// packet header claiming 16 MiB.
pub fn mysql_wire() -> Vec<Vec<u8>> {
    let caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    let response = |user: &str, plugin: AuthPlugin<'_>, auth: &[u8], caps| {
        let mut payload = Vec::new();
        HandshakeResponse::new(
            Some(auth),
            (8, 0, 0),
            Some(user.as_bytes()),
            Some(&b"app"[..]),
            Some(plugin),
            caps,
            None,
            16 << 20,
        )
        .serialize(&mut payload);
        payload
    };
    let mut ssl_request = Vec::new();
    SslRequest::new(caps | CapabilityFlags::CLIENT_SSL, 16 << 20, 45).serialize(&mut ssl_request);

    let mut seeds: Vec<Vec<u8>> = token_vectors()
        .iter()
        .map(|v| {
            let native = response(&v.user, AuthPlugin::MysqlNativePassword, &[0; 20], caps);
            let token = [v.token.as_bytes(), &[0]].concat();
            [
                packet(1, &ssl_request),
                packet(2, &native),
                packet(4, &token),
            ]
            .concat()
        })
        .collect();
    let cleartext = response(
        "iam_user",
        AuthPlugin::MysqlClearPassword,
        b"a-token\0",
        caps,
    );
    seeds.push([packet(1, &ssl_request), packet(2, &cleartext)].concat());
    seeds.push([packet(1, &cleartext), packet(3, b"a-token\0")].concat());
    seeds.push(vec![0xff, 0xff, 0xff, 1, 0]);
    seeds
}

/// A MySQL packet: 3-byte little-endian payload length, sequence id, payload.
fn packet(sequence_id: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len())
        .expect("a small payload")
        .to_le_bytes();
    [&len[..3], &[sequence_id], payload].concat()
}

/// One case of `token_vectors/rds_tokens.json`: what botocore signed, and its token.
#[derive(Debug, Clone)]
pub struct TokenVector {
    /// The host signed for.
    pub host: String,
    /// The port signed for.
    pub port: u16,
    /// The database user.
    pub user: String,
    /// The signing region.
    pub region: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token, if any.
    pub session_token: Option<String>,
    /// The signing time, seconds since 1970.
    pub secs: u64,
    /// The nanoseconds of the signing time.
    pub nanos: u32,
    /// The token botocore made.
    pub token: String,
}

impl TokenVector {
    /// The signing request of this vector.
    pub fn request(&self) -> Request<'_> {
        Request {
            host: &self.host,
            port: self.port,
            user: &self.user,
            region: &self.region,
            access_key_id: &self.access_key_id,
            secret_access_key: &self.secret_access_key,
            session_token: self.session_token.as_deref(),
            secs: self.secs,
            nanos: self.nanos,
        }
    }
}

/// Every case of `token_vectors/rds_tokens.json`.
pub fn token_vectors() -> Vec<TokenVector> {
    let number = |case: &Value, name: &str| {
        case[name]
            .as_u64()
            .unwrap_or_else(|| panic!("a token vector without the number `{name}`"))
    };
    cases(RDS_TOKENS)
        .iter()
        .map(|case| TokenVector {
            host: text(case, "host").to_owned(),
            port: u16::try_from(number(case, "port")).expect("a port"),
            user: text(case, "user").to_owned(),
            region: text(case, "region").to_owned(),
            access_key_id: text(case, "access_key_id").to_owned(),
            secret_access_key: text(case, "secret_access_key").to_owned(),
            session_token: case["session_token"].as_str().map(str::to_owned),
            secs: number(case, "at_unix"),
            nanos: u32::try_from(number(case, "at_nanos")).expect("nanoseconds"),
            token: text(case, "token").to_owned(),
        })
        .collect()
}

fn cases(file: &str) -> Vec<Value> {
    let mut file: Value = serde_json::from_str(file).expect("the data files are valid JSON");
    match file["cases"].take() {
        Value::Array(cases) => cases,
        _ => panic!("a data file without a `cases` array"),
    }
}

fn text<'a>(case: &'a Value, name: &str) -> &'a str {
    case[name]
        .as_str()
        .unwrap_or_else(|| panic!("a case without the text `{name}`"))
}
