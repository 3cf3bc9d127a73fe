//! Task 1 of the daily run: renewal invoices for services whose next period starts within
//! the lead time (the automation setting, or the product's own).
//!
//! The run first **plans** — which services, which periods, grouped per client and
//! currency, at what totals — and a dry run prints that plan. A real run then writes the
//! planned invoices a batch per transaction (two batches at once on PostgreSQL): every
//! service's `next_invoice_date` moves to the end of the invoiced period by a guarded UPDATE
//! (still at the period's start, still billable), so a service another run invoiced
//! meanwhile drops out; the invoices are issued, the holder's fencing token is checked, and
//! the batch commits. The unique index on renewal lines
//! per (service, period start) makes a second invoice for a period impossible whatever
//! happens. Paying the invoice moves the services' `next_due_date` ([`after_invoice_paid`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Days, NaiveDate, Utc};
use futures::TryStreamExt as _;
use hostwright_core::{BillingCycle, Currency, DueSchedule, Line, Money, Period, Totals};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, TransactionTrait};

use super::lease::{self, Held};
use crate::audit::{self, Actor};
use crate::catalog::model::product;
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId, ServiceId};
use crate::invoices::batch::{self, NewInvoice};
use crate::invoices::drafts::{BilledLine, TaxBuyer, TaxTable};
use crate::invoices::model::line;
use crate::invoices::service::InvoiceError;
use crate::invoices::settings::{self as billing_settings, BillingSettings};
use crate::orders::cart;
use crate::services::cancellations;
use crate::services::model::{cancellation, service};
use crate::site_settings::automation::AutomationSettings;
use crate::state::AppState;

/// The line kind of a renewal; unique per (service, period start).
pub const KIND: &str = "renewal";

/// One service's next period, to be invoiced.
#[derive(Debug, Clone)]
pub struct Item {
    pub service_id: ServiceId,
    pub period: Period,
    pub line: Line,
}

/// A renewal invoice the run will make.
#[derive(Debug, Clone)]
pub struct Planned {
    pub client: client::Model,
    pub currency: Currency,
    pub due_date: NaiveDate,
    pub items: Vec<Item>,
    pub totals: Totals,
}

impl Planned {
    /// How the dry run and the report describe it.
    pub fn describe(&self) -> String {
        let services: Vec<String> = self
            .items
            .iter()
            .map(|i| format!("service #{} {} – {}", i.service_id, i.period.start, i.period.end))
            .collect();
        format!(
            "renewal invoice for client #{} ({}): {}, due {}, {}",
            self.client.id,
            self.client.email,
            self.totals.grand_total,
            self.due_date,
            services.join(", ")
        )
    }
}

/// What a renewal run did (or, dry, would do).
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub invoices: Vec<InvoiceId>,
    pub lines: usize,
    /// Services another run had invoiced by the time this one came to them.
    pub already_invoiced: usize,
    /// Planned invoices that failed, with why; the others went ahead.
    pub failures: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenewalError {
    #[error("the automation lease was lost; another node runs the automation now")]
    LeaseLost,
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<InvoiceError> for RenewalError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::Internal(err) => RenewalError::Other(err),
            other => RenewalError::Other(anyhow::Error::new(other)),
        }
    }
}

const BILLABLE: [&str; 2] = ["active", "suspended"];

/// The next period of service `s` starting on `start`: one cycle on the service's billing day
/// (set when it was ordered, added or its due date edited), so a service billed on the 31st is
/// due on the last day of shorter months and on the 31st again after them. A service from
/// before billing days were kept uses the pro-rata day or its registration day.
pub fn period_from(
    s: &service::Model,
    product: Option<&product::Model>,
    cycle: BillingCycle,
    start: NaiveDate,
) -> Option<Period> {
    let day = s.billing_day.and_then(|d| u32::try_from(d).ok()).unwrap_or_else(|| {
        product.map_or_else(|| s.registration_date.day(), |p| p.billing_day_on(s.registration_date))
    });
    let schedule = DueSchedule::with_day_of_month(start, day, cycle).unwrap_or_else(|_| DueSchedule::new(start, cycle));
    schedule.period(0)
}

