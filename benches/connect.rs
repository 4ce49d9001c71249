//! Time to a ready PostgreSQL connection: the rds-iam connector (cached token, TLS connector
//! built once) against plain tokio-postgres with a static password over the same TLS, to the
//! same throw-away local server, in one run.
//!
//! The server is the tests' shared one (`tests/it/support`): TLS with a certificate from a
//! run-time test CA, and `password` authentication for the role (the server asks for a
//! cleartext password, as RDS does). The role's password is the token the connector presents
//! (tokens are deterministic for a fixed clock and credentials), so both sides do the same
//! work on the server.
//!
//! ```sh
//! cargo bench --bench connect
//! ```

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use postgres_native_tls::MakeTlsConnector;
use rds_iam::clock::ManualClock;
use rds_iam::postgres::PgConnector;
use rds_iam::tls::CaSource;
use tokio::runtime::Runtime;
use tokio_postgres::config::SslMode;

#[path = "../tests/it/support/mod.rs"]
mod support;

use support::iam::{self, REGION};
use support::postgres::{self, RoleAuth};

const USER: &str = "bench_iam_user";
const HOST: &str = "localhost";

fn connect(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let pg = postgres::shared();
    // The tests' credentials and signing instant: the role's password is the token the
    // provider hands out.
    let clock = ManualClock::new(iam::t0());
    let token = iam::token_at_t0(HOST, pg.port(), USER);
    let ca_pem = postgres::shared_ca().ca_pem();

    let (connector, plain, plain_tls) = runtime.block_on(async {
        pg.create_role(USER, RoleAuth::Password(&token)).await;
        let provider = iam::provider(&clock).await;
        let connector = PgConnector::builder(HOST, pg.port())
            .user(USER)
            .region(REGION)
            .database("postgres")
            .ca(CaSource::pem(ca_pem.clone()))
            .system_roots(false)
            .token_provider(provider)
            .build()
            .await
            .unwrap();

        // Plain tokio-postgres: the same TLS checks (verify-full, same CA), a static password.
        let mut plain = tokio_postgres::Config::new();
        plain
            .host(HOST)
            .port(pg.port())
            .user(USER)
            .password(&token)
            .dbname("postgres")
            .ssl_mode(SslMode::Require);
        let tls = MakeTlsConnector::new(
            native_tls::TlsConnector::builder()
                .add_root_certificate(native_tls::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
                .disable_built_in_roots(true)
                .min_protocol_version(Some(native_tls::Protocol::Tlsv12))
                .build()
                .unwrap(),
        );
        (connector, plain, tls)
    });

    // One connection of each kind, ready for a query, then closed.
    let rds_iam = || async {
        let (client, connection) = connector.connect().await.unwrap();
        let connection = tokio::spawn(connection);
        drop(client);
        connection.await.unwrap().unwrap();
    };
    let tokio_postgres = || async {
        let (client, connection) = plain.connect(plain_tls.clone()).await.unwrap();
        let connection = tokio::spawn(connection);
        drop(client);
        connection.await.unwrap().unwrap();
    };

    // Each measurement interleaves the other kind (untimed), so both see the same server
    // state and the same background load pattern.
    let mut group = c.benchmark_group("connect_postgres_tls");
    group
        .sample_size(60)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("tokio_postgres_static_password", |b| {
        b.to_async(&runtime).iter_custom(|iters| async move {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                rds_iam().await;
                let start = Instant::now();
                tokio_postgres().await;
                timed += start.elapsed();
            }
            timed
        })
    });
    group.bench_function("rds_iam_cached_token", |b| {
        b.to_async(&runtime).iter_custom(|iters| async move {
            let mut timed = Duration::ZERO;
            for _ in 0..iters {
                tokio_postgres().await;
                let start = Instant::now();
                rds_iam().await;
                timed += start.elapsed();
            }
            timed
        })
    });
    group.finish();

    // The same comparison as matched pairs (robust against load that drifts during the run on
    // a shared machine): each pair connects both ways back to back, in alternating order.
    let pairs = 200;
    let (mut ours, mut theirs) = (Vec::with_capacity(pairs), Vec::with_capacity(pairs));
    runtime.block_on(async {
        for i in 0..pairs {
            if i % 2 == 0 {
                let start = Instant::now();
                rds_iam().await;
                ours.push(start.elapsed());
                let start = Instant::now();
                tokio_postgres().await;
                theirs.push(start.elapsed());
            } else {
                let start = Instant::now();
                tokio_postgres().await;
                theirs.push(start.elapsed());
                let start = Instant::now();
                rds_iam().await;
                ours.push(start.elapsed());
            }
        }
    });
    let median = |list: &mut Vec<Duration>| {
        list.sort();
        list[list.len() / 2]
    };
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    println!(
        "connect_postgres_tls paired medians over {pairs} pairs: rds_iam_cached_token {:.3} ms, \
         tokio_postgres_static_password {:.3} ms, ratio {:.3}",
        ours.as_secs_f64() * 1e3,
        theirs.as_secs_f64() * 1e3,
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}

criterion_group!(benches, connect);
criterion_main!(benches);
