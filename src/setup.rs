//! What an administrator creates so that a database user can log in with IAM: the IAM policy
//! that allows `rds-db:connect`, and the SQL that makes the database user (the `rds-iam setup`
//! command prints and applies these). Pure: no I/O.
//!
//! ```
//! use rds_iam::setup::{self, ResourceId, ResourceKind, Step};
//!
//! let cluster = ResourceId::parse("cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2", Some(ResourceKind::Cluster))?;
//! let arn = setup::connect_arn("us-east-1", "123456789012", &cluster, "harness_iam_user")?;
//! assert_eq!(
//!     arn,
//!     "arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2/harness_iam_user"
//! );
//! assert!(setup::policy_json(&arn).contains(r#""Action": "rds-db:connect""#));
//!
//! // The cluster identifier is not the resource id, and the error says how to find that.
//! let err = ResourceId::parse("my-cluster", Some(ResourceKind::Cluster)).unwrap_err();
//! assert!(err.to_string().contains("DbClusterResourceId"));
//!
//! // The SQL, user names quoted.
//! let statements = setup::postgres("Deployer\"; DROP TABLE x; --", "postgres", None)?;
//! assert_eq!(statements[1].step, Step::GrantRdsIam);
//! assert_eq!(statements[1].sql, r#"GRANT rds_iam TO "Deployer""; DROP TABLE x; --""#);
//! let statements = setup::mysql("app", Some("orders"))?;
//! assert_eq!(
//!     statements[0].sql,
//!     "CREATE USER IF NOT EXISTS `app`@`%` IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
//! );
//! # Ok::<(), rds_iam::setup::SetupError>(())
//! ```
//!
//! # What is generated
//!
//! - The policy: one statement allowing `rds-db:connect` on
//!   `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`, the partition found from the
//!   region (`aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, ...). The resource id is the
//!   cluster's `DbClusterResourceId` (`cluster-...`) for Aurora, the instance's `DbiResourceId`
//!   (`db-...`) for RDS: never the cluster or instance identifier. IAM reads `*`, `?` and `$`
//!   in a resource as wildcards and variables; a user name holding them is written `${*}`,
//!   `${?}`, `${$}`, which IAM reads as the character itself.
//! - PostgreSQL ([`postgres`]): the user (only if missing), `GRANT rds_iam`, the database and
//!   schema grants and default privileges, and optionally the Liquibase shared-ownership
//!   block: a `liquibase_owners` group holding both users and owning `databasechangelog` and
//!   `databasechangeloglock`. Identifiers are written `"..."` (`"` doubled), literals `'...'`
//!   (or `E'...'` when they hold a backslash, so that `standard_conforming_strings` does not
//!   matter). The statements can run again: existing roles and grants are left as they are.
//! - MySQL and MariaDB ([`mysql`]): `CREATE USER IF NOT EXISTS ... IDENTIFIED WITH
//!   AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL` and the database grant. The account is
//!   written with identifier quotes (`` `name`@`%` ``, a backtick doubled), which mean the same
//!   whatever the `sql_mode` (`'...'` strings would read a backslash differently with and
//!   without `NO_BACKSLASH_ESCAPES`). A server without the plugin refuses the first statement
//!   with error 1524 (`Plugin 'AWSAuthenticationPlugin' is not loaded`): IAM database
//!   authentication is not enabled there.
//!
//! No statement carries a comment with a user-given value: [`Step::describe`] is fixed text.

use std::fmt;

use crate::endpoint::Partition;

/// What a resource id belongs to: an Aurora cluster or an RDS instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// An Aurora DB cluster: `DbClusterResourceId`, `cluster-...`.
    Cluster,
    /// An RDS DB instance: `DbiResourceId`, `db-...`.
    Instance,
}