/// The renewal invoices due on `date`, grouped as the settings say; nothing is written.
pub async fn plan(
    state: &AppState,
    settings: &AutomationSettings,
    date: NaiveDate,
) -> Result<Vec<Planned>, RenewalError> {
    let db = &state.db;
    let billing = billing_settings::load(db).await?;
    let products: HashMap<_, _> = product::Entity::find().all(db).await?.into_iter().map(|p| (p.id, p)).collect();
    let longest = products
        .values()
        .filter_map(|p| p.renewal_invoice_days)
        .filter_map(|d| u32::try_from(d).ok())
        .chain([settings.renewal_invoice_days])
        .max()
        .unwrap_or(0);
    let horizon = date.checked_add_days(Days::new(u64::from(longest))).unwrap_or(date);
    // Streamed into models rather than fetched whole: a hundred thousand rows held at once
    // as SQLite values took ten times the memory of the models.
    let services = async {
        service::Entity::find()
            .filter(service::Column::Status.is_in(BILLABLE))
            .filter(service::Column::NextInvoiceDate.lte(horizon))
            .stream(db)
            .await?
            .try_collect::<Vec<_>>()
            .await
    };
    // A service the client asked to cancel is not renewed.
    let cancelling = cancellation::Entity::find().filter(cancellation::Column::Status.eq(cancellations::OPEN)).all(db);
    // The owners of the services due, in one query rather than by lists of ids.
    let owners = Query::select()
        .column(service::Column::ClientId)
        .from(service::Entity)
        .and_where(service::Column::Status.is_in(BILLABLE))
        .and_where(service::Column::NextInvoiceDate.lte(horizon))
        .to_owned();
    // The clients are read by a task of their own, on their own connection: the database
    // scans on one core for it and on the other for the services, and the rows are decoded
    // on both threads of the runtime.
    let clients = tokio::spawn({
        let db = db.clone();
        async move {
            let clients = client::Entity::find().filter(client::Column::Id.in_subquery(owners)).stream(&db).await?;
            clients.map_ok(|c| (c.id, c)).try_collect::<HashMap<ClientId, client::Model>>().await
        }
    });
    let (mut services, cancelling) = tokio::try_join!(services, cancelling)?;
    // Sorted here, not by the query: SQLite would walk the client index and fetch a million
    // rows one by one instead of reading the table through.
    services.sort_unstable_by_key(|s| (s.client_id, s.id));
    let clients = clients.await.map_err(|e| anyhow::anyhow!("reading the clients to invoice: {e}"))??;
    let cancelling: HashSet<ServiceId> = cancelling.into_iter().map(|r| r.service_id).collect();

    let currencies = crate::catalog::service::currencies_by_code(db).await?;
    let mut groups: BTreeMap<(ClientId, String, Option<ServiceId>), Vec<Item>> = BTreeMap::new();
    for s in &services {
        let Some(start) = s.next_invoice_date else { continue };
        if cancelling.contains(&s.id) {
            continue;
        }
        let product = products.get(&s.product_id);
        let lead = product
            .and_then(|p| p.renewal_invoice_days)
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(settings.renewal_invoice_days);
        if start > date.checked_add_days(Days::new(u64::from(lead))).unwrap_or(date) {
            continue;
        }
        let Ok(cycle) = s.billing_cycle.parse::<BillingCycle>() else {
            tracing::warn!(service = %s.id, cycle = %s.billing_cycle, "a service with an unknown billing cycle is not renewed");
            continue;
        };
        if !cycle.is_recurring() || s.recurring_minor <= 0 {
            continue;
        }
        let Some(&currency) = currencies.get(&s.currency_code) else { continue };
        let Some(period) = period_from(s, product, cycle, start) else { continue };
        let name = product.map_or("Service", |p| p.name.as_str());
        let description = format!("{name}{}", cart::subject(&s.domain, &s.hostname));
        let line =
            Line::new(cart::with_period(&description, Some(period)), Money::from_minor(s.recurring_minor, currency), 1);
        let line = if product.is_none_or(|p| p.taxable) { line } else { line.untaxed() };
        let key = (s.client_id, s.currency_code.clone(), (!settings.group_renewals).then_some(s.id));
        groups.entry(key).or_default().push(Item { service_id: s.id, period, line });
    }

    let taxes = TaxTable::load(db, &billing).await?;
    let mut planned = Vec::new();
    for ((client_id, code, _), items) in groups {
        let Some(c) = clients.get(&client_id) else { continue };
        if c.anonymised_at.is_some() {
            continue;
        }
        let Some(&currency) = currencies.get(&code) else { continue };
        let totals = totals(&taxes, c, currency, &items)?;
        let due_date = items.iter().map(|i| i.period.start).min().unwrap_or(date);
        planned.push(Planned { client: c.clone(), currency, due_date, items, totals });
    }
    Ok(planned)
}

