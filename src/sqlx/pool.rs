//! When to refresh: [`IamPool`], a sqlx pool whose connect options carry the current token.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::Duration;

use ::sqlx::pool::{Pool, PoolConnection, PoolOptions};
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

use crate::connect::ConnectError;
use crate::connect::login::{self, Outcome};
use crate::jdbc::Engine;
use crate::tls::probe::Protocol;
use crate::token::AuthToken;

use super::{IamConnectOptions, IamDatabase};

/// How often, at most, the refresher asks the token cache whether the pool's token is still
/// the current one (it also wakes when the token's reuse window ends).
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(30);

/// A sqlx pool whose connect options carry a valid token (see the
/// [module docs](super)). Derefs to the [`sqlx::Pool`](::sqlx::Pool): use `&*pool` as an
/// executor. Cheap to clone; the refresher stops when the pool is closed or the last clone of
/// this type is dropped (a clone of the inner `sqlx::Pool` alone does not keep it running).
pub struct IamPool<DB: IamDatabase> {
    pool: Pool<DB>,
    state: Arc<State<DB>>,
    /// Aborts the refresher when the last clone is dropped.
    refresher: Arc<Refresher>,
}

/// What the pool and its refresher share.
struct State<DB: IamDatabase> {
    source: IamConnectOptions<DB>,
    /// The token in the pool's connect options.
    installed: Mutex<Arc<AuthToken>>,
    /// How many times options with another token were installed.
    refreshes: AtomicU64,
}

/// The refresher task: it stops when `_stop` is dropped (with the last [`IamPool`] clone).
struct Refresher {
    task: AbortHandle,
    _stop: oneshot::Sender<()>,
}

impl<DB: IamDatabase> Clone for IamPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            state: Arc::clone(&self.state),
            refresher: Arc::clone(&self.refresher),
        }
    }
}

impl<DB: IamDatabase> IamPool<DB> {
    /// Open a pool with `options` (its first connection logs in now, so a bad token, TLS or
    /// login setting fails here with our [`ConnectError`]), and start its refresher, which
    /// checks the token at most every [`DEFAULT_CHECK_INTERVAL`]. The URL's
    /// `connectTimeout` replaces `options`' `acquire_timeout`.
    pub async fn connect(
        source: IamConnectOptions<DB>,
        options: PoolOptions<DB>,
    ) -> Result<Self, ConnectError> {
        Self::connect_checking_every(source, options, DEFAULT_CHECK_INTERVAL).await
    }

    /// [`connect`](Self::connect), the refresher checking at most every `interval`
    /// (shorter in tests driving a manual clock).
    pub async fn connect_checking_every(
        source: IamConnectOptions<DB>,
        mut options: PoolOptions<DB>,
        interval: Duration,
    ) -> Result<Self, ConnectError> {
        if let Some(limit) = source.acquire_timeout() {
            options = options.acquire_timeout(limit);
        }
        let (src, target) = (&source, source.target());
        let (pool, token) = login::login(source.token_provider(), target, DB::ENGINE, |token| {
            let (options, connect) = (options.clone(), src.with_token(&token));
            async move {
                let limit = options.get_acquire_timeout();
                match options.connect_with(connect).await {
                    Ok(pool) => Outcome::Connected((pool, token)),
                    Err(e) => outcome(src, e, limit).await,
                }
            }
        })
        .await?;
        let state = Arc::new(State {
            source,
            installed: Mutex::new(token),
            refreshes: AtomicU64::new(0),
        });
        let (stop, dropped) = oneshot::channel();
        let task = tokio::spawn(refresh(pool.clone(), Arc::clone(&state), interval, dropped));
        Ok(Self {
            pool,
            state,
            refresher: Arc::new(Refresher {
                task: task.abort_handle(),
                _stop: stop,
            }),
        })
    }

    /// A connection from the pool, with the current token installed first: a new connection
    /// whose cached token the server rejects gets a fresh one and one retry, and a failed
    /// login is our [`ConnectError`] with its likely causes (`pool.acquire()` through
    /// `Deref` works too, with sqlx's errors and no retry). When every connection stays in
    /// use for the acquire timeout, the error is [`ConnectError::PoolExhausted`].
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, ConnectError> {
        let source = &self.state.source;
        login::login(
            source.token_provider(),
            source.target(),
            DB::ENGINE,
            |token| async move {
                self.state.install(&self.pool, &token);
                match self.pool.acquire().await {
                    Ok(connection) => Outcome::Connected(connection),
                    Err(::sqlx::Error::PoolTimedOut) if self.all_in_use() => {
                        Outcome::Failed(ConnectError::PoolExhausted {
                            server: source.target().to_string(),
                            max: self.pool.options().get_max_connections(),
                            after: self.pool.options().get_acquire_timeout(),
                        })
                    }
                    Err(e) => outcome(source, e, self.pool.options().get_acquire_timeout()).await,
                }
            },
        )
        .await
    }

    /// Whether the pool is at its maximum size with no connection idle: an acquire that timed
    /// out then waited for a connection to come back (its own login, had it started one, has
    /// ended with the timeout and no longer counts).
    fn all_in_use(&self) -> bool {
        self.pool.size() >= self.pool.options().get_max_connections() && self.pool.num_idle() == 0
    }