impl ResourceKind {
    /// The prefix of its resource ids: `cluster-`, `db-`.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Cluster => "cluster-",
            Self::Instance => "db-",
        }
    }

    /// The AWS CLI command that prints the resource id of the cluster or instance `NAME`.
    ///
    /// ```
    /// use rds_iam::setup::ResourceKind;
    /// assert!(ResourceKind::Cluster.lookup_command().contains("DBClusters[0].DbClusterResourceId"));
    /// assert!(ResourceKind::Instance.lookup_command().contains("DBInstances[0].DbiResourceId"));
    /// ```
    pub fn lookup_command(self) -> &'static str {
        match self {
            Self::Cluster => {
                "aws rds describe-db-clusters --db-cluster-identifier NAME \
                 --query 'DBClusters[0].DbClusterResourceId' --output text"
            }
            Self::Instance => {
                "aws rds describe-db-instances --db-instance-identifier NAME \
                 --query 'DBInstances[0].DbiResourceId' --output text"
            }
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cluster => "Aurora cluster",
            Self::Instance => "RDS instance",
        })
    }
}

/// A cluster's or an instance's resource id, as the `rds-db:connect` ARN names it:
/// `cluster-` or `db-` and upper-case letters and digits (26 in the ids AWS hands out; the
/// documentation's examples are shorter, so any length is accepted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceId {
    id: String,
    kind: ResourceKind,
}

impl ResourceId {
    /// Check `id`; `kind` is what it must belong to (`None`: either, by its prefix).
    ///
    /// ```
    /// use rds_iam::setup::{ResourceId, ResourceKind};
    ///
    /// let id = ResourceId::parse("db-12ABC34DEFG5HIJ6KLMNOP78QR", None)?;
    /// assert_eq!(id.kind(), ResourceKind::Instance);
    /// // An instance id where the cluster's belongs.
    /// assert!(ResourceId::parse("db-12ABC34DEFG5HIJ6KLMNOP78QR", Some(ResourceKind::Cluster)).is_err());
    /// // A cluster endpoint's `cluster-abc123` is not a resource id either.
    /// assert!(ResourceId::parse("cluster-abc123", None).is_err());
    /// # Ok::<(), rds_iam::setup::SetupError>(())
    /// ```
    pub fn parse(id: &str, kind: Option<ResourceKind>) -> Result<Self, SetupError> {
        let found = [ResourceKind::Cluster, ResourceKind::Instance]
            .into_iter()
            .find(|k| {
                id.strip_prefix(k.prefix()).is_some_and(|rest| {
                    !rest.is_empty()
                        && rest
                            .bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                })
            });
        match (found, kind) {
            (Some(found), Some(kind)) if found != kind => Err(SetupError::WrongResourceKind {
                id: id.to_owned(),
                expected: kind,
                found,
            }),
            (Some(found), _) => Ok(Self {
                id: id.to_owned(),
                kind: found,
            }),
            (None, kind) => Err(SetupError::NotAResourceId {
                id: id.to_owned(),
                hint: lookup_hint(kind),
            }),
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// What it belongs to.
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// How to find the resource id of `kind` (both kinds when unknown).
fn lookup_hint(kind: Option<ResourceKind>) -> String {
    match kind {
        Some(kind) => format!("for an {kind}: {}", kind.lookup_command()),
        None => format!(
            "for an {}: {}; for an {}: {}",
            ResourceKind::Cluster,
            ResourceKind::Cluster.lookup_command(),
            ResourceKind::Instance,
            ResourceKind::Instance.lookup_command()
        ),
    }
}

/// Why a policy or the SQL cannot be generated. The messages say what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The resource id does not look like one (a cluster or instance identifier, an endpoint
    /// name's `cluster-abc123` part).
    #[error(
        "{id:?} is not a resource id: the rds-db:connect ARN needs the cluster's \
         DbClusterResourceId (cluster-...) or the instance's DbiResourceId (db-...), upper-case \
         letters and digits, not the cluster or instance identifier; find it {hint}"
    )]
    NotAResourceId {
        /// The value given.
        id: String,
        /// The AWS CLI commands that print the resource id.
        hint: String,
    },
    /// An instance's resource id where a cluster's belongs, or the other way round.
    #[error(
        "{id:?} is the resource id of an {found}, but an {expected}'s was asked for: Aurora \
         users connect to the cluster, whose id is DbClusterResourceId (cluster-...); RDS \
         instances have DbiResourceId (db-...); give the other flag or the other id"
    )]
    WrongResourceKind {
        /// The value given.
        id: String,
        /// What was asked for.
        expected: ResourceKind,
        /// What the id is.
        found: ResourceKind,
    },
    /// The account id is not 12 digits.
    #[error("the AWS account id must be 12 digits, such as 123456789012")]
    InvalidAccount,
    /// No AWS partition has a region of that name.
    #[error(
        "{0:?} is not an AWS region name: give the region of the cluster or instance, such as \
         us-east-1, cn-north-1 or us-gov-west-1"
    )]
    UnknownRegion(String),
    /// An empty user or database name, or one holding a NUL character, which no engine
    /// accepts.
    #[error("the {0} name is empty or holds a NUL character: give a name the database accepts")]
    InvalidName(&'static str),
    /// A PostgreSQL name longer than 63 bytes, which PostgreSQL would silently cut (and the
    /// token's user would then not match).
    #[error(
        "the {what} name is {len} bytes long, but PostgreSQL keeps only the first 63 (and the \
         IAM token's user name would no longer match): choose a shorter name"
    )]
    NameTooLong {
        /// Which name.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
    },
}

