//! The daily run: billing and service tasks that happen once a day, exactly once however many
//! nodes run (decision 0017).
//!
//! Only the holder of the scheduler [`lease`] runs it, and every write it makes checks the
//! holder's fencing token. Each task is isolated — one that fails does not stop the others —
//! and guarded by unique keys, so running it twice, or on two nodes at once, changes nothing
//! the second time. Every real run of a task is recorded in `automation_runs` with its counts
//! and duration; a dry run writes nothing and reports what a real run would do.

mod dunning;
pub mod handlers;
mod housekeeping;
pub mod lease;
pub mod renewals;
pub mod scheduler;
pub mod views;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use chrono::NaiveDate;
use sea_orm::{ConnectionTrait, DbErr};

use crate::db::clock_statement;
use crate::site_settings::automation as settings;
use crate::state::AppState;
use lease::Held;

/// The automation page in its sample states, for the template test.
#[cfg(test)]
pub fn samples() -> Vec<crate::web::view::Sample> {
    views::AutomationPage::samples().iter().map(crate::web::view::Sample::page).collect()
}

/// A task of the daily run, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Task {
    Renewals,
    AutoCharge,
    LateFees,
    Reminders,
    Suspensions,
    Terminations,
    Cancellations,
    OrderCleanup,
    Housekeeping,
}

impl Task {
    pub const ALL: [Task; 9] = [
        Task::Renewals,
        Task::AutoCharge,
        Task::LateFees,
        Task::Reminders,
        Task::Suspensions,
        Task::Terminations,
        Task::Cancellations,
        Task::OrderCleanup,
        Task::Housekeeping,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Task::Renewals => "renewals",
            Task::AutoCharge => "auto_charge",
            Task::LateFees => "late_fees",
            Task::Reminders => "reminders",
            Task::Suspensions => "suspensions",
            Task::Terminations => "terminations",
            Task::Cancellations => "cancellations",
            Task::OrderCleanup => "order_cleanup",
            Task::Housekeeping => "housekeeping",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Task::Renewals => "Renewal invoices",
            Task::AutoCharge => "Automatic card payments",
            Task::LateFees => "Late fees",
            Task::Reminders => "Invoice reminders",
            Task::Suspensions => "Overdue suspensions",
            Task::Terminations => "Overdue terminations",
            Task::Cancellations => "Cancellations at the end of the period",
            Task::OrderCleanup => "Unpaid order cleanup",
            Task::Housekeeping => "Old email and abandoned carts",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

impl FromStr for Task {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Task::ALL.into_iter().find(|t| t.key() == s).ok_or_else(|| {
            let known: Vec<&str> = Task::ALL.iter().map(|t| t.key()).collect();
            format!("unknown task {s:?}; the tasks are {}", known.join(", "))
        })
    }
}

/// What one task did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct TaskReport {
    pub task: Task,
    pub counts: BTreeMap<&'static str, i64>,
    /// One line per action, for the dry run and the command's output.
    pub actions: Vec<String>,
    /// Why the task stopped, when it did.
    pub error: Option<String>,
    pub millis: u128,
}

impl TaskReport {
    fn new(task: Task) -> Self {
        TaskReport { task, counts: BTreeMap::new(), actions: Vec::new(), error: None, millis: 0 }
    }

