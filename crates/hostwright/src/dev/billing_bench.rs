//! `hostwright bench billing`: how fast the daily run makes renewal invoices at scale, against
//! the floor of the same database (a raw batched insert of the same rows).
//!
//! The benchmark works in a scratch database of its own — a new SQLite file, or a new
//! database on the PostgreSQL server it is pointed at, dropped afterwards — seeds clients and
//! services with the automation lab's calendar, runs the renewal task as the lease holder,
//! checks every due service was invoiced once, and then times a client-side batched INSERT of
//! the rows the run wrote to the invoice tables (read back, not timed) into copies of those
//! tables.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::NaiveDate;
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, IdenStatic, Iterable, ModelTrait, Statement,
    TransactionTrait,
};

use crate::automation::Task;
use crate::config::Settings;
use crate::state::AppState;

/// What `bench billing` was asked to do.
#[derive(Debug, Clone)]
pub struct BillingBench {
    pub services: u64,
    pub clients: u64,
    pub due_fraction: f64,
    /// A PostgreSQL server URL (a scratch database is made on it) or a SQLite URL (a new
    /// file); a temporary SQLite file by default.
    pub database: Option<String>,
    /// Keep the scratch database afterwards.
    pub keep: bool,
}

/// What it measured.
#[derive(Debug, Clone)]
pub struct BillingFigures {
    pub backend: &'static str,
    pub services: u64,
    pub clients: u64,
    pub seeding: Duration,
    pub due_services: i64,
    pub invoices: i64,
    pub lines: i64,
    pub tax_lines: i64,
    pub run: Duration,
    /// Invoice emails queued afterwards by the job the run queued, and how long that took.
    pub emails: i64,
    pub emails_took: Duration,
    /// The raw insert of the same invoice and line rows.
    pub raw: Duration,
    pub raw_rows: i64,
    pub peak_rss_mb: f64,
}

impl BillingFigures {
    pub fn invoices_per_s(&self) -> f64 {
        self.invoices as f64 / self.run.as_secs_f64().max(1e-6)
    }

    pub fn ratio_to_raw_insert(&self) -> f64 {
        self.run.as_secs_f64() / self.raw.as_secs_f64().max(1e-6)
    }
}

/// The business date the benchmark bills on.
fn bench_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 3, 1).unwrap_or_default()
}

pub async fn billing(settings: Settings, bench: &BillingBench) -> anyhow::Result<BillingFigures> {
    if !(0.0..=1.0).contains(&bench.due_fraction) {
        bail!("--due-fraction must be between 0 and 1");
    }
    if bench.services == 0 || bench.clients == 0 {
        bail!("--services and --clients must be at least 1");
    }
    let scratch = Scratch::create(bench.database.as_deref()).await?;
    let result = run_in(scratch.settings(settings), bench).await;
    scratch.finish(bench.keep).await;
    result
}

