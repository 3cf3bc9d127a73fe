//! A calendar of services to run the automation against, and the check of what it must have
//! done: for the race harness (`scripts/race-automation`) and the billing benchmark.
//!
//! Nobody pays in the lab, so the calendar alone says where every service must stand: each
//! period from its due date on invoiced exactly once and back to back, up to the renewal
//! horizon; suspended from the suspension day, terminated from the termination day.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Datelike, Days, NaiveDate, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Query;
use sea_orm::{QueryOrder, QuerySelect, TransactionTrait};

use crate::clients::model::client;
use crate::services::model::service;
use crate::site_settings::automation::{self as settings, AutomationSettings};
use crate::state::AppState;

const CYCLES: [(&str, u32); 4] = [("monthly", 60), ("quarterly", 15), ("semi_annually", 5), ("annually", 20)];

/// A small deterministic generator, so a seeded calendar can be made again.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// Adds `count` active services spread over `clients` clients (made as needed), on a mix of
/// cycles: `due_fraction` of them fall due within the renewal lead time of `start`, the rest
/// over the following year. Sets up what invoicing needs (a company name, a product) when
/// missing, and the automation settings the lab expects. Returns how long it took.
pub async fn seed(
    state: &AppState,
    count: u64,
    clients: u64,
    start: NaiveDate,
    due_fraction: f64,
    seed: u64,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut billing = crate::invoices::settings::load(&state.db).await?;
    if billing.company_name.trim().is_empty() {
        billing.company_name = "Lab Hosting Ltd".into();
        billing.country = "DE".into();
        crate::invoices::settings::save(&state.db, &billing).await?;
    }
    let mut automation = settings::load(&state.db).await?;
    if automation.terminate_after_days.is_none() {
        automation.terminate_after_days = Some(30);
        automation.late_fee_after_days = Some(10);
        automation.late_fee_fixed = "5".into();
        automation.late_fee_percent = "2".into();
        settings::save(&state.db, &automation).await?;
    }
    let existing = client::Entity::find().count(&state.db).await?;
    if existing < clients {
        crate::dev::seed_clients(state, clients - existing).await?;
    }
    let client_ids: Vec<i64> = client::Entity::find()
        .select_only()
        .column(client::Column::Id)
        .order_by_asc(client::Column::Id)
        .limit(clients.max(1))
        .into_tuple()
        .all(&state.db)
        .await?;
    anyhow::ensure!(!client_ids.is_empty(), "no clients to give services to");
    let product = lab_product(state).await?;
    let currency = crate::catalog::model::currency::Entity::find()
        .all(&state.db)
        .await?
        .into_iter()
        .find(|c| c.is_default)
        .context("no default currency")?;
    let lead = u64::from(automation.renewal_invoice_days);
    let mut rng = Lcg(seed);
    let now = Utc::now();
    let batch = 1000;
    let mut done = 0;
    while done < count {
        let txn = state.db.begin().await?;
        let mut insert = Query::insert();
        insert.into_table(service::Entity).columns([
            service::Column::ClientId,
            service::Column::ProductId,
            service::Column::Status,
            service::Column::CurrencyCode,
            service::Column::BillingCycle,
            service::Column::RecurringMinor,
            service::Column::FirstPaymentMinor,
            service::Column::RegistrationDate,
            service::Column::NextDueDate,
            service::Column::NextInvoiceDate,
            service::Column::BillingDay,
            service::Column::Domain,
            service::Column::CreatedAt,
            service::Column::UpdatedAt,
        ]);
        for i in done..(done + batch).min(count) {
            let client_id = client_ids[usize::try_from(rng.below(client_ids.len() as u64)).unwrap_or(0)];
            let mut pick = rng.below(100);
            let cycle = CYCLES
                .iter()
                .find(|(_, share)| {
                    let hit = pick < u64::from(*share);
                    pick = pick.saturating_sub(u64::from(*share));
                    hit
                })
                .map_or("monthly", |(c, _)| *c);
            let due_now = (rng.below(1_000_000) as f64) < due_fraction * 1_000_000.0;
            let offset = if due_now { rng.below(lead + 1) } else { lead + 1 + rng.below(365) };
            let due = start.checked_add_days(Days::new(offset)).unwrap_or(start);
            let registered = due.checked_sub_days(Days::new(30 + rng.below(700))).unwrap_or(due);
            let price = 500 + i64::try_from(rng.below(5000)).unwrap_or(0);
            insert.values_panic([
                client_id.into(),
                product.0.into(),
                "active".into(),
                currency.code.clone().into(),
                cycle.into(),
                price.into(),
                price.into(),
                registered.into(),
                due.into(),
                due.into(),
                i32::try_from(due.day()).unwrap_or(1).into(),
                format!("lab{i}.example").into(),
                now.into(),
                now.into(),
            ]);
        }
        txn.execute(&insert).await.context("inserting services")?;
        txn.commit().await?;
        done = (done + batch).min(count);
    }
    Ok(started.elapsed())
}