    /// Install options with the current token now (what the refresher does when a token's
    /// reuse window ends); whether the token changed.
    pub async fn refresh(&self) -> Result<bool, ConnectError> {
        let token = self.state.source.token().await?;
        Ok(self.state.install(&self.pool, &token.shared()))
    }

    /// How many times options with another token were installed.
    pub fn refreshes(&self) -> u64 {
        self.state.refreshes.load(Ordering::Relaxed)
    }

    /// Whether the refresher still runs (it stops when the pool is closed, or when the last
    /// clone of this type is dropped).
    pub fn is_refreshing(&self) -> bool {
        !self.refresher.task.is_finished()
    }

    /// The sqlx pool.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// What the pool connects with.
    pub fn iam_options(&self) -> &IamConnectOptions<DB> {
        &self.state.source
    }
}

impl<DB: IamDatabase> Deref for IamPool<DB> {
    type Target = Pool<DB>;

    fn deref(&self) -> &Pool<DB> {
        &self.pool
    }
}

impl<DB: IamDatabase> fmt::Debug for IamPool<DB> {
    /// Sizes and the target; never the connect options (sqlx's show the password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamPool")
            .field("size", &self.pool.size())
            .field("num_idle", &self.pool.num_idle())
            .field("is_closed", &self.pool.is_closed())
            .field("target", self.state.source.target())
            .field("refreshes", &self.refreshes())
            .field("refreshing", &self.is_refreshing())
            .finish()
    }
}

impl<DB: IamDatabase> State<DB> {
    /// Give `pool` options with `token`, unless it has them or a newer token already;
    /// whether it got them.
    fn install(&self, pool: &Pool<DB>, token: &Arc<AuthToken>) -> bool {
        let mut installed = self
            .installed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if Arc::ptr_eq(&installed, token) || token.signed_at() < installed.signed_at() {
            return false;
        }
        pool.set_connect_options(self.source.with_token(token));
        *installed = Arc::clone(token);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(target: "rds_iam::sqlx", server = %self.source.target(), "pool connect options refreshed with a new token");
        true
    }
}

/// Keep `pool`'s options current until it closes or `dropped` fires: ask the cache for the
/// token when the installed one's reuse window ends (and at least every `interval`), install
/// it if it is another.
async fn refresh<DB: IamDatabase>(
    pool: Pool<DB>,
    state: Arc<State<DB>>,
    interval: Duration,
    dropped: oneshot::Receiver<()>,
) {
    let tokens = state.source.token_provider().clone();
    let shortest = interval.min(Duration::from_secs(1));
    let mut closed = pool.close_event();
    let keep_current = closed.do_until(async {
        loop {
            let wait = match state.source.token().await {
                Ok(token) => {
                    state.install(&pool, &token.shared());
                    let left = token.reuse_until().duration_since(tokens.now());
                    left.unwrap_or_default().max(shortest).min(interval)
                }
                Err(error) => {
                    tracing::warn!(
                        target: "rds_iam::sqlx",
                        server = %state.source.target(),
                        %error,
                        "could not refresh the pool's IAM token: new connections use the \
                         previous one until it expires; trying again"
                    );
                    interval
                }
            };
            tokio::time::sleep(wait).await;
        }
    });
    let (mut keep_current, mut dropped) = (std::pin::pin!(keep_current), dropped);
    let why = std::future::poll_fn(|cx| {
        if keep_current.as_mut().poll(cx).is_ready() {
            Poll::Ready("the pool was closed")
        } else if Pin::new(&mut dropped).poll(cx).is_ready() {
            Poll::Ready("the last IamPool was dropped")
        } else {
            Poll::Pending
        }
    })
    .await;
    tracing::debug!(target: "rds_iam::sqlx", server = %state.source.target(), "{why}: the token refresher stops");
}

/// Sort a sqlx error from opening a connection within the acquire timeout `limit`.
async fn outcome<DB: IamDatabase, T>(
    source: &IamConnectOptions<DB>,
    e: ::sqlx::Error,
    limit: Duration,
) -> Outcome<T> {
    let target = source.target();
    let server = target.to_string();
    let failure = match e {
        ::sqlx::Error::Database(ref db) if DB::rejects(&**db) => {
            return Outcome::Rejected(Box::new(e));
        }
        ::sqlx::Error::Tls(_) => tls_failure(source, Box::new(e)).await,
        ::sqlx::Error::Io(ref io) if crate::tls::diagnose::classify(io).is_some() => {
            tls_failure(source, Box::new(e)).await
        }
        ::sqlx::Error::Io(_) => ConnectError::Unreachable {
            server,
            source: Box::new(e),
        },
        ::sqlx::Error::PoolTimedOut => ConnectError::Timeout {
            server,
            after: limit,
        },
        e => ConnectError::Server {
            server,
            source: Box::new(e),
        },
    };
    Outcome::Failed(failure)
}

async fn tls_failure<DB: IamDatabase>(
    source: &IamConnectOptions<DB>,
    e: crate::connect::BoxError,
) -> ConnectError {
    let protocol = match DB::ENGINE {
        Engine::Postgresql => Protocol::Postgres,
        Engine::Mysql | Engine::Mariadb => Protocol::MySql,
    };
    login::tls_failure(source.target(), protocol, &source.inner.trusted, e).await
}