    /// `invoices=3 lines=4` …
    pub fn summary(&self) -> String {
        self.counts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the automation lease was lost; another node runs the automation now")]
    LeaseLost,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Runs `tasks` for business date `date` as holder `held`; with `held` `None` it is a dry
/// run that writes nothing. A task that fails is reported and the next one runs; a lost
/// lease stops the run.
pub async fn run(
    state: &AppState,
    held: Option<&Held>,
    date: NaiveDate,
    tasks: &[Task],
) -> Result<Vec<TaskReport>, RunError> {
    let settings = settings::load(&state.db).await?;
    let mut reports = Vec::new();
    for &task in tasks {
        let started = Instant::now();
        let run_id = match held {
            Some(held) => Some(record_start(&state.db, task, date, held).await?.ok_or(RunError::LeaseLost)?),
            None => None,
        };
        let mut report = TaskReport::new(task);
        let result = match task {
            Task::Renewals => run_renewals(state, held, &settings, date, &mut report).await,
            Task::AutoCharge => dunning::auto_charges(state, held, &settings, date, &mut report).await,
            Task::LateFees => dunning::late_fees(state, held, &settings, date, &mut report).await,
            Task::Reminders => dunning::reminders(state, held, &settings, date, &mut report).await,
            Task::Suspensions => dunning::suspensions(state, held, &settings, date, &mut report).await,
            Task::Terminations => dunning::terminations(state, held, &settings, date, &mut report).await,
            Task::Cancellations => dunning::cancellations(state, held, date, &mut report).await,
            Task::OrderCleanup => dunning::order_cleanup(state, held, &settings, date, &mut report).await,
            Task::Housekeeping => housekeeping::run(state, held, &settings, date, &mut report).await,
        };
        report.millis = started.elapsed().as_millis();
        match result {
            Ok(()) => {}
            Err(TaskError::LeaseLost) => {
                if let Some(id) = run_id {
                    record_end(&state.db, id, &report, Some("the lease was lost")).await?;
                }
                return Err(RunError::LeaseLost);
            }
            Err(TaskError::Failed(message)) => {
                tracing::warn!(task = %task, error = %message, "automation task failed");
                report.error = Some(message);
            }
        }
        if let Some(id) = run_id {
            record_end(&state.db, id, &report, report.error.as_deref()).await?;
        }
        metrics::counter!("automation_task_runs_total", "task" => task.key(), "outcome" => if report.error.is_some() { "failed" } else { "done" }).increment(1);
        reports.push(report);
    }
    Ok(reports)
}

pub(crate) enum TaskError {
    LeaseLost,
    Failed(String),
}

impl From<renewals::RenewalError> for TaskError {
    fn from(err: renewals::RenewalError) -> Self {
        match err {
            renewals::RenewalError::LeaseLost => TaskError::LeaseLost,
            other => TaskError::Failed(other.to_string()),
        }
    }
}

async fn run_renewals(
    state: &AppState,
    held: Option<&Held>,
    settings: &settings::AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let planning = Instant::now();
    let planned = renewals::plan(state, settings, date).await?;
    tracing::info!(invoices = planned.len(), duration_ms = planning.elapsed().as_millis() as u64, "renewals planned");
    let Some(held) = held else {
        report.counts.insert("invoices", planned.len() as i64);
        report.counts.insert("lines", planned.iter().map(|p| p.items.len() as i64).sum());
        report.actions = planned.iter().map(renewals::Planned::describe).collect();
        return Ok(());
    };
    let outcome = renewals::apply(state, held, date, &planned).await?;
    report.counts.insert("invoices", outcome.invoices.len() as i64);
    report.counts.insert("lines", outcome.lines as i64);
    report.counts.insert("already_invoiced", outcome.already_invoiced as i64);
    report.counts.insert("failed", outcome.failures.len() as i64);
    report.actions = planned.iter().map(renewals::Planned::describe).collect();
    if !outcome.failures.is_empty() {
        return Err(TaskError::Failed(outcome.failures.join("; ")));
    }
    Ok(())
}

/// Records that `task` starts for `date`, under the holder's fence; `None` when the lease
/// was lost.
async fn record_start(
    db: &sea_orm::DatabaseConnection,
    task: Task,
    date: NaiveDate,
    held: &Held,
) -> Result<Option<i64>, DbErr> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let sql = "INSERT INTO automation_runs (task, run_date, holder, token, status, counts, started_ms) \
               VALUES (?, ?, ?, ?, 'running', '{}', {now}) RETURNING id";
    let values = vec![task.key().into(), date.into(), held.holder.clone().into(), held.token.into()];
    let row = txn
        .query_one_raw(clock_statement(backend, sql, values))
        .await?
        .ok_or_else(|| DbErr::Custom("the run was not recorded".into()))?;
    let id: i64 = row.try_get("", "id")?;
    if !lease::fence(&txn, held).await? {
        txn.rollback().await?;
        return Ok(None);
    }
    txn.commit().await?;
    Ok(Some(id))
}

async fn record_end(db: &impl ConnectionTrait, id: i64, report: &TaskReport, error: Option<&str>) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let counts = serde_json::to_string(&report.counts).unwrap_or_else(|_| "{}".into());
    let status = if error.is_some() { "failed" } else { "done" };
    let sql = "UPDATE automation_runs SET status = ?, counts = ?, error = ?, finished_ms = {now} WHERE id = ?";
    let values = vec![status.into(), counts.into(), error.map(str::to_owned).into(), id.into()];
    db.execute_raw(clock_statement(backend, sql, values)).await?;
    Ok(())
}

/// Whether `task` has finished a run for business date `date`.
pub async fn done_on(db: &impl ConnectionTrait, task: Task, date: NaiveDate) -> Result<bool, DbErr> {
    let sql = "SELECT COUNT(*) AS n FROM automation_runs WHERE task = ? AND run_date = ? AND status = 'done'";
    Ok(crate::db::count(db, sql, vec![task.key().into(), date.into()]).await? > 0)
}