/// The `rds-db:connect` resource ARN for `user` on the cluster or instance `resource` in
/// `region` of `account`: `arn:PARTITION:rds-db:REGION:ACCOUNT:dbuser:RESOURCE_ID/USER`, the
/// partition found from the region.
///
/// The user name is written as IAM reads it: `*`, `?` and `$` become `${*}`, `${?}` and
/// `${$}` (IAM's variables for the characters themselves), so that a name holding them allows
/// that user only.
///
/// ```
/// use rds_iam::setup::{self, ResourceId};
///
/// let id = ResourceId::parse("db-ABCDEFGHIJKLMNOPQRSTUVWXYZ", None)?;
/// assert_eq!(
///     setup::connect_arn("cn-north-1", "123456789012", &id, "app")?,
///     "arn:aws-cn:rds-db:cn-north-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/app"
/// );
/// assert!(setup::connect_arn("us-gov-west-1", "123456789012", &id, "app")?
///     .starts_with("arn:aws-us-gov:rds-db:us-gov-west-1:"));
/// assert!(setup::connect_arn("us-east-1", "123456789012", &id, "a*")?.ends_with("/a${*}"));
/// # Ok::<(), rds_iam::setup::SetupError>(())
/// ```
pub fn connect_arn(
    region: &str,
    account: &str,
    resource: &ResourceId,
    user: &str,
) -> Result<String, SetupError> {
    let partition =
        Partition::for_region(region).ok_or_else(|| SetupError::UnknownRegion(region.into()))?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SetupError::InvalidAccount);
    }
    check_name("user", user)?;
    let mut user_part = String::with_capacity(user.len());
    for c in user.chars() {
        match c {
            '*' | '?' | '$' => {
                user_part.push_str("${");
                user_part.push(c);
                user_part.push('}');
            }
            c => user_part.push(c),
        }
    }
    Ok(format!(
        "arn:{partition}:rds-db:{region}:{account}:dbuser:{resource}/{user_part}"
    ))
}

/// The IAM policy document allowing `rds-db:connect` on `arn` ([`connect_arn`]), as JSON.
///
/// ```
/// let json = rds_iam::setup::policy_json(r#"arn:aws:rds-db:us-east-1:123456789012:dbuser:db-A/a"b"#);
/// assert!(json.contains(r#""Resource": "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-A/a\"b""#));
/// ```
pub fn policy_json(arn: &str) -> String {
    format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {{\n      \
         \"Effect\": \"Allow\",\n      \"Action\": \"rds-db:connect\",\n      \
         \"Resource\": {}\n    }}\n  ]\n}}",
        json_string(arn)
    )
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What a statement is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Create the user if it does not exist (MySQL: with the IAM plugin and `REQUIRE SSL`).
    CreateUser,
    /// PostgreSQL: `GRANT rds_iam`, without which RDS refuses every token.
    GrantRdsIam,
    /// Privileges on the database.
    DatabaseGrants,
    /// PostgreSQL: privileges on the schema `public`.
    SchemaGrants,
    /// PostgreSQL: privileges on tables created later by the administrator.
    DefaultPrivileges,
    /// PostgreSQL: the `liquibase_owners` group, if it does not exist.
    LiquibaseGroup,
    /// PostgreSQL: both users in `liquibase_owners`.
    LiquibaseMembers,
    /// PostgreSQL: `liquibase_owners` owns the Liquibase tables that exist.
    LiquibaseOwnership,
    /// PostgreSQL: `liquibase_owners`' privileges in `public`, now and later.
    LiquibaseGrants,
}

impl Step {
    /// What the statement does, in fixed words (no user-given value: printed as an SQL
    /// comment).
    pub fn describe(self) -> &'static str {
        match self {
            Self::CreateUser => "the database user, if it does not exist yet",
            Self::GrantRdsIam => "the rds_iam role: without it RDS refuses every IAM token",
            Self::DatabaseGrants => "privileges on the database",
            Self::SchemaGrants => "privileges on the schema public (USAGE and CREATE)",
            Self::DefaultPrivileges => {
                "privileges on the tables the administrator creates in public from now on"
            }
            Self::LiquibaseGroup => "Liquibase shared ownership: the liquibase_owners group",
            Self::LiquibaseMembers => "both users in liquibase_owners",
            Self::LiquibaseOwnership => {
                "liquibase_owners owns the Liquibase tables (run again after the first \
                 migration if they do not exist yet)"
            }
            Self::LiquibaseGrants => "liquibase_owners' privileges in public, now and later",
        }
    }
}

