//! Cost of a token from the provider: a cache hit (one thread, a full cache,
//! two threads on one key) and a token for a new connection in steady state
//! against signing every time.
//!
//! `cargo bench --bench provider -- --warm-up-time 1 --measurement-time 3`
//!
//! `hit_threads/N` runs N threads, each asking for the same key in a loop,
//! and reports the wall time per call *per thread*: what two threads pay for
//! sharing the table's read lock and the key's entry (the hit counter and
//! the token's reference count are shared too). On a shared machine the two
//! threads may not get two cores; `hit_threads/2_distinct_keys` (the same
//! table, two keys) tells the key's share of it from the table's.
//!
//! `floor/*` measures parts a hit is made of: reading the system clock, an
//! uncontended read lock, hashing the key (the caller's parameters) with the
//! table's hasher, and an `Arc` clone and drop (the token handed out).

use std::hash::BuildHasher as _;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use criterion::{Criterion, criterion_group, criterion_main};
use rds_iam::credentials::CredentialsConfig;
use rds_iam::provider::TokenProvider;
use rds_iam::token::{RdsTokenParams, sign_rds_token};

/// A session token of the size STS hands out for an assumed role (about 1 KB).
fn session_token() -> String {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut token = String::from("IQoJb3JpZ2luX2Vj");
    token.extend(alphabet.chars().cycle().take(1_000));
    token.push_str("==");
    token
}

/// Temporary credentials as ECS or STS hand them out.
fn credentials() -> Credentials {
    Credentials::new(
        "ASIAQEXAMPLE7TEMPKEY",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        Some(session_token()),
        Some(SystemTime::now() + Duration::from_secs(6 * 3600)),
        "bench",
    )
}

fn params(n: usize) -> RdsTokenParams {
    RdsTokenParams::new(
        format!("mydb{n}.cluster-c1a2b3c4d5e6.us-east-1.rds.amazonaws.com"),
        5432,
        "harness_iam_user",
        "us-east-1",
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A provider on the system clock with `keys` keys warm.
fn provider(rt: &tokio::runtime::Runtime, keys: usize) -> TokenProvider {
    rt.block_on(async {
        let credentials = CredentialsConfig::static_credentials(credentials())
            .build()
            .await
            .unwrap();
        let provider = TokenProvider::builder(credentials)
            .capacity(keys.max(1) * 2)
            .build();
        for n in 0..keys {
            provider.token(&params(n)).await.unwrap();
        }
        provider
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keys {
    Same,
    Distinct,
}

/// `threads` threads, each calling `token` `iters` times for key 0 (or key
/// `i` for thread `i`); the time the slowest thread took.
fn hammer(provider: &TokenProvider, threads: usize, iters: u64, keys: Keys) -> Duration {
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let provider = provider.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let rt = runtime();
                let key = params(if keys == Keys::Same { 0 } else { i });
                rt.block_on(async {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(provider.token(black_box(&key)).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn bench_provider(c: &mut Criterion) {
    let rt = runtime();

    let mut group = c.benchmark_group("floor");
    group.bench_function("system_time_now", |b| {
        b.iter(|| black_box(SystemTime::now()))
    });
    let lock = std::sync::RwLock::new(0u64);
    group.bench_function("rwlock_read", |b| {
        b.iter(|| black_box(*black_box(&lock).read().unwrap()))
    });
    let (hasher, key) = (foldhash::fast::RandomState::default(), params(0));
    group.bench_function("hash_params", |b| {
        b.iter(|| black_box(black_box(&hasher).hash_one(black_box(&key))))
    });
    let shared = Arc::new(0u64);
    group.bench_function("arc_clone_drop", |b| {
        b.iter(|| black_box(Arc::clone(black_box(&shared))));
    });
    group.finish();

    let mut group = c.benchmark_group("provider");
    let one = provider(&rt, 1);
    let key = params(0);
    group.bench_function("cache_hit", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(one.token(black_box(&key)).await.unwrap()) });
    });
    let full = provider(&rt, 1000);
    let key_500 = params(500);
    group.bench_function("cache_hit_1000_keys", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(full.token(black_box(&key_500)).await.unwrap()) });
    });
    group.finish();

    let two = provider(&rt, 2);
    let mut group = c.benchmark_group("hit_threads");
    for (name, threads, keys) in [
        ("1", 1, Keys::Same),
        ("2", 2, Keys::Same),
        ("2_distinct_keys", 2, Keys::Distinct),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| hammer(&two, threads, iters, keys));
        });
    }
    group.finish();

    // A token for a new connection, in steady state: what a connector does
    // per connection, with a warm provider versus signing every time.
    let mut group = c.benchmark_group("new_connection_token");
    let creds = credentials();
    group.bench_function("provider", |b| {
        b.to_async(&rt).iter(|| async {
            let token = one.token(black_box(&key)).await.unwrap();
            black_box(token.expose().len())
        });
    });
    group.bench_function("sign_rds_token_each_time", |b| {
        b.iter(|| {
            let token =
                sign_rds_token(black_box(&key), black_box(&creds), SystemTime::now()).unwrap();
            black_box(token.expose().len())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_provider);
criterion_main!(benches);
