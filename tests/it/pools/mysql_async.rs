//! The README's `mysql_async::Pool` for refinery: one connection, logged in once with a fresh
//! token, reused after the token has expired (a token is checked only at login).

use mysql_async::prelude::Queryable;
use mysql_async::{OptsBuilder, PoolConstraints, PoolOpts};
use rds_iam_emulator::LoginOutcome;

use super::{PAST_EXPIRY, setup};
use crate::support::engine::{Db, MySql};

#[tokio::test]
async fn a_one_connection_pool_outlives_its_token() {
    let user = "pool_mysql_async_run_user";
    let (e, tokens, connector) = setup::<MySql>(user).await;
    let (opts, _valid_until) = connector.opts().await.unwrap();
    let one = PoolOpts::new().with_constraints(PoolConstraints::new(1, 1).unwrap());
    let pool = mysql_async::Pool::new(OptsBuilder::from_opts(opts).pool_opts(one));

    let mut conn = pool.get_conn().await.unwrap();
    let who: Option<String> = conn.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(who.unwrap(), MySql::account(user));
    drop(conn);

    // A long migration run: the token expires, the one connection goes on.
    e.clock.advance(PAST_EXPIRY);
    let mut conn = pool.get_conn().await.unwrap();
    conn.query_drop("CREATE TABLE run_marker (id int)")
        .await
        .unwrap();
    let who: Option<String> = conn.query_first("SELECT CURRENT_USER()").await.unwrap();
    assert_eq!(who.unwrap(), MySql::account(user));
    drop(conn);
    pool.disconnect().await.unwrap();

    assert_eq!(
        e.outcomes(),
        [LoginOutcome::Accepted],
        "one login for the run"
    );
    assert_eq!(tokens.stats().minted, 1);
    assert_eq!(e.emulator.plaintext_passwords_received(), 0);
}