/// One SQL statement, without its terminating `;` (`Display` adds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What it is for.
    pub step: Step,
    /// The SQL.
    pub sql: String,
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{};", self.sql)
    }
}

/// The name of the Liquibase shared-ownership group (the seed's).
pub const LIQUIBASE_GROUP: &str = "liquibase_owners";

/// The PostgreSQL statements for IAM user `user` in `database` (run them connected to that
/// database: the schema grants apply to the current one), and, with `liquibase_shared_owner`
/// (the other user that runs migrations, usually the master user), the Liquibase
/// shared-ownership block. See the [module docs](self).
pub fn postgres(
    user: &str,
    database: &str,
    liquibase_shared_owner: Option<&str>,
) -> Result<Vec<Statement>, SetupError> {
    check_pg_name("user", user)?;
    check_pg_name("database", database)?;
    if let Some(owner) = liquibase_shared_owner {
        check_pg_name("Liquibase shared owner", owner)?;
    }
    let u = pg_ident(user);
    let mut out = vec![
        statement(
            Step::CreateUser,
            pg_do(&format!(
                "IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN\n    \
                 CREATE USER {u};\n  END IF;",
                pg_literal(user)
            )),
        ),
        statement(Step::GrantRdsIam, format!("GRANT rds_iam TO {u}")),
        statement(
            Step::DatabaseGrants,
            format!(
                "GRANT ALL PRIVILEGES ON DATABASE {} TO {u}",
                pg_ident(database)
            ),
        ),
        statement(
            Step::SchemaGrants,
            format!("GRANT ALL ON SCHEMA public TO {u}"),
        ),
        statement(
            Step::DefaultPrivileges,
            format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO {u}"),
        ),
    ];
    if let Some(owner) = liquibase_shared_owner {
        let g = pg_ident(LIQUIBASE_GROUP);
        out.push(statement(
            Step::LiquibaseGroup,
            pg_do(&format!(
                "IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN\n    \
                 CREATE ROLE {g};\n  END IF;",
                pg_literal(LIQUIBASE_GROUP)
            )),
        ));
        for member in [owner, user] {
            out.push(statement(
                Step::LiquibaseMembers,
                format!("GRANT {g} TO {}", pg_ident(member)),
            ));
        }
        let mut body = String::new();
        for (i, table) in ["databasechangelog", "databasechangeloglock"]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                body.push_str("\n  ");
            }
            body.push_str(&format!(
                "IF to_regclass('public.{table}') IS NOT NULL THEN\n    \
                 ALTER TABLE public.{table} OWNER TO {g};\n  END IF;"
            ));
        }
        out.push(statement(Step::LiquibaseOwnership, pg_do(&body)));
        for sql in [
            format!("GRANT ALL ON SCHEMA public TO {g}"),
            format!("GRANT ALL PRIVILEGES ON ALL TABLES IN SCHEMA public TO {g}"),
            format!("GRANT ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public TO {g}"),
            format!("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO {g}"),
        ] {
            out.push(statement(Step::LiquibaseGrants, sql));
        }
    }
    Ok(out)
}