const LAB_PRODUCT: &str = "Lab hosting";

/// The lab's product, made the first time.
async fn lab_product(state: &AppState) -> anyhow::Result<crate::ids::ProductId> {
    use crate::catalog::model::product;
    if let Some(p) = product::Entity::find().filter(product::Column::Name.eq(LAB_PRODUCT)).one(&state.db).await? {
        return Ok(p.id);
    }
    let id = crate::dev::bench_product(state, 0).await?;
    product::Entity::update_many()
        .col_expr(product::Column::Name, sea_orm::sea_query::Expr::value(LAB_PRODUCT))
        .filter(product::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    Ok(id)
}

/// What the check found; `violations` must be zero.
#[derive(Debug, Default)]
pub struct Check {
    pub counts: BTreeMap<&'static str, i64>,
    pub violations: Vec<String>,
}

impl Check {
    pub fn summary(&self) -> String {
        self.counts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
    }
}

async fn count(state: &AppState, sql: &str) -> Result<i64, DbErr> {
    crate::db::count(&state.db, sql, Vec::new()).await
}

/// Checks the database after the automation ran for every day up to `date` and its jobs were
/// drained, nobody having paid.
pub async fn check(state: &AppState, date: NaiveDate) -> anyhow::Result<Check> {
    let settings: AutomationSettings = settings::load(&state.db).await?;
    let mut c = Check::default();
    let duplicate_lines = count(
        state,
        "SELECT COUNT(*) AS n FROM (SELECT service_id, period_start FROM invoice_lines WHERE kind = 'renewal' \
         GROUP BY service_id, period_start HAVING COUNT(*) > 1) d",
    )
    .await?;
    let reminders = count(state, "SELECT COUNT(*) AS n FROM invoice_reminders").await?;
    let reminder_emails =
        count(state, "SELECT COUNT(*) AS n FROM email_outbox WHERE template = 'invoice_reminder'").await?;
    let duplicate_reminders = count(
        state,
        "SELECT COUNT(*) AS n FROM (SELECT invoice_id, step FROM invoice_reminders GROUP BY invoice_id, step \
         HAVING COUNT(*) > 1) d",
    )
    .await?;
    let jobs_open = count(state, "SELECT COUNT(*) AS n FROM jobs WHERE status IN ('pending', 'running')").await?;
    let jobs_failed = count(state, "SELECT COUNT(*) AS n FROM jobs WHERE status = 'failed'").await?;
    c.counts.insert("invoices", count(state, "SELECT COUNT(*) AS n FROM invoices").await?);
    c.counts
        .insert("renewal_lines", count(state, "SELECT COUNT(*) AS n FROM invoice_lines WHERE kind = 'renewal'").await?);
    c.counts.insert("duplicate_renewal_lines", duplicate_lines);
    c.counts.insert("reminders", reminders);
    c.counts.insert("duplicate_reminders", duplicate_reminders + (reminder_emails - reminders).abs());
    c.counts.insert("jobs_done", count(state, "SELECT COUNT(*) AS n FROM jobs WHERE status = 'done'").await?);
    c.counts.insert("jobs_lost", jobs_open + jobs_failed);
    let late_fees = count(state, "SELECT COUNT(*) AS n FROM late_fees").await?;
    let fee_lines = count(state, "SELECT COUNT(*) AS n FROM invoice_lines WHERE kind = 'late_fee'").await?;
    c.counts.insert("late_fees", late_fees);
    c.counts.insert("duplicate_late_fees", (fee_lines - late_fees).abs());
    if fee_lines != late_fees {
        c.violations.push(format!("{late_fees} late fees recorded but {fee_lines} late-fee lines invoiced"));
    }
    if let Some(days) = settings.late_fee_after_days {
        let cutoff = date.checked_sub_days(Days::new(u64::from(days))).unwrap_or(date);
        let missing = crate::db::count(
            &state.db,
            "SELECT COUNT(*) AS n FROM invoices i WHERE i.status = 'unpaid' AND i.due_date <= ? \
             AND NOT EXISTS (SELECT 1 FROM late_fees f WHERE f.invoice_id = i.id OR f.fee_invoice_id = i.id)",
            vec![cutoff.into()],
        )
        .await?;
        if missing > 0 {
            c.violations.push(format!("{missing} invoices overdue by {days} days or more have no late fee"));
        }
    }
    if duplicate_lines > 0 {
        c.violations.push(format!("{duplicate_lines} (service, period) pairs invoiced more than once"));
    }
    if duplicate_reminders > 0 || reminder_emails != reminders {
        c.violations.push(format!("{reminders} reminders recorded but {reminder_emails} reminder emails queued"));
    }
    if jobs_open + jobs_failed > 0 {
        c.violations.push(format!("{jobs_open} jobs still open and {jobs_failed} failed after the drain"));
    }

    // Every service where its calendar puts it.
    use crate::invoices::model::line;
    let horizon = date.checked_add_days(Days::new(u64::from(settings.renewal_invoice_days))).unwrap_or(date);
    let services = service::Entity::find().order_by_asc(service::Column::Id).all(&state.db).await?;
    let mut lines_by_service: BTreeMap<i64, Vec<(NaiveDate, NaiveDate)>> = BTreeMap::new();
    for l in
        line::Entity::find().filter(line::Column::Kind.eq(crate::automation::renewals::KIND)).all(&state.db).await?
    {
        if let (Some(s), Some(start), Some(end)) = (l.service_id, l.period_start, l.period_end) {
            lines_by_service.entry(s.0).or_default().push((start, end));
        }
    }
    let mut wrong = 0;
    let mut by_status: BTreeMap<String, i64> = BTreeMap::new();
    for s in &services {
        *by_status.entry(s.status.clone()).or_default() += 1;
        let (Some(due), Some(next_invoice)) = (s.next_due_date, s.next_invoice_date) else { continue };
        let mut lines = lines_by_service.remove(&s.id.0).unwrap_or_default();
        lines.sort();
        let mut problems = Vec::new();
        let mut at = due;
        // Every period starts and ends on the billing day, clamped in shorter months.
        let day = s.billing_day.and_then(|d| u32::try_from(d).ok()).unwrap_or_else(|| s.registration_date.day());
        let on_day = |d: NaiveDate| d.day() == day.min(hostwright_core::days_in_month(d.year(), d.month()));
        for (start, end) in &lines {
            if *start != at {
                problems.push(format!("a period starts on {start}, expected {at}"));
            }
            for edge in [*start, *end] {
                if !on_day(edge) {
                    problems.push(format!("a period bound {edge} is off the billing day {day}"));
                }
            }
            at = *end;
        }
        if at != next_invoice {
            problems.push(format!("invoiced up to {at} but next invoice date {next_invoice}"));
        }
        let overdue_days = if lines.is_empty() { -1 } else { (date - due).num_days() };
        let expected = match (settings.terminate_after_days, settings.suspend_after_days) {
            (Some(t), _) if overdue_days >= i64::from(t) => "terminated",
            (_, Some(d)) if overdue_days >= i64::from(d) => "suspended",
            _ => "active",
        };
        if s.status != expected {
            problems.push(format!("{} but the calendar says {expected} ({overdue_days} days overdue)", s.status));
        }
        if s.status != "terminated" && next_invoice <= horizon {
            problems.push(format!("next invoice date {next_invoice} is within the horizon {horizon}: not invoiced"));
        }
        if !problems.is_empty() {
            wrong += 1;
            if c.violations.len() < 20 {
                c.violations.push(format!("service #{}: {}", s.id, problems.join("; ")));
            }
        }
    }
    for (status, n) in by_status {
        let key: &'static str = match status.as_str() {
            "active" => "services_active",
            "suspended" => "services_suspended",
            "terminated" => "services_terminated",
            _ => "services_other",
        };
        *c.counts.entry(key).or_default() += n;
    }
    c.counts.insert("services_off_calendar", wrong);
    Ok(c)
}