fn totals(taxes: &TaxTable, c: &client::Model, currency: Currency, items: &[Item]) -> Result<Totals, RenewalError> {
    let lines: Vec<Line> = items.iter().map(|i| i.line.clone()).collect();
    Ok(taxes.totals(TaxBuyer::client(c), currency, &lines)?)
}

/// Planned invoices written per transaction. A batch that fails is written again one
/// invoice at a time, so one bad invoice does not hold the others back.
const BATCH: usize = 500;

/// Batches written at once on PostgreSQL. A batch waits for the invoice counter only from
/// the moment it numbers its invoices, so a second writer moves its services meanwhile and
/// the database's work spreads over two cores. SQLite has one writer whatever we do.
const WRITERS: usize = 2;

/// Writes the planned invoices under the lease `held`, issued on `date`, a batch per
/// transaction. A planned invoice that fails is reported and the others go ahead; a lost
/// lease stops the run.
pub async fn apply(
    state: &AppState,
    held: &Held,
    date: NaiveDate,
    planned: &[Planned],
) -> Result<Outcome, RenewalError> {
    use futures::StreamExt as _;

    let billing = billing_settings::load(&state.db).await?;
    let taxes = TaxTable::load(&state.db, &billing).await?;
    let writers = if state.db.get_database_backend() == sea_orm::DbBackend::Postgres { WRITERS } else { 1 };
    let mut outcome = Outcome::default();
    // The futures are made up front: a closure inside the stream would make the caller's
    // future fail to be `Send` (a known limit of the compiler with higher-ranked lifetimes).
    let batches: Vec<_> =
        planned.chunks(BATCH).map(|batch| apply_or_split(state, held, &billing, &taxes, date, batch)).collect();
    let mut written = futures::stream::iter(batches).buffer_unordered(writers);
    while let Some(done) = written.next().await {
        // A lost lease ends the run; the batches still in flight roll back as they drop.
        outcome.add(done?);
    }
    if !outcome.invoices.is_empty() {
        state.jobs_wakeup.notify_one();
    }
    Ok(outcome)
}

/// Writes `batch` in one transaction or, when that fails, one invoice per transaction;
/// fails only when the lease is lost.
async fn apply_or_split(
    state: &AppState,
    held: &Held,
    billing: &BillingSettings,
    taxes: &TaxTable,
    date: NaiveDate,
    batch: &[Planned],
) -> Result<Outcome, RenewalError> {
    let err = match apply_batch(state, held, billing, taxes, date, batch).await {
        Ok(done) => return Ok(done),
        Err(RenewalError::LeaseLost) => return Err(RenewalError::LeaseLost),
        Err(err) => err,
    };
    let mut outcome = Outcome::default();
    if let [p] = batch {
        outcome.failures.push(format!("client #{}: {err}", p.client.id));
        return Ok(outcome);
    }
    tracing::warn!(error = %err, invoices = batch.len(), "a batch of renewal invoices failed; writing them one by one");
    for p in batch {
        match apply_batch(state, held, billing, taxes, date, std::slice::from_ref(p)).await {
            Ok(done) => outcome.add(done),
            Err(RenewalError::LeaseLost) => return Err(RenewalError::LeaseLost),
            Err(err) => outcome.failures.push(format!("client #{}: {err}", p.client.id)),
        }
    }
    Ok(outcome)
}