/// The MySQL/MariaDB statements for IAM user `user` (for logins from any host, `%`), with all
/// privileges on `database` when given. See the [module docs](self).
pub fn mysql(user: &str, database: Option<&str>) -> Result<Vec<Statement>, SetupError> {
    check_name("user", user)?;
    let account = mysql_account(user);
    let mut out = vec![statement(
        Step::CreateUser,
        format!(
            "CREATE USER IF NOT EXISTS {account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' \
             REQUIRE SSL"
        ),
    )];
    if let Some(database) = database {
        check_name("database", database)?;
        out.push(statement(
            Step::DatabaseGrants,
            format!(
                "GRANT ALL PRIVILEGES ON {}.* TO {account}",
                mysql_ident(database)
            ),
        ));
    }
    Ok(out)
}

fn statement(step: Step, sql: String) -> Statement {
    Statement { step, sql }
}

fn check_name(what: &'static str, name: &str) -> Result<(), SetupError> {
    if name.is_empty() || name.contains('\0') {
        Err(SetupError::InvalidName(what))
    } else {
        Ok(())
    }
}

/// PostgreSQL's identifier limit: `NAMEDATALEN` - 1 bytes.
const PG_MAX_NAME: usize = 63;

fn check_pg_name(what: &'static str, name: &str) -> Result<(), SetupError> {
    check_name(what, name)?;
    if name.len() > PG_MAX_NAME {
        return Err(SetupError::NameTooLong {
            what,
            len: name.len(),
        });
    }
    Ok(())
}

/// `name` as a PostgreSQL identifier: `"name"`, `"` doubled. Case and every other character
/// are kept.
///
/// ```
/// assert_eq!(rds_iam::setup::pg_ident(r#"App"User"#), r#""App""User""#);
/// ```
pub fn pg_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `value` as a PostgreSQL string literal: `'value'`, `'` doubled; with a backslash,
/// `E'...'` with backslashes doubled too, which reads the same whether
/// `standard_conforming_strings` is on or off.
///
/// ```
/// use rds_iam::setup::pg_literal;
/// assert_eq!(pg_literal("it's"), "'it''s'");
/// assert_eq!(pg_literal(r"a\b"), r"E'a\\b'");
/// ```
pub fn pg_literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// `name` as a MySQL/MariaDB identifier: `` `name` ``, a backtick doubled. Backslashes and
/// quotes mean nothing there, whatever the `sql_mode`.
///
/// ```
/// assert_eq!(rds_iam::setup::mysql_ident("a`b"), "`a``b`");
/// ```
pub fn mysql_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The MySQL/MariaDB account of `user` for logins from any host: `` `user`@`%` ``.
///
/// ```
/// assert_eq!(rds_iam::setup::mysql_account(r"o'n\e"), r"`o'n\e`@`%`");
/// ```
pub fn mysql_account(user: &str) -> String {
    format!("{}@`%`", mysql_ident(user))
}