async fn run_in(mut settings: Settings, bench: &BillingBench) -> anyhow::Result<BillingFigures> {
    settings.database_max_connections = settings.database_max_connections.max(4);
    let state = crate::startup::build_state(settings).await?;
    let db = &state.db;
    let backend = match db.get_database_backend() {
        DbBackend::Postgres => "postgres",
        _ => "sqlite",
    };
    eprintln!("seeding {} services for {} clients on {backend}…", bench.services, bench.clients);
    let seeding = Instant::now();
    super::daily_run_lab::seed(&state, bench.services, bench.clients, bench_date(), bench.due_fraction, 2026).await?;
    add_vat_rule(db).await?;
    // A database in use is vacuumed and has its planner statistics (autovacuum keeps both),
    // and the pages its seeding dirtied are not the run's to write: a fresh one needs all three
    // done before the clock starts, or the run competes with autovacuum and a checkpoint.
    let settle: &[&str] = match db.get_database_backend() {
        DbBackend::Postgres => &["VACUUM ANALYZE", "CHECKPOINT"],
        _ => &["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"],
    };
    for sql in settle {
        db.execute_raw(Statement::from_string(db.get_database_backend(), *sql)).await?;
    }
    let seeding = seeding.elapsed();
    let due_services = due_count(&state).await?;
    eprintln!("seeded in {:.1} s; {due_services} services due; running the renewals…", seeding.as_secs_f64());

    reset_peak_rss();
    let started = Instant::now();
    let outcome =
        crate::automation::run_now(&state, Some(bench_date()), &[Task::Renewals], false, Duration::from_secs(5))
            .await?;
    let run = started.elapsed();
    let peak_rss_mb = peak_rss_mb();
    if let Some(error) = outcome.reports.iter().find_map(|r| r.error.clone()) {
        bail!("the renewal run failed: {error}");
    }

    let invoices = crate::db::count(db, "SELECT COUNT(*) AS n FROM invoices", Vec::new()).await?;
    let lines = crate::db::count(db, "SELECT COUNT(*) AS n FROM invoice_lines", Vec::new()).await?;
    let tax_lines = crate::db::count(db, "SELECT COUNT(*) AS n FROM invoice_tax_lines", Vec::new()).await?;
    if lines != due_services {
        bail!("{due_services} services were due but {lines} renewal lines were written");
    }
    if due_count(&state).await? != 0 {
        bail!("services are still due after the run");
    }
    eprintln!("renewals done in {:.2} s; composing their emails…", run.as_secs_f64());
    let composing = Instant::now();
    let registry = crate::workflows::job_registry();
    while crate::jobs::worker::run_once(&state, &registry, "bench", 4).await? > 0 {}
    let emails_took = composing.elapsed();
    let emails = crate::db::count(db, "SELECT COUNT(*) AS n FROM email_outbox", Vec::new()).await?;
    if emails < invoices {
        bail!("{invoices} invoices were issued but {emails} emails queued");
    }
    eprintln!("timing the raw insert of the same rows…");
    let (raw, raw_rows) = raw_insert(db).await?;
    Ok(BillingFigures {
        backend,
        services: bench.services,
        clients: bench.clients,
        seeding,
        due_services,
        invoices,
        lines,
        tax_lines,
        run,
        emails,
        emails_took,
        raw,
        raw_rows,
        peak_rss_mb,
    })
}

/// Services the renewal run must invoice on the bench date.
async fn due_count(state: &AppState) -> anyhow::Result<i64> {
    let settings = crate::site_settings::automation::load(&state.db).await?;
    let horizon = bench_date()
        .checked_add_days(chrono::Days::new(u64::from(settings.renewal_invoice_days)))
        .context("renewal horizon")?;
    Ok(crate::db::count(
        &state.db,
        "SELECT COUNT(*) AS n FROM services WHERE status IN ('active', 'suspended') AND next_invoice_date <= ?",
        vec![horizon.into()],
    )
    .await?)
}

/// Clients in the seller's country pay VAT, so part of the invoices carry a tax line.
async fn add_vat_rule(db: &DatabaseConnection) -> anyhow::Result<()> {
    use crate::invoices::model::tax_rule;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    tax_rule::ActiveModel {
        name: Set("VAT".into()),
        country: Set("DE".into()),
        region: Set(String::new()),
        rate: Set("19".into()),
        level: Set(1),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Rows per INSERT statement (and transaction) in the raw baseline.
const RAW_BATCH: usize = 1000;

/// Times a client-side batched INSERT of the invoice and line rows the run wrote into empty
/// copies of their tables (with the same indexes); returns the time and the number of rows.
async fn raw_insert(db: &DatabaseConnection) -> anyhow::Result<(Duration, i64)> {
    use crate::invoices::model::{invoice, line};
    let (invoices_took, invoices) = copy_rows(db, invoice::Entity).await?;
    let (lines_took, lines) = copy_rows(db, line::Entity).await?;
    Ok((invoices_took + lines_took, invoices + lines))
}

/// Reads every row of `entity` (untimed), then times inserting them again, ids left to the
/// database, into an empty copy of its table.
async fn copy_rows<E: EntityTrait>(db: &DatabaseConnection, entity: E) -> anyhow::Result<(Duration, i64)> {
    let table = entity.table_name();
    let copy = format!("bench_raw_{table}");
    copy_table(db, table, &copy).await?;
    let columns: Vec<E::Column> = E::Column::iter().filter(|c| c.as_str() != "id").collect();
    let rows: Vec<Vec<sea_orm::Value>> = E::find()
        .all(db)
        .await
        .with_context(|| format!("reading {table}"))?
        .iter()
        .map(|m| columns.iter().map(|c| m.get(*c)).collect())
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(RAW_BATCH) {
        let mut insert = Query::insert();
        insert.into_table(Alias::new(copy.as_str())).columns(columns.iter().map(|c| Alias::new(c.as_str())));
        for row in chunk {
            insert.values(row.iter().cloned().map(Into::into)).context("building the raw insert")?;
        }
        let txn = db.begin().await?;
        txn.execute(&insert).await.with_context(|| format!("inserting into {copy}"))?;
        txn.commit().await?;
    }
    Ok((started.elapsed(), i64::try_from(rows.len()).unwrap_or(i64::MAX)))
}

/// Creates `copy` empty, with the columns, defaults and indexes of `table`.
async fn copy_table(db: &DatabaseConnection, table: &str, copy: &str) -> anyhow::Result<()> {
    let backend = db.get_database_backend();
    if backend == DbBackend::Postgres {
        let sql = format!("CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)");
        db.execute_raw(Statement::from_string(backend, sql)).await?;
        return Ok(());
    }
    // SQLite keeps each table's and index's CREATE statement; make them again under new names.
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL ORDER BY type DESC",
            [table.into()],
        ))
        .await?;
    for row in rows {
        let kind: String = row.try_get("", "type")?;
        let name: String = row.try_get("", "name")?;
        let sql: String = row.try_get("", "sql")?;
        let renamed = if kind == "table" {
            sql.replacen(&format!("\"{table}\""), &format!("\"{copy}\""), 1).replacen(
                &format!("TABLE {table} "),
                &format!("TABLE {copy} "),
                1,
            )
        } else {
            sql.replacen(&name, &format!("bench_raw_{name}"), 1)
                .replacen(&format!("ON \"{table}\""), &format!("ON \"{copy}\""), 1)
                .replacen(&format!("ON {table} "), &format!("ON {copy} "), 1)
        };
        anyhow::ensure!(renamed != sql, "could not copy the definition of {name}");
        db.execute_raw(Statement::from_string(backend, renamed)).await?;
    }
    Ok(())
}

