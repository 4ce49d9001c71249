//! What the connector and emulator tests share: one emulated endpoint's signing identity, a fixed signing
//! instant, a token provider on a manual clock, and CA bundles with many certificates.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use rds_iam::clock::ManualClock;
use rds_iam::credentials::CredentialsConfig;
use rds_iam::provider::TokenProvider;
use rds_iam::token::{RdsTokenParams, sign_rds_token};

use super::ca::TestCa;

/// The RDS name the tests sign for and verify.
pub const ENDPOINT_HOST: &str = "mydb.cluster-abc123.us-east-1.rds.amazonaws.com";
/// The region the tests sign in.
pub const REGION: &str = "us-east-1";
/// The access key the emulators are configured with.
pub const ACCESS_KEY_ID: &str = "AKIDCONNECTORTEST";
/// Its secret.
pub const SECRET_ACCESS_KEY: &str = "connector/test/secret/access/key";
/// 2025-01-01T00:00:00Z.
pub const T0: u64 = 1_735_689_600;

/// [`T0`] as a time.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

/// The static credentials every connector test signs with.
pub fn credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY_ID,
        SECRET_ACCESS_KEY,
        None,
        None,
        "connector-test",
    )
}

/// A token provider over [`credentials`] driven by `clock`.
pub async fn provider(clock: &ManualClock) -> TokenProvider {
    provider_with(clock, credentials()).await
}

/// [`credentials`] with a wrong secret access key (the emulator answers `BadSignature`).
pub fn wrong_secret_credentials() -> Credentials {
    Credentials::new(
        ACCESS_KEY_ID,
        "not/the/secret",
        None,
        None,
        "connector-test",
    )
}

/// A token provider over `credentials` driven by `clock`.
pub async fn provider_with(clock: &ManualClock, credentials: Credentials) -> TokenProvider {
    provider_over(clock, CredentialsConfig::static_credentials(credentials)).await
}

/// A token provider over the credentials of `config`, both driven by `clock`.
pub async fn provider_over(clock: &ManualClock, config: CredentialsConfig) -> TokenProvider {
    let credentials = config.clock(clock.clone()).build().await.unwrap();
    TokenProvider::builder(credentials)
        .clock(clock.clone())
        .build()
}

/// The token the connector will present for these parameters at [`T0`].
pub fn token_at_t0(host: &str, port: u16, user: &str) -> String {
    sign_rds_token(
        &RdsTokenParams::new(host, port, user, REGION),
        &credentials(),
        t0(),
    )
    .unwrap()
    .into_exposed()
}

/// What a token is signed for (the emulator tests tamper with one field at a time).
#[derive(Clone)]
pub struct Claim {
    /// The signed host.
    pub host: String,
    /// The signed port.
    pub port: u16,
    /// `DBUser`.
    pub user: String,
    /// The signing region.
    pub region: String,
    /// The signing credentials.
    pub credentials: Credentials,
    /// The signing instant.
    pub at: SystemTime,
}

impl Claim {
    /// A valid claim for `user` at [`ENDPOINT_HOST`]`:port` at [`T0`].
    pub fn for_endpoint(port: u16, user: &str) -> Self {
        Self {
            host: ENDPOINT_HOST.to_owned(),
            port,
            user: user.to_owned(),
            region: REGION.to_owned(),
            credentials: credentials(),
            at: t0(),
        }
    }

    /// Its token, from the crate's own signer.
    pub fn token(&self) -> String {
        let params = RdsTokenParams::new(&self.host, self.port, &self.user, &self.region);
        sign_rds_token(&params, &self.credentials, self.at)
            .expect("sign a token")
            .into_exposed()
    }
}

/// `n` unrelated self-signed CA certificates as PEM.
pub fn unrelated_cas(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, format!("unrelated CA {i}"));
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params
                .self_signed(&rcgen::KeyPair::generate().unwrap())
                .unwrap()
                .pem()
        })
        .collect()
}

/// A bundle file: 60 unrelated CAs, `ca`, 60 more.
pub fn bundle_with(dir: &Path, ca: &TestCa) -> PathBuf {
    let path = dir.join("bundle.pem");
    fs::write(
        &path,
        format!("{}{}{}", unrelated_cas(60), ca.ca_pem(), unrelated_cas(60)),
    )
    .unwrap();
    path
}