impl Outcome {
    fn add(&mut self, other: Outcome) {
        self.invoices.extend(other.invoices);
        self.lines += other.lines;
        self.already_invoiced += other.already_invoiced;
        self.failures.extend(other.failures);
    }
}

/// Writes one batch of planned invoices in one transaction: moves each service's
/// `next_invoice_date` past the period by a guarded UPDATE (a service another run invoiced
/// meanwhile drops out, and an invoice left with none is not made), issues the invoices,
/// and commits under the holder's fence.
async fn apply_batch(
    state: &AppState,
    held: &Held,
    billing: &BillingSettings,
    taxes: &TaxTable,
    date: NaiveDate,
    batch: &[Planned],
) -> Result<Outcome, RenewalError> {
    let txn = state.db.begin().await?;
    let items: Vec<&Item> = batch.iter().flat_map(|p| &p.items).collect();
    let moved = move_next_invoice_dates(&txn, &items).await?;
    let mut outcome = Outcome::default();
    let mut invoices = Vec::with_capacity(batch.len());
    let mut lines_kept = 0;
    for p in batch {
        let kept: Vec<&Item> = p.items.iter().filter(|i| moved.contains(&i.service_id)).collect();
        outcome.already_invoiced += p.items.len() - kept.len();
        if kept.is_empty() {
            continue;
        }
        let totals = if kept.len() == p.items.len() {
            p.totals.clone()
        } else {
            let kept: Vec<Item> = kept.iter().map(|&i| i.clone()).collect();
            totals(taxes, &p.client, p.currency, &kept)?
        };
        let lines = kept
            .iter()
            .map(|i| BilledLine {
                line: i.line.clone(),
                kind: KIND,
                service_id: Some(i.service_id),
                service_addon_id: None,
                period: Some(i.period),
            })
            .collect();
        let due_date = kept.iter().map(|i| i.period.start).min().unwrap_or(date);
        let reason = format!(
            "renewal of {}",
            kept.iter()
                .map(|i| format!("service #{} from {}", i.service_id, i.period.start))
                .collect::<Vec<_>>()
                .join(", ")
        );
        invoices.push(NewInvoice {
            client: &p.client,
            currency: p.currency,
            due_date,
            lines,
            totals,
            reason: Some(reason),
        });
        lines_kept += kept.len();
    }
    if invoices.is_empty() {
        txn.rollback().await?;
        return Ok(outcome);
    }
    let actor = Actor::system("automation");
    let issued = batch::issue_many(&txn, &actor, billing, date, &invoices).await?;
    if !lease::fence(&txn, held).await? {
        txn.rollback().await?;
        return Err(RenewalError::LeaseLost);
    }
    txn.commit().await?;
    outcome.lines = lines_kept;
    outcome.invoices = issued.into_iter().map(|i| i.id).collect();
    Ok(outcome)
}

/// Services per guarded UPDATE (three parameters each on SQLite).
const MOVES_PER_STATEMENT: usize = 2000;

