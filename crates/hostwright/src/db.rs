//! Connecting to SQLite or PostgreSQL and bringing the schema up to date.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::config::{Settings, redact_url};
use crate::migration::Migrator;

/// Opens the pool described by the settings. For SQLite the database file's folder is
/// created, and WAL with a busy timeout lets many requests read while one writes.
pub async fn connect(settings: &Settings) -> anyhow::Result<DatabaseConnection> {
    connect_url(&settings.database_url, settings.database_max_connections).await
}

pub async fn connect_url(url: &str, max_connections: u32) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url)
        && let Some(parent) = std::path::Path::new(&path).parent().filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let sqlite_file = sqlite_path(url);
    if let Some(path) = &sqlite_file {
        create_private(path)?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("postgres") {
        options.map_sqlx_postgres_before_acquire(|_connection, meta| {
            Box::pin(async move { Ok(!opened_before_demotion(meta.age)) })
        });
    }
    if url.starts_with("sqlite:") {
        options.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    }
    let db = Database::connect(options).await.with_context(|| format!("connecting to {}", redact_url(url)))?;
    if let Some(path) = &sqlite_file {
        make_private(path)?;
    }
    Ok(db)
}

/// Creates an empty database file readable by its owner only (like `secret.key`); SQLite
/// gives the WAL and shared-memory files the same mode as the database file.
fn create_private(path: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path);
    match created {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err).with_context(|| format!("creating the database file {path}")),
    }
}

/// Takes group and world access away from the database and its WAL and shared-memory files
/// (an installation made before they were created private).
fn make_private(path: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for file in [path.to_owned(), format!("{path}-wal"), format!("{path}-shm")] {
        match std::fs::metadata(&file) {
            Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("making {file} private"))?;
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("reading {file}")),
        }
    }
    Ok(())
}

/// Applies every pending migration. Safe to run from several nodes at once on PostgreSQL:
/// the migrations run in one transaction holding an advisory lock, so the other nodes wait
/// and then find nothing to do (PostgreSQL's DDL is transactional).
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Migrator::up(db, None).await.context("applying migrations");
    }
    let txn = db.begin().await.context("starting the migration transaction")?;
    txn.execute_raw(Statement::from_string(DatabaseBackend::Postgres, "SELECT pg_advisory_xact_lock(72817001)"))
        .await
        .context("taking the migration lock")?;
    Migrator::up(&txn, None).await.context("applying migrations")?;
    txn.commit().await.context("committing migrations")?;
    Ok(())
}

/// Migrations known to this binary and not yet applied.
pub async fn pending_migrations(db: &DatabaseConnection) -> anyhow::Result<usize> {
    Ok(Migrator::get_pending_migrations(db).await.context("listing pending migrations")?.len())
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// The database's clock in milliseconds since the Unix epoch, as SQL.
fn now_ms_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        _ => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    }
}

/// A raw statement: `sql` with `{now}` replaced by the database's clock and `?` placeholders numbered for
/// PostgreSQL.
pub fn clock_statement(backend: DbBackend, sql: &str, values: Vec<sea_orm::Value>) -> Statement {
    let sql = sql.replace("{now}", now_ms_sql(backend));
    let sql = if backend == DbBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 16);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql
    };
    Statement::from_sql_and_values(backend, sql, values)
}

pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// The integer column `n` of the one row `sql` returns (a `SELECT COUNT(*) AS n …`), 0 for no row.
pub async fn count(db: &impl ConnectionTrait, sql: &str, values: Vec<sea_orm::Value>) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    match db.query_one_raw(clock_statement(backend, sql, values)).await? {
        Some(row) => row.try_get("", "n"),
        None => Ok(0),
    }
}

/// Bound parameters per statement SQLite accepts (its limit is 32,766).
const MAX_PARAMETERS: usize = 30_000;

/// Rows per statement on PostgreSQL, where a batch travels as one array per column.
const ARRAY_ROWS: usize = 5_000;

