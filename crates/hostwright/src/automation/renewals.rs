//! Task 1 of the daily run: renewal invoices for services whose next period starts within
//! the lead time (the automation setting, or the product's own).
//!
//! The run first **plans** — which services, which periods, grouped per client and
//! currency, at what totals — and a dry run prints that plan. A real run then writes each
//! planned invoice in its own transaction: every service's `next_invoice_date` moves to the
//! end of the invoiced period by a guarded UPDATE (still at the period's start, still
//! billable), so a service another run invoiced meanwhile drops out; the invoice is issued,
//! the holder's fencing token is checked, and it commits. The unique index on renewal lines
//! per (service, period start) makes a second invoice for a period impossible whatever
//! happens. Paying the invoice moves the services' `next_due_date` ([`after_invoice_paid`]).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Datelike, Days, NaiveDate, Utc};
use hostwright_core::{BillingCycle, Currency, DueSchedule, Line, Money, Period, Totals};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{QueryOrder, TransactionTrait};

use super::lease::{self, Held};
use super::settings::AutomationSettings;
use crate::audit::{self, Actor};
use crate::catalog::model::product;
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId, ServiceId};
use crate::invoices::model::line;
use crate::invoices::service::{self as invoices, BilledLine, InvoiceError, TaxBuyer};
use crate::invoices::settings::{self as billing_settings, BillingSettings};
use crate::orders::cart;
use crate::services::cancellations;
use crate::services::model::{cancellation, service};
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
            other => RenewalError::Other(anyhow::anyhow!("{other}")),
        }
    }
}

const BILLABLE: [&str; 2] = ["active", "suspended"];

/// The next period of service `s` starting on `start`: one cycle on the service's day of
/// month (the pro-rata billing day, or the day it was registered), so a service started
/// on the 31st is due on the last day of shorter months and on the 31st again after them.
pub fn period_from(
    s: &service::Model,
    product: Option<&product::Model>,
    cycle: BillingCycle,
    start: NaiveDate,
) -> Option<Period> {
    let day = match product {
        Some(p) if p.prorata_enabled => u32::try_from(p.prorata_day).unwrap_or(1),
        _ => s.registration_date.day(),
    };
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
    let services = service::Entity::find()
        .filter(service::Column::Status.is_in(BILLABLE))
        .filter(service::Column::NextInvoiceDate.lte(horizon))
        .order_by_asc(service::Column::ClientId)
        .order_by_asc(service::Column::Id)
        .all(db)
        .await?;
    // A service the client asked to cancel is not renewed.
    let cancelling: HashSet<ServiceId> = cancellation::Entity::find()
        .filter(cancellation::Column::Status.eq(cancellations::OPEN))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.service_id)
        .collect();

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

    let mut planned = Vec::new();
    for ((client_id, code, _), items) in groups {
        let Some(c) = crate::clients::store::find(db, client_id).await? else { continue };
        if c.anonymised_at.is_some() {
            continue;
        }
        let Some(&currency) = currencies.get(&code) else { continue };
        let totals = totals(db, &billing, &c, currency, &items).await?;
        let due_date = items.iter().map(|i| i.period.start).min().unwrap_or(date);
        planned.push(Planned { client: c, currency, due_date, items, totals });
    }
    Ok(planned)
}

async fn totals(
    db: &impl ConnectionTrait,
    billing: &BillingSettings,
    c: &client::Model,
    currency: Currency,
    items: &[Item],
) -> Result<Totals, RenewalError> {
    let lines: Vec<Line> = items.iter().map(|i| i.line.clone()).collect();
    Ok(invoices::totals_for(db, billing, TaxBuyer::client(c), currency, &lines).await?)
}

/// Writes the planned invoices, each in its own transaction under the lease `held`, issued
/// on `date`. A planned invoice that fails is reported and the others go ahead; a lost
/// lease stops the run.
pub async fn apply(
    state: &AppState,
    held: &Held,
    date: NaiveDate,
    planned: &[Planned],
) -> Result<Outcome, RenewalError> {
    let billing = billing_settings::load(&state.db).await?;
    let mut outcome = Outcome::default();
    for p in planned {
        match apply_one(state, held, &billing, date, p).await {
            Ok((invoice, kept)) => {
                outcome.already_invoiced += p.items.len() - kept;
                if let Some(id) = invoice {
                    outcome.invoices.push(id);
                    outcome.lines += kept;
                }
            }
            Err(RenewalError::LeaseLost) => return Err(RenewalError::LeaseLost),
            Err(err) => outcome.failures.push(format!("client #{}: {err}", p.client.id)),
        }
    }
    if !outcome.invoices.is_empty() {
        state.outbox_wakeup.notify_one();
    }
    Ok(outcome)
}

async fn apply_one(
    state: &AppState,
    held: &Held,
    billing: &BillingSettings,
    date: NaiveDate,
    p: &Planned,
) -> Result<(Option<InvoiceId>, usize), RenewalError> {
    let c = &p.client;
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut kept = Vec::new();
    for item in &p.items {
        let moved = txn
            .execute(
                Query::update()
                    .table(service::Entity)
                    .value(service::Column::NextInvoiceDate, item.period.end)
                    .value(service::Column::UpdatedAt, now)
                    .and_where(Expr::col(service::Column::Id).eq(item.service_id))
                    .and_where(Expr::col(service::Column::NextInvoiceDate).eq(item.period.start))
                    .and_where(Expr::col(service::Column::Status).is_in(BILLABLE)),
            )
            .await?
            .rows_affected();
        if moved == 1 {
            kept.push(item.clone());
        }
    }
    if kept.is_empty() {
        txn.rollback().await?;
        return Ok((None, 0));
    }
    let totals = if kept.len() == p.items.len() {
        p.totals.clone()
    } else {
        totals(&txn, billing, c, p.currency, &kept).await?
    };
    let billed: Vec<BilledLine> = kept
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
    let actor = Actor::system("automation");
    let draft = invoices::insert_draft(&txn, c, due_date, "", &billed, &totals).await?;
    let issued = invoices::issue_on(state, &txn, &actor, billing, c, draft.id, Some(date)).await?;
    audit::record(
        &txn,
        &actor,
        "invoice.renewal",
        Some(("invoice", issued.id.0)),
        format!(
            "Renewal invoice {} for {}",
            issued.display_number(),
            kept.iter()
                .map(|i| format!("service #{} from {}", i.service_id, i.period.start))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .await?;
    if !lease::fence(&txn, held).await? {
        txn.rollback().await?;
        return Err(RenewalError::LeaseLost);
    }
    txn.commit().await?;
    Ok((Some(issued.id), kept.len()))
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
                && s.suspend_reason == super::jobs::OVERDUE_REASON
            {
                crate::jobs::enqueue(
                    &txn,
                    &super::jobs::Unsuspend { service_id, invoice_id: id },
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