/// `body` in a PostgreSQL `DO` block, dollar-quoted with a tag that `body` does not contain.
fn pg_do(body: &str) -> String {
    let mut tag = String::from("$rds_iam$");
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$rds_iam_{n}$");
    }
    format!("DO {tag}\nBEGIN\n  {body}\nEND\n{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";
    const CLUSTER: &str = "cluster-ABCDEFGHIJKLMNOPQRSTUVWXY2";

    fn cluster() -> ResourceId {
        ResourceId::parse(CLUSTER, Some(ResourceKind::Cluster)).unwrap()
    }

    /// The ARN grammar of the IAM documentation, checked field by field.
    fn check_arn(arn: &str, partition: &str, region: &str, resource: &str, user_part: &str) {
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        assert_eq!(
            fields[..5],
            ["arn", partition, "rds-db", region, ACCOUNT],
            "{arn}"
        );
        let (kind, rest) = fields[5].split_once(':').unwrap();
        assert_eq!(kind, "dbuser");
        assert_eq!(rest.split_once('/').unwrap(), (resource, user_part));
    }

    #[test]
    fn the_policy_is_json_with_the_arn_of_each_partition() {
        let cases = [
            ("us-east-1", "aws"),
            ("eu-central-2", "aws"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-gov-east-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
        ];
        for (region, partition) in cases {
            let arn = connect_arn(region, ACCOUNT, &cluster(), "harness_iam_user").unwrap();
            check_arn(&arn, partition, region, CLUSTER, "harness_iam_user");
            let policy: serde_json::Value = serde_json::from_str(&policy_json(&arn)).unwrap();
            assert_eq!(policy["Version"], "2012-10-17");
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 1);
            assert_eq!(statements[0]["Effect"], "Allow");
            assert_eq!(statements[0]["Action"], "rds-db:connect");
            assert_eq!(statements[0]["Resource"], arn.as_str());
        }
    }

    #[test]
    fn hostile_user_names_stay_one_json_string_and_one_user() {
        let id = ResourceId::parse("db-12ABC34DEFG5HIJ6KLMNOP78QR", None).unwrap();
        let cases = [
            ("App\"User", "App\"User"),
            ("back\\slash", "back\\slash"),
            ("new\nline\ttab", "new\nline\ttab"),
            ("all*", "all${*}"),
            ("one?", "one${?}"),
            ("${aws:username}", "${$}{aws:username}"),
            ("ünï", "ünï"),
        ];
        for (user, user_part) in cases {
            let arn = connect_arn("eu-west-1", ACCOUNT, &id, user).unwrap();
            check_arn(&arn, "aws", "eu-west-1", id.as_str(), user_part);
            let policy: serde_json::Value = serde_json::from_str(&policy_json(&arn)).unwrap();
            assert_eq!(policy["Statement"][0]["Resource"], arn.as_str(), "{user:?}");
        }
    }

    #[test]
    fn resource_ids_and_identifiers() {
        assert_eq!(cluster().kind(), ResourceKind::Cluster);
        for (id, kind) in [
            ("cluster-ABCD1234EFGH5678", ResourceKind::Cluster),
            ("db-ABCDEFGHIJKL01234", ResourceKind::Instance),
        ] {
            assert_eq!(ResourceId::parse(id, None).unwrap().kind(), kind);
        }
        for identifier in [
            "my-cluster",
            "cluster-",
            "cluster-abc123",
            "db-mydb",
            "",
            "CLUSTER-ABC",
        ] {
            let err = ResourceId::parse(identifier, Some(ResourceKind::Cluster)).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains("aws rds describe-db-clusters --db-cluster-identifier NAME --query 'DBClusters[0].DbClusterResourceId'"),
                "{text}"
            );
            assert!(!text.contains("describe-db-instances"), "{text}");
            let err = ResourceId::parse(identifier, None).unwrap_err().to_string();
            assert!(err.contains("'DBInstances[0].DbiResourceId'"), "{err}");
            assert!(err.contains("for an Aurora cluster"), "{err}");
        }
        let err = ResourceId::parse(CLUSTER, Some(ResourceKind::Instance)).unwrap_err();
        assert!(matches!(err, SetupError::WrongResourceKind { .. }), "{err}");
        assert!(err.to_string().contains("DbClusterResourceId"), "{err}");
    }

    #[test]
    fn bad_regions_accounts_and_users_are_refused() {
        let id = cluster();
        assert_eq!(
            connect_arn("moon-1", ACCOUNT, &id, "u").unwrap_err(),
            SetupError::UnknownRegion("moon-1".into())
        );
        for account in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert_eq!(
                connect_arn("us-east-1", account, &id, "u").unwrap_err(),
                SetupError::InvalidAccount
            );
        }
        assert!(connect_arn("us-east-1", ACCOUNT, &id, "").is_err());
        assert!(connect_arn("us-east-1", ACCOUNT, &id, "a\0b").is_err());
        assert!(postgres("a\0b", "postgres", None).is_err());
        assert!(mysql("", None).is_err());
        assert!(mysql("u", Some("")).is_err());
        let long = "x".repeat(64);
        assert_eq!(
            postgres(&long, "postgres", None).unwrap_err(),
            SetupError::NameTooLong {
                what: "user",
                len: 64
            }
        );
        assert!(postgres(&long[..63], "postgres", None).is_ok());
        assert!(postgres("u", "postgres", Some(&long)).is_err());
    }

    #[test]
    fn postgres_quotes_hostile_names() {
        let user = "Evil\"; DROP ROLE postgres; --'\\$rds_iam$";
        let statements = postgres(user, "my\"db", Some("Master")).unwrap();
        let ident = "\"Evil\"\"; DROP ROLE postgres; --'\\$rds_iam$\"";
        let create = &statements[0].sql;
        assert!(create.starts_with("DO $rds_iam_1$\n"), "{create}");
        assert!(create.ends_with("\n$rds_iam_1$"), "{create}");
        assert!(
            create.contains("rolname = E'Evil\"; DROP ROLE postgres; --''\\\\$rds_iam$'"),
            "{create}"
        );
        assert!(
            create.contains(&format!("CREATE USER {ident};")),
            "{create}"
        );
        assert_eq!(statements[1].sql, format!("GRANT rds_iam TO {ident}"));
        assert_eq!(
            statements[2].sql,
            format!("GRANT ALL PRIVILEGES ON DATABASE \"my\"\"db\" TO {ident}")
        );
        let members: Vec<&str> = statements
            .iter()
            .filter(|s| s.step == Step::LiquibaseMembers)
            .map(|s| s.sql.as_str())
            .collect();
        assert_eq!(
            members,
            [
                "GRANT \"liquibase_owners\" TO \"Master\"".to_owned(),
                format!("GRANT \"liquibase_owners\" TO {ident}")
            ]
        );
        // Every statement is one statement: outside quotes there is no `;` but the DO
        // blocks' own.
        for s in &statements {
            assert!(!s.step.describe().contains('\n'));
            let outside = strip_pg_quoted(&s.sql);
            if !s.sql.starts_with("DO ") {
                assert!(!outside.contains(';'), "{}", s.sql);
            }
        }
    }

    /// `sql` without its `"..."` identifiers and `'...'`/`E'...'` literals (dollar-quoted
    /// bodies are kept: the tests look at what is inside).
    fn strip_pg_quoted(sql: &str) -> String {
        let mut out = String::new();
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' | '\'' => {
                    let escapes = c == '\'' && out.ends_with('E');
                    while let Some(d) = chars.next() {
                        if escapes && d == '\\' {
                            chars.next();
                        } else if d == c {
                            if chars.peek() == Some(&c) {
                                chars.next();
                            } else {
                                break;
                            }
                        }
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn the_liquibase_block_follows_the_seed() {
        let statements = postgres("harness_iam_user", "postgres", Some("postgres")).unwrap();
        let steps: Vec<Step> = statements.iter().map(|s| s.step).collect();
        assert_eq!(
            steps,
            [
                Step::CreateUser,
                Step::GrantRdsIam,
                Step::DatabaseGrants,
                Step::SchemaGrants,
                Step::DefaultPrivileges,
                Step::LiquibaseGroup,
                Step::LiquibaseMembers,
                Step::LiquibaseMembers,
                Step::LiquibaseOwnership,
                Step::LiquibaseGrants,
                Step::LiquibaseGrants,
                Step::LiquibaseGrants,
                Step::LiquibaseGrants,
            ]
        );
        let ownership = &statements[8].sql;
        assert!(ownership.contains(
            "IF to_regclass('public.databasechangeloglock') IS NOT NULL THEN\n    \
             ALTER TABLE public.databasechangeloglock OWNER TO \"liquibase_owners\";"
        ));
        assert_eq!(postgres("u", "postgres", None).unwrap().len(), 5);
    }

    #[test]
    fn mysql_quotes_hostile_names() {
        let statements = mysql("o'neil`\\\"; DROP USER root; --", Some("app`db")).unwrap();
        assert_eq!(
            statements[0].sql,
            "CREATE USER IF NOT EXISTS `o'neil``\\\"; DROP USER root; --`@`%` \
             IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL"
        );
        assert_eq!(
            statements[1].sql,
            "GRANT ALL PRIVILEGES ON `app``db`.* TO `o'neil``\\\"; DROP USER root; --`@`%`"
        );
        assert_eq!(mysql("u", None).unwrap().len(), 1);
        assert_eq!(statements[0].to_string(), format!("{};", statements[0].sql));
    }
}