/// The database the benchmark writes to, made for it.
pub(crate) struct Scratch {
    pub url: String,
    pub dir: PathBuf,
    /// The server and name of a PostgreSQL scratch database, to drop afterwards.
    postgres: Option<(String, String)>,
}

impl Scratch {
    pub async fn create(database: Option<&str>) -> anyhow::Result<Scratch> {
        let dir = std::env::temp_dir().join(format!("hostwright-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        match database {
            Some(url) if url.starts_with("postgres") => {
                let mut parsed = url::Url::parse(url).context("--database is not a URL")?;
                let name = format!("hostwright_bench_{}", std::process::id());
                let server = crate::db::connect_url(url, 1).await?;
                server
                    .execute_raw(Statement::from_string(DbBackend::Postgres, format!("CREATE DATABASE {name}")))
                    .await
                    .context("creating the scratch database")?;
                server.close().await?;
                parsed.set_path(&format!("/{name}"));
                Ok(Scratch { url: parsed.to_string(), dir, postgres: Some((url.to_owned(), name)) })
            }
            Some(url) if url.starts_with("sqlite:") => Ok(Scratch { url: url.to_owned(), dir, postgres: None }),
            Some(other) => {
                bail!("--database must be a postgres:// or sqlite: URL, not {}", crate::config::redact_url(other))
            }
            None => {
                let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
                Ok(Scratch { url, dir, postgres: None })
            }
        }
    }

    /// `settings` pointed at the scratch database and folder.
    pub fn settings(&self, mut settings: Settings) -> Settings {
        settings.database_url = self.url.clone();
        settings.data_dir = self.dir.clone();
        settings.files.path = Some(self.dir.join("files"));
        settings
    }

    /// Keeps the scratch database (saying where) or removes it.
    pub async fn finish(&self, keep: bool) {
        if keep {
            eprintln!("kept the scratch database {}", crate::config::redact_url(&self.url));
        } else if let Err(err) = self.drop().await {
            eprintln!("could not remove the scratch database: {err:#}");
        }
    }

    async fn drop(&self) -> anyhow::Result<()> {
        if let Some((server, name)) = &self.postgres {
            let server = crate::db::connect_url(server, 1).await?;
            server
                .execute_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ))
                .await?;
        }
        std::fs::remove_dir_all(&self.dir).with_context(|| format!("removing {}", self.dir.display()))
    }
}

/// Starts the peak-RSS count afresh (Linux), so the figure covers the run alone.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set since the reset, in MiB (0 where /proc is missing).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|l| {
                l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