/// A run started from the command line.
#[derive(Debug)]
pub struct Manual {
    pub date: NaiveDate,
    /// The fencing token it ran under (`None` for a dry run).
    pub token: Option<i64>,
    pub reports: Vec<TaskReport>,
}

/// Runs `tasks` now for `date` (today in the business's time zone by default): a dry run
/// reads only; a real run takes the scheduler lease first, waiting up to `wait` for another
/// holder to finish or expire, and gives it up afterwards.
pub async fn run_now(
    state: &AppState,
    date: Option<NaiveDate>,
    tasks: &[Task],
    dry_run: bool,
    wait: std::time::Duration,
) -> anyhow::Result<Manual> {
    let billing = crate::invoices::settings::load(&state.db).await?;
    let date = date.unwrap_or_else(|| state.clock.now().with_timezone(&billing.tz()).date_naive());
    if dry_run {
        let reports = run(state, None, date, tasks).await?;
        return Ok(Manual { date, token: None, reports });
    }
    let ttl = std::time::Duration::from_secs(state.settings.automation_lease_seconds.max(3));
    let owner = format!("{} (automation run)", crate::state::owner_name());
    let deadline = Instant::now() + wait;
    let held = loop {
        if let Some(held) = lease::acquire(&state.db, lease::SCHEDULER, &owner, ttl).await? {
            break held;
        }
        if Instant::now() >= deadline {
            let holder = lease::current(&state.db, lease::SCHEDULER).await?.map(|l| l.holder).unwrap_or_default();
            anyhow::bail!("another node holds the automation lease ({holder}); try again later");
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let result = scheduler::run_holding(state, &held, ttl, date, tasks).await;
    if let Err(err) = lease::release(&state.db, &held).await {
        tracing::warn!(error = %err, "giving the automation lease up failed; it expires by itself");
    }
    Ok(Manual { date, token: Some(held.token), reports: result? })
}

/// What the command prints after a run.
pub fn describe_run(run: &Manual, dry_run: bool) -> String {
    let mut out = String::new();
    let how = match run.token {
        Some(token) => format!("ran with lease token {token}"),
        None => "dry run: nothing was written".to_owned(),
    };
    out.push_str(&format!("automation for {} ({how})\n", run.date));
    for r in &run.reports {
        let state = match &r.error {
            Some(e) => format!("FAILED: {e}"),
            None => "ok".to_owned(),
        };
        out.push_str(&format!("{}: {} {} ({} ms) {state}\n", r.task, r.task.label(), r.summary(), r.millis));
        if dry_run {
            for action in &r.actions {
                out.push_str(&format!("  would make {action}\n"));
            }
        }
    }
    out
}

/// The lease holder and the last run of each task, for `automation status`.
pub async fn describe_status(state: &AppState) -> Result<String, DbErr> {
    let mut out = String::new();
    match lease::current(&state.db, lease::SCHEDULER).await? {
        Some(l) => out.push_str(&format!(
            "scheduler lease: {} (token {}, {})\n",
            l.holder,
            l.token,
            if l.live { "live" } else { "expired" }
        )),
        None => out.push_str("scheduler lease: never held\n"),
    }
    for run in last_runs(&state.db).await? {
        out.push_str(&format!(
            "{}: last run for {} {} {} ({} ms){}\n",
            run.task,
            run.run_date,
            run.status,
            run.counts,
            run.millis.unwrap_or(0),
            run.error.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    Ok(out)
}

/// The last recorded run of a task.
#[derive(Debug, Clone)]
pub struct LastRun {
    pub task: String,
    pub run_date: NaiveDate,
    pub status: String,
    pub counts: String,
    pub error: Option<String>,
    pub holder: String,
    pub started_ms: i64,
    pub millis: Option<i64>,
}

pub async fn last_runs(db: &impl ConnectionTrait) -> Result<Vec<LastRun>, DbErr> {
    let backend = db.get_database_backend();
    let sql = "SELECT task, run_date, status, counts, error, holder, started_ms, finished_ms FROM automation_runs \
               WHERE id IN (SELECT MAX(id) FROM automation_runs GROUP BY task) ORDER BY task";
    let rows = db.query_all_raw(clock_statement(backend, sql, Vec::new())).await?;
    rows.iter()
        .map(|r| {
            let started_ms: i64 = r.try_get("", "started_ms")?;
            let finished_ms: Option<i64> = r.try_get("", "finished_ms")?;
            Ok(LastRun {
                task: r.try_get("", "task")?,
                run_date: r.try_get("", "run_date")?,
                status: r.try_get("", "status")?,
                counts: r.try_get("", "counts")?,
                error: r.try_get("", "error")?,
                holder: r.try_get("", "holder")?,
                started_ms,
                millis: finished_ms.map(|f| f - started_ms),
            })
        })
        .collect()
}
