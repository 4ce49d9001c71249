//! New pooled connections per second: each pool integration with IAM against the same pool
//! with a static password, over the same TLS to the same throw-away local PostgreSQL, measured
//! alternately in one run.
//!
//! A "new pooled connection" is one the pool opens: each round takes a connection out of a
//! pool of one and closes it instead of returning it, so the next round opens another.
//!
//! - sqlx: `rds_iam::sqlx::IamPool::acquire` (token from the cache, options installed when
//!   the token changes) against a `sqlx::PgPool` whose connect options hold the password;
//! - deadpool: `rds_iam::deadpool::PgPool` (each new client through `PgConnector`) against a
//!   deadpool pool of tokio-postgres clients made with a fixed `Config` and password.
//!
//! The server, role and password are set up as in `benches/connect.rs`: the role's password is
//! the token the connector presents (tokens are deterministic for a fixed clock and
//! credentials), so both sides do the same work on the server.
//!
//! ```sh
//! cargo bench --bench pools --features deadpool,sqlx
//! ```

use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleResult};
use rds_iam::clock::ManualClock;
use rds_iam::postgres::{MakeTls, PgConnector};
use rds_iam::sqlx::{IamPool, PgIamOptions};
use rds_iam::tls::CaSource;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use tokio::runtime::Runtime;
use tokio_postgres::config::SslMode;

#[path = "../tests/it/support/mod.rs"]
mod support;

use support::iam::{self, REGION};
use support::postgres::{self, RoleAuth};

const USER: &str = "bench_pool_iam_user";
const HOST: &str = "localhost";

/// deadpool with a fixed config: what a pool without IAM does.
struct StaticManager {
    config: tokio_postgres::Config,
    tls: MakeTls,
}

impl managed::Manager for StaticManager {
    type Type = tokio_postgres::Client;
    type Error = tokio_postgres::Error;

    async fn create(&self) -> Result<Self::Type, Self::Error> {
        let (client, connection) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    async fn recycle(&self, _: &mut Self::Type, _: &Metrics) -> RecycleResult<Self::Error> {
        Ok(())
    }
}

fn main() {
    let runtime = Runtime::new().unwrap();
    let pg = postgres::shared();
    // The tests' credentials and signing instant: the role's password is the token the
    // provider hands out.
    let clock = ManualClock::new(iam::t0());
    let token = iam::token_at_t0(HOST, pg.port(), USER);
    let ca_pem = postgres::shared_ca().ca_pem();

    let rounds = std::env::var("POOL_BENCH_ROUNDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    runtime.block_on(async {
        pg.create_role(USER, RoleAuth::Password(&token)).await;
        let tokens = iam::provider(&clock).await;

        // sqlx: verify-full against the test CA (and the system store: sqlx's native-tls glue
        // always trusts it), on both sides.
        let options = PgIamOptions::builder(HOST, pg.port())
            .user(USER)
            .region(REGION)
            .database("postgres")
            .ca(CaSource::pem(ca_pem.clone()))
            .token_provider(tokens.clone())
            .build()
            .await
            .unwrap();
        let one = || PgPoolOptions::new().max_connections(1).min_connections(0);
        let iam_sqlx = IamPool::connect(options, one()).await.unwrap();
        let static_sqlx = one()
            .connect_with(
                PgConnectOptions::new_without_pgpass()
                    .host(HOST)
                    .port(pg.port())
                    .username(USER)
                    .password(&token)
                    .database("postgres")
                    .ssl_mode(PgSslMode::VerifyFull)
                    .ssl_root_cert_from_pem(ca_pem.clone().into_bytes()),
            )
            .await
            .unwrap();

        // deadpool: the connector's TLS connector on both sides (verify-full, the test CA).
        let connector = PgConnector::builder(HOST, pg.port())
            .user(USER)
            .region(REGION)
            .database("postgres")
            .ca(CaSource::pem(ca_pem.clone()))
            .system_roots(false)
            .token_provider(tokens.clone())
            .build()
            .await
            .unwrap();
        let mut config = tokio_postgres::Config::new();
        config
            .host(HOST)
            .port(pg.port())
            .user(USER)
            .password(&token)
            .dbname("postgres")
            .ssl_mode(SslMode::Require);
        let static_manager = StaticManager {
            config,
            tls: connector.tls_connector(),
        };
        let iam_deadpool =
            rds_iam::deadpool::PgPool::builder(rds_iam::deadpool::PgManager::new(connector))
                .max_size(1)
                .build()
                .unwrap();
        let static_deadpool = managed::Pool::builder(static_manager)
            .max_size(1)
            .build()
            .unwrap();

        // One new pooled connection each, ready for a query, then closed.
        let sqlx_iam = || async { iam_sqlx.acquire().await.unwrap().close().await.unwrap() };
        let sqlx_static = || async { static_sqlx.acquire().await.unwrap().close().await.unwrap() };
        let deadpool_iam =
            || async { drop(managed::Object::take(iam_deadpool.get().await.unwrap())) };
        let deadpool_static =
            || async { drop(managed::Object::take(static_deadpool.get().await.unwrap())) };

        // Warm up, then matched pairs in alternating order (robust against load drifting on a
        // shared machine); medians.
        for _ in 0..20 {
            sqlx_iam().await;
            sqlx_static().await;
            deadpool_iam().await;
            deadpool_static().await;
        }
        macro_rules! pairs {
            ($name:literal, $iam:expr, $static:expr) => {{
                let (mut ours, mut theirs) = (Vec::new(), Vec::new());
                for i in 0..rounds {
                    // Alternate which goes first.
                    for iam_turn in [i % 2 == 0, i % 2 == 1] {
                        let start = Instant::now();
                        if iam_turn {
                            $iam().await;
                            ours.push(start.elapsed());
                        } else {
                            $static().await;
                            theirs.push(start.elapsed());
                        }
                    }
                }
                report($name, rounds, &mut ours, &mut theirs);
            }};
        }
        pairs!("sqlx", sqlx_iam, sqlx_static);
        pairs!("deadpool", deadpool_iam, deadpool_static);
        assert_eq!(tokens.stats().minted, 1, "one token for the whole run");
    });
}

/// Print the medians, connections per second and the ratio.
fn report(name: &str, rounds: usize, ours: &mut [Duration], theirs: &mut [Duration]) {
    let median = |list: &mut [Duration]| {
        list.sort();
        list[list.len() / 2]
    };
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "{name}: new pooled connections, paired medians over {rounds} pairs: IAM {:.3} ms \
         ({:.0}/s), static password {:.3} ms ({:.0}/s), IAM/static time ratio {:.3}",
        ours.as_secs_f64() * 1e3,
        1.0 / ours.as_secs_f64(),
        theirs.as_secs_f64() * 1e3,
        1.0 / theirs.as_secs_f64(),
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