/// Moves each item's service from the period's start to its end — only where the service
/// still starts its next invoice there and is still billable — and returns the services
/// moved: one UPDATE joined to the list of moves (hot path, raw SQL per backend: a JSON
/// parameter on PostgreSQL, a VALUES list on SQLite).
async fn move_next_invoice_dates(txn: &impl ConnectionTrait, items: &[&Item]) -> Result<HashSet<ServiceId>, DbErr> {
    let backend = txn.get_database_backend();
    let mut moved = HashSet::with_capacity(items.len());
    let now = Utc::now();
    for chunk in items.chunks(MOVES_PER_STATEMENT) {
        let (sql, values) = if backend == sea_orm::DbBackend::Postgres {
            let moves: Vec<serde_json::Value> = chunk
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "id": i.service_id.0,
                        "period_start": i.period.start.to_string(),
                        "period_end": i.period.end.to_string(),
                    })
                })
                .collect();
            let sql = "UPDATE services SET next_invoice_date = v.period_end, updated_at = ? \
                       FROM json_to_recordset(?::json) AS v(id bigint, period_start date, period_end date) \
                       WHERE services.id = v.id AND services.next_invoice_date = v.period_start \
                       AND services.status IN ('active', 'suspended') RETURNING services.id"
                .to_owned();
            (sql, vec![now.into(), serde_json::Value::Array(moves).to_string().into()])
        } else {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "UPDATE services SET next_invoice_date = v.column3, updated_at = ? FROM (VALUES {rows}) AS v \
                 WHERE services.id = v.column1 AND services.next_invoice_date = v.column2 \
                 AND services.status IN ('active', 'suspended') RETURNING id"
            );
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 3 + 1);
            values.push(now.into());
            for item in chunk {
                values.extend([item.service_id.0.into(), item.period.start.into(), item.period.end.into()]);
            }
            (sql, values)
        };
        for row in txn.query_all_raw(crate::db::clock_statement(backend, &sql, values)).await? {
            moved.insert(ServiceId(row.try_get("", "id")?));
        }
    }
    Ok(moved)
}

/// After invoice `id` is paid: each service it renewed is paid up to the end of its period
/// (`next_due_date` moves there), once — guarded by the due date still being the period's
/// start. A suspended service is left to the unsuspension that follows payment.
pub async fn after_invoice_paid(state: &AppState, id: InvoiceId) -> Result<usize, DbErr> {
    let lines = line::Entity::find()
        .filter(line::Column::InvoiceId.eq(id))
        .filter(line::Column::Kind.eq(KIND))
        .all(&state.db)
        .await?;
    if lines.is_empty() {
        return Ok(0);
    }
    let txn = state.db.begin().await?;
    let mut renewed = 0;
    for l in &lines {
        let (Some(service_id), Some(start), Some(end)) = (l.service_id, l.period_start, l.period_end) else {
            continue;
        };
        let moved = txn
            .execute(
                Query::update()
                    .table(service::Entity)
                    .value(service::Column::NextDueDate, end)
                    .value(service::Column::PaidPeriodStart, start)
                    .value(service::Column::PaidPeriodMinor, l.amount_minor)
                    .value(service::Column::UpdatedAt, Utc::now())
                    .and_where(Expr::col(service::Column::Id).eq(service_id))
                    .and_where(Expr::col(service::Column::NextDueDate).eq(start)),
            )
            .await?
            .rows_affected();
        if moved == 1 {
            renewed += 1;
            // Suspended for not paying: back on, as a job (the module call is no part of a
            // transaction). Suspended by staff for anything else: left as it is.
            if let Some(s) = service::Entity::find_by_id(service_id).one(&txn).await?
                && s.status == "suspended"
                && s.suspend_reason == crate::services::jobs::OVERDUE_REASON
            {
                crate::jobs::enqueue(
                    &txn,
                    &crate::services::jobs::Unsuspend { service_id, invoice_id: id },
                    crate::jobs::Enqueue::unique(format!("unsuspend-paid:{service_id}:{id}")),
                )
                .await?;
            }
            audit::record(
                &txn,
                &Actor::system("billing"),
                "service.renewed",
                Some(("service", service_id.0)),
                format!("Paid until {end} (invoice #{id})"),
            )
            .await?;
        }
    }
    txn.commit().await?;
    if renewed > 0 {
        state.jobs_wakeup.notify_one();
    }
    Ok(renewed)
}