/// Inserts `rows` (each one value per column) into `table` inside the caller's transaction;
/// with `returning` columns named, returns those columns of every inserted row. For the few
/// hot paths that write thousands of rows at once (the daily run).
///
/// On PostgreSQL the rows travel as one array parameter per column, expanded by `unnest`, so
/// the statement is the same whatever the row count (prepared once per connection); the
/// server parses arrays in half the time it takes to expand the same rows from JSON. On
/// SQLite they are multi-row INSERTs as large as its parameter limit allows.
pub async fn insert_many(
    db: &impl ConnectionTrait,
    table: &'static str,
    columns: &[&'static str],
    rows: Vec<Vec<sea_orm::Value>>,
    returning: &[&'static str],
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    insert_rows(db, table, columns, rows, returning, None).await
}

/// [`insert_many`] skipping each row whose `unique` column holds a value already present
/// (`ON CONFLICT DO NOTHING`), so a retried writer inserts nothing twice.
pub async fn insert_many_once(
    db: &impl ConnectionTrait,
    table: &'static str,
    columns: &[&'static str],
    rows: Vec<Vec<sea_orm::Value>>,
    unique: &'static str,
) -> Result<(), DbErr> {
    insert_rows(db, table, columns, rows, &[], Some(unique)).await?;
    Ok(())
}

async fn insert_rows(
    db: &impl ConnectionTrait,
    table: &'static str,
    columns: &[&'static str],
    rows: Vec<Vec<sea_orm::Value>>,
    returning: &[&'static str],
    unique: Option<&'static str>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        return insert_arrays(db, table, columns, rows, returning, unique).await;
    }
    use sea_orm::sea_query::Query;
    let per_statement = (MAX_PARAMETERS / columns.len().max(1)).max(1);
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let mut insert = Query::insert();
        insert.into_table(table).columns(columns.iter().copied());
        for row in rows.by_ref().take(per_statement) {
            insert.values(row.into_iter().map(Into::into)).map_err(|e| DbErr::Custom(format!("{table}: {e}")))?;
        }
        if let Some(column) = unique {
            insert.on_conflict(sea_orm::sea_query::OnConflict::column(column).do_nothing().to_owned());
        }
        if returning.is_empty() {
            db.execute(&insert).await?;
        } else {
            insert.returning(Query::returning().columns(returning.iter().copied()));
            returned.extend(db.query_all(&insert).await?);
        }
    }
    Ok(returned)
}

async fn insert_arrays(
    db: &impl ConnectionTrait,
    table: &'static str,
    columns: &[&'static str],
    rows: Vec<Vec<sea_orm::Value>>,
    returning: &[&'static str],
    unique: Option<&'static str>,
) -> Result<Vec<sea_orm::QueryResult>, DbErr> {
    let quoted = |names: &[&str]| names.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let list = quoted(columns);
    let mut returned = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while let Some(first) = rows.peek() {
        let types = first.iter().map(array_type).collect::<Result<Vec<_>, _>>()?;
        if types.len() != columns.len() {
            return Err(DbErr::Custom(format!("{table}: {} values for {} columns", types.len(), columns.len())));
        }
        let mut arrays = vec![String::from("{"); columns.len()];
        for (n, row) in rows.by_ref().take(ARRAY_ROWS).enumerate() {
            if row.len() != columns.len() {
                return Err(DbErr::Custom(format!("{table}: {} values for {} columns", row.len(), columns.len())));
            }
            for ((array, value), (column, ty)) in arrays.iter_mut().zip(row).zip(columns.iter().zip(&types)) {
                if n > 0 {
                    array.push(',');
                }
                write_element(array, value, ty).map_err(|e| DbErr::Custom(format!("{table}.{column}: {e}")))?;
            }
        }
        for array in &mut arrays {
            array.push('}');
        }
        let unnest =
            types.iter().enumerate().map(|(i, ty)| format!("${}::{ty}[]", i + 1)).collect::<Vec<_>>().join(", ");
        let mut sql = format!("INSERT INTO \"{table}\" ({list}) SELECT * FROM unnest({unnest})");
        if let Some(column) = unique {
            sql.push_str(&format!(" ON CONFLICT (\"{column}\") DO NOTHING"));
        }
        if !returning.is_empty() {
            sql.push_str(&format!(" RETURNING {}", quoted(returning)));
        }
        let statement = Statement::from_sql_and_values(DbBackend::Postgres, &sql, arrays.into_iter().map(Into::into));
        if returning.is_empty() {
            db.execute_raw(statement).await?;
        } else {
            returned.extend(db.query_all_raw(statement).await?);
        }
    }
    Ok(returned)
}

/// The PostgreSQL type of the array a column's values travel in; text goes into any
/// character column.
fn array_type(value: &sea_orm::Value) -> Result<&'static str, DbErr> {
    use sea_orm::Value as V;
    Ok(match value {
        V::Bool(_) => "boolean",
        V::SmallInt(_) => "smallint",
        V::Int(_) => "integer",
        V::BigInt(_) => "bigint",
        V::String(_) => "text",
        V::ChronoDate(_) => "date",
        V::ChronoDateTimeUtc(_) => "timestamptz",
        other => return Err(DbErr::Custom(format!("insert_many does not send {other:?}"))),
    })
}

/// Writes `value` as an element of a PostgreSQL array literal of type `ty`: quoted with
/// backslash escapes, or `NULL`. The rows go straight into the text sent, with no tree of
/// values in between: building one cost more than the database's work on it.
fn write_element(out: &mut String, value: sea_orm::Value, ty: &str) -> Result<(), String> {
    use std::fmt::Write as _;

    use sea_orm::Value as V;
    if array_type(&value).map_err(|e| e.to_string())? != ty {
        return Err(format!("{value:?} in a column of {ty}"));
    }
    let written = match value {
        V::Bool(Some(v)) => write!(out, "{}", if v { 't' } else { 'f' }),
        V::SmallInt(Some(v)) => write!(out, "{v}"),
        V::Int(Some(v)) => write!(out, "{v}"),
        V::BigInt(Some(v)) => write!(out, "{v}"),
        V::String(Some(v)) => {
            out.reserve(v.len() + 2);
            out.push('"');
            for c in v.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
            Ok(())
        }
        V::ChronoDate(Some(d)) => write!(out, "{d}"),
        V::ChronoDateTimeUtc(Some(t)) => write!(out, "\"{}\"", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        _ => write!(out, "NULL"),
    };
    written.map_err(|e| e.to_string())
}

/// A time on the database clock (milliseconds since the epoch) as RFC 3339, for pages.
pub fn ms_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

/// The database's clock now, in milliseconds since the Unix epoch. Leases and job claims
/// use only this clock, so a node whose own clock is wrong cannot take what another holds.
pub async fn db_now_ms(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(clock_statement(backend, "SELECT {now} AS now_ms", Vec::new()))
        .await?
        .ok_or_else(|| DbErr::Custom("the database did not tell the time".into()))?;
    row.try_get("", "now_ms")
}

/// SQLSTATEs that mean the database behind the connection went away or stopped taking
/// writes, as it does while a PostgreSQL primary is replaced: connection exceptions (class
/// 08), a read-only transaction on a server that is now a standby (25006), and the server
/// shutting down or starting (57P01–57P03).
const INTERRUPTION_STATES: &[&str] = &["25006", "57P01", "57P02", "57P03"];

/// SQLSTATE of a write on a server that is not (or no longer) the primary.
const READ_ONLY: &str = "25006";

/// When this process last met a demoted primary. The balancer sends new connections to the
/// new primary, but pooled ones stay open to the old server; those opened before this moment
/// are dropped when next taken from the pool instead of failing every request that gets one.
static DEMOTED_PRIMARY_SEEN: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);

fn note_demoted_primary() {
    if let Ok(mut seen) = DEMOTED_PRIMARY_SEEN.lock() {
        *seen = Some(std::time::Instant::now());
    }
}

/// Whether a pooled connection opened `age` ago predates the last demoted primary met.
fn opened_before_demotion(age: Duration) -> bool {
    DEMOTED_PRIMARY_SEEN.lock().ok().and_then(|seen| *seen).is_some_and(|seen| age > seen.elapsed())
}

/// Whether `err`, or anything it was caused by, says the database was unreachable or moved:
/// the work did not complete and may succeed on a fresh connection a moment later. A
/// refused statement (a constraint, bad SQL) is not an interruption.
pub fn interrupted(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(err) = current {
        if let Some(db) = err.downcast_ref::<DbErr>() {
            return db_err_interrupted(db);
        }
        if let Some(runtime) = err.downcast_ref::<sea_orm::RuntimeErr>() {
            return runtime_interrupted(runtime);
        }
        if err.downcast_ref::<sea_orm::ConnAcquireErr>().is_some() {
            return true;
        }
        if let Some(sqlx) = err.downcast_ref::<sea_orm::sqlx::Error>() {
            return sqlx_interrupted(sqlx);
        }
        current = err.source();
    }
    false
}

fn db_err_interrupted(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime_interrupted(runtime),
        _ => false,
    }
}

fn runtime_interrupted(err: &sea_orm::RuntimeErr) -> bool {
    match err {
        sea_orm::RuntimeErr::SqlxError(sqlx) => sqlx_interrupted(sqlx),
        _ => false,
    }
}

fn sqlx_interrupted(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Protocol(_) => true,
        Error::Database(db) => {
            if db.code().is_some_and(|code| code == READ_ONLY) {
                note_demoted_primary();
            }
            db.code().is_some_and(|code| code.starts_with("08") || INTERRUPTION_STATES.contains(&code.as_ref()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_in_database_urls() {
        assert_eq!(redact_url("postgres://app:s3cret@db:5432/hw"), "postgres://app:redacted@db:5432/hw");
        assert_eq!(redact_url("sqlite://data/hw.db?mode=rwc"), "sqlite://data/hw.db?mode=rwc");
    }

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(sqlite_path("sqlite://data/hostwright.db?mode=rwc").as_deref(), Some("data/hostwright.db"));
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://x"), None);
    }
}

#[cfg(test)]
mod interruption_tests {
    use std::sync::Arc;

    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::interrupted;

    fn sqlx(err: SqlxError) -> RuntimeErr {
        RuntimeErr::SqlxError(Arc::new(err))
    }

    #[test]
    fn a_lost_connection_or_a_pool_timeout_is_an_interruption() {
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert!(interrupted(&DbErr::Query(sqlx(SqlxError::Io(reset)))));
        assert!(interrupted(&DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)));
        assert!(interrupted(&DbErr::Conn(sqlx(SqlxError::PoolTimedOut))));
    }

    #[test]
    fn it_is_found_through_contexts_and_transparent_wrappers() {
        #[derive(Debug, thiserror::Error)]
        enum Domain {
            #[error(transparent)]
            Db(#[from] DbErr),
        }
        let err = Domain::from(DbErr::Exec(sqlx(SqlxError::PoolClosed)));
        assert!(interrupted(&err));
        let wrapped = anyhow::Error::new(err).context("placing the order");
        assert!(interrupted(wrapped.as_ref()));
    }

    #[test]
    fn refused_statements_are_not_interruptions() {
        assert!(!interrupted(&DbErr::RecordNotFound("invoice".into())));
        assert!(!interrupted(&DbErr::Exec(RuntimeErr::Internal("syntax".into()))));
        assert!(!interrupted(&DbErr::Query(sqlx(SqlxError::RowNotFound))));
        let plain = anyhow::anyhow!("no database involved");
        assert!(!interrupted(plain.as_ref()));
    }
}
