//! The daily run's tasks after invoicing: reminders, overdue suspension and termination,
//! cancellations due at the end of their period, and unpaid-order cleanup.
//!
//! Each finds its candidates, then writes under the holder's fence: a reminder claims its
//! (invoice, step) row before its email is queued, and every action on a service or order is
//! a job queued with a unique key (per service and unpaid due date, per request, per order),
//! so a second run — or a second node — queues nothing new.

use std::collections::HashMap;

use chrono::{Days, NaiveDate, NaiveTime};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, TransactionTrait};

use super::lease::{self, Held};
use super::{TaskError, TaskReport};
use crate::catalog::model::product;
use crate::db::clock_statement;
use crate::ids::{InvoiceId, ServiceId};
use crate::invoices::status::InvoiceStatus;
use crate::jobs::{self, Enqueue, Job};
use crate::orders::manage::CancelUnpaidOrder;
use crate::orders::status::OrderStatus;
use crate::services::cancellations;
use crate::services::cancellations::CancelAtPeriodEnd;
use crate::services::jobs::Overdue;
use crate::services::model::cancellation;
use crate::site_settings::automation::AutomationSettings;
use crate::state::AppState;

/// A job to queue and how the report describes it.
pub(super) struct Planned<J> {
    pub job: J,
    pub key: String,
    pub describe: String,
}

/// Queues `planned` under the fence (a dry run only describes them); counts what was new.
pub(super) async fn queue<J: Job>(
    state: &AppState,
    held: Option<&Held>,
    planned: Vec<Planned<J>>,
    counted: &'static str,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let Some(held) = held else {
        // What a real run would queue: what is not queued already.
        let mut new = 0;
        for p in planned {
            if !jobs::store::queued(&state.db, &p.key).await.map_err(db)? {
                new += 1;
                report.actions.push(p.describe);
            }
        }
        report.counts.insert(counted, new);
        return Ok(());
    };
    let mut queued = 0;
    for chunk in planned.chunks(200) {
        let txn = state.db.begin().await.map_err(db)?;
        for p in chunk {
            if jobs::enqueue(&txn, &p.job, Enqueue::unique(p.key.clone())).await.map_err(db)? {
                queued += 1;
                report.actions.push(p.describe.clone());
            }
        }
        if !lease::fence(&txn, held).await.map_err(db)? {
            txn.rollback().await.map_err(db)?;
            return Err(TaskError::LeaseLost);
        }
        txn.commit().await.map_err(db)?;
    }
    if queued > 0 {
        state.jobs_wakeup.notify_one();
    }
    report.counts.insert(counted, queued);
    Ok(())
}

fn db(err: DbErr) -> TaskError {
    TaskError::Failed(format!("database: {err}"))
}

fn days_before(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_sub_days(Days::new(u64::from(days))).unwrap_or(date)
}

/// Services in `statuses` still unpaid since their due date on or before `latest_due`: an
/// unpaid renewal invoice covers the period that began then. Clients exempt from automation
/// are left out.
async fn overdue_services(
    state: &AppState,
    statuses: &[&str],
    latest_due: NaiveDate,
) -> Result<Vec<(ServiceId, i64, NaiveDate)>, DbErr> {
    let backend = state.db.get_database_backend();
    let marks = vec!["?"; statuses.len()].join(", ");
    let unpaid = InvoiceStatus::Unpaid.key();
    let sql = format!(
        "SELECT s.id, s.product_id, s.next_due_date FROM services s JOIN clients c ON c.id = s.client_id \
         WHERE s.status IN ({marks}) AND s.next_due_date <= ? AND c.automation_exempt = ? \
         AND EXISTS (SELECT 1 FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
           WHERE l.service_id = s.id AND l.kind = 'renewal' AND l.period_start = s.next_due_date \
           AND i.status = '{unpaid}') \
         ORDER BY s.id"
    );
    let mut values: Vec<sea_orm::Value> = statuses.iter().map(|s| (*s).into()).collect();
    values.push(latest_due.into());
    values.push(false.into());
    let rows = state.db.query_all_raw(clock_statement(backend, &sql, values)).await?;
    rows.iter()
        .map(|r| Ok((ServiceId(r.try_get("", "id")?), r.try_get("", "product_id")?, r.try_get("", "next_due_date")?)))
        .collect()
}

/// Task: suspend services overdue by the product's days, or the setting's.
pub(super) async fn suspensions(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let products: HashMap<i64, Option<u32>> = product::Entity::find()
        .all(&state.db)
        .await
        .map_err(db)?
        .into_iter()
        .map(|p| (p.id.0, p.overdue_suspend_days.and_then(|d| u32::try_from(d).ok())))
        .collect();
    let shortest = products.values().flatten().copied().chain(settings.suspend_after_days).min();
    let Some(shortest) = shortest else {
        report.counts.insert("suspensions", 0);
        return Ok(());
    };
    let candidates = overdue_services(state, &["active"], days_before(date, shortest)).await.map_err(db)?;
    let planned = candidates
        .into_iter()
        .filter(|(_, product_id, due)| {
            let days = products.get(product_id).copied().flatten().or(settings.suspend_after_days);
            days.is_some_and(|d| *due <= days_before(date, d))
        })
        .map(|(service_id, _, due)| Planned {
            job: Overdue { service_id, due, terminate: false },
            key: format!("overdue-suspend:{service_id}:{due}"),
            describe: format!("suspend service #{service_id}, unpaid since {due}"),
        })
        .collect();
    queue(state, held, planned, "suspensions", report).await
}

/// Task: terminate services overdue by the setting's days.
pub(super) async fn terminations(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let Some(days) = settings.terminate_after_days else {
        report.counts.insert("terminations", 0);
        return Ok(());
    };
    let candidates = overdue_services(state, &["active", "suspended"], days_before(date, days)).await.map_err(db)?;
    let planned = candidates
        .into_iter()
        .map(|(service_id, _, due)| Planned {
            job: Overdue { service_id, due, terminate: true },
            key: format!("overdue-terminate:{service_id}:{due}"),
            describe: format!("terminate service #{service_id}, unpaid since {due}"),
        })
        .collect();
    queue(state, held, planned, "terminations", report).await
}

/// Task: carry out end-of-period cancellation requests whose period has ended.
pub(super) async fn cancellations(
    state: &AppState,
    held: Option<&Held>,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let open = cancellation::Entity::find()
        .filter(cancellation::Column::Status.eq(cancellations::OPEN))
        .filter(cancellation::Column::Kind.eq(cancellations::Kind::EndOfPeriod.key()))
        .order_by_asc(cancellation::Column::Id)
        .all(&state.db)
        .await
        .map_err(db)?;
    let mut planned = Vec::new();
    for request in open {
        let Some(s) = crate::services::store::find(&state.db, request.service_id).await.map_err(db)? else { continue };
        if s.next_due_date.is_some_and(|due| due <= date) {
            planned.push(Planned {
                job: CancelAtPeriodEnd { service_id: s.id, request_id: request.id, actor: None },
                key: format!("cancel-at-period-end:{}", request.id),
                describe: format!("cancel service #{} (its period ended {})", s.id, s.next_due_date.unwrap_or(date)),
            });
        }
    }
    queue(state, held, planned, "cancellations", report).await
}

/// Task: charge the saved cards of clients with automatic payment on, for invoices due (or
/// failed before and due a retry); once per invoice and attempt slot.
pub(super) async fn auto_charges(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let due = crate::payments::autopay::due(state, settings, date).await.map_err(db)?;
    let planned = due
        .into_iter()
        .map(|d| Planned {
            job: crate::payments::autopay::ChargeInvoice { invoice_id: d.invoice_id, slot: d.slot },
            key: format!("payment.charge:{}:{}", d.invoice_id, d.slot),
            describe: format!("charge invoice {} to the saved card (attempt {})", d.number, d.slot + 1),
        })
        .collect();
    queue(state, held, planned, "charges", report).await
}

/// Task: cancel orders whose invoice nobody paid anything of within the setting's days.
pub(super) async fn order_cleanup(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    use crate::orders::model::order;
    let Some(days) = settings.cancel_unpaid_orders_after_days else {
        report.counts.insert("orders_cancelled", 0);
        return Ok(());
    };
    let cutoff = days_before(date, days).and_time(NaiveTime::MIN).and_utc();
    let orders = order::Entity::find()
        .filter(order::Column::Status.eq(OrderStatus::Pending))
        .filter(order::Column::CreatedAt.lt(cutoff))
        .order_by_asc(order::Column::Id)
        .all(&state.db)
        .await
        .map_err(db)?;
    let mut planned = Vec::new();
    for o in orders {
        if let Some(invoice_id) = o.invoice_id {
            match crate::invoices::service::find(&state.db, invoice_id).await.map_err(db)? {
                Some(i) if i.status == InvoiceStatus::Unpaid && i.received_minor() == 0 => {}
                _ => continue,
            }
        }
        planned.push(Planned {
            job: CancelUnpaidOrder { order_id: o.id },
            key: format!("order-cleanup:{}", o.id),
            describe: format!("cancel unpaid order #{} placed {}", o.id, o.created_at.date_naive()),
        });
    }
    queue(state, held, planned, "orders_cancelled", report).await
}

/// Task: email reminders of unpaid invoices on the configured days around their due date,
/// each step at most once per invoice; an invoice that reaches several steps at once gets
/// only the latest.
pub(super) async fn reminders(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    use crate::invoices::model::invoice;
    let mut steps = settings.reminder_days.clone();
    steps.sort_unstable();
    steps.dedup();
    let (Some(&first), Some(&last)) = (steps.first(), steps.last()) else {
        report.counts.insert("reminders", 0);
        return Ok(());
    };
    let shift = |d: NaiveDate, by: i32| {
        if by >= 0 {
            d.checked_sub_days(Days::new(u64::from(by.unsigned_abs())))
        } else {
            d.checked_add_days(Days::new(u64::from(by.unsigned_abs())))
        }
        .unwrap_or(d)
    };
    // Due dates for which some step falls on or before today and the last one is not past.
    let invoices = invoice::Entity::find()
        .filter(invoice::Column::Status.eq(InvoiceStatus::Unpaid))
        .filter(invoice::Column::DueDate.gte(shift(date, last)))
        .filter(invoice::Column::DueDate.lte(shift(date, first)))
        .order_by_asc(invoice::Column::Id)
        .all(&state.db)
        .await
        .map_err(db)?;
    let currencies = crate::catalog::service::currencies_by_code(&state.db).await.map_err(db)?;
    let mut sent = 0;
    for i in invoices {
        let offset = (date - i.due_date).num_days();
        let Some(&step) = steps.iter().rev().find(|s| i64::from(**s) <= offset) else { continue };
        let describe = format!("remind invoice {} (due {}, step {step:+})", i.display_number(), i.due_date);
        let Some(held) = held else {
            if !reminded(state, i.id, step).await.map_err(db)? {
                sent += 1;
                report.actions.push(describe);
            }
            continue;
        };
        if send_reminder(state, held, &i, step, date, &currencies).await? {
            sent += 1;
            report.actions.push(describe);
        }
    }
    if sent > 0 {
        state.outbox_wakeup.notify_one();
    }
    report.counts.insert("reminders", sent);
    Ok(())
}

/// Whether invoice `id` got the reminder of `step`, or a later one.
async fn reminded(state: &AppState, id: InvoiceId, step: i32) -> Result<bool, DbErr> {
    let sql = "SELECT COUNT(*) AS n FROM invoice_reminders WHERE invoice_id = ? AND step >= ?";
    Ok(crate::db::count(&state.db, sql, vec![id.0.into(), step.into()]).await? > 0)
}

/// Claims (invoice, step) and queues the reminder email in one fenced transaction; `false`
/// when it (or a later step) was sent already.
async fn send_reminder(
    state: &AppState,
    held: &Held,
    i: &crate::invoices::model::invoice::Model,
    step: i32,
    date: NaiveDate,
    currencies: &HashMap<String, hostwright_core::Currency>,
) -> Result<bool, TaskError> {
    if reminded(state, i.id, step).await.map_err(db)? {
        return Ok(false);
    }
    let Some(c) = crate::clients::store::find(&state.db, i.client_id).await.map_err(db)? else { return Ok(false) };
    let currency = crate::catalog::service::known_currency(currencies.get(&i.currency_code).copied(), &i.currency_code)
        .map_err(|e| TaskError::Failed(format!("reminding invoice #{}: {e}", i.id)))?;
    let txn = state.db.begin().await.map_err(db)?;
    let backend = txn.get_database_backend();
    let claimed = txn
        .execute_raw(clock_statement(
            backend,
            "INSERT INTO invoice_reminders (invoice_id, step, sent_on) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            vec![i.id.0.into(), step.into(), date.into()],
        ))
        .await
        .map_err(db)?
        .rows_affected();
    if claimed != 1 {
        txn.rollback().await.map_err(db)?;
        return Ok(false);
    }
    let balance = hostwright_core::Money::from_minor(i.balance_minor(), currency);
    let ctx = minijinja::context! {
        number => i.display_number(),
        balance => balance.to_string(),
        due_date => i.due_date.to_string(),
        days => step.unsigned_abs(),
        overdue => step > 0,
        due_today => step == 0,
        link => state.settings.url(&format!("/account/invoices/{}", i.id)),
    };
    crate::clients::contacts::send_billing_email(state, &txn, &c, "invoice_reminder", ctx)
        .await
        .map_err(|e| TaskError::Failed(format!("{e:#}")))?;
    if !lease::fence(&txn, held).await.map_err(db)? {
        txn.rollback().await.map_err(db)?;
        return Err(TaskError::LeaseLost);
    }
    txn.commit().await.map_err(db)?;
    Ok(true)
}

/// The late fee on `balance` under the settings: the fixed part plus the percentage, at
/// least the minimum; `None` when nothing is owed or the settings make no fee.
pub fn late_fee(
    settings: &AutomationSettings,
    balance: hostwright_core::Money,
) -> Result<Option<hostwright_core::Money>, hostwright_core::MoneyError> {
    use hostwright_core::Money;
    let currency = balance.currency();
    let amount = |text: &str| Money::parse(if text.trim().is_empty() { "0" } else { text.trim() }, currency);
    if !balance.is_positive() {
        return Ok(None);
    }
    let percent: hostwright_core::Decimal = settings.late_fee_percent.trim().parse().unwrap_or_default();
    let fee = amount(&settings.late_fee_fixed)?.checked_add(balance.percent(percent)?)?;
    let minimum = amount(&settings.late_fee_minimum)?;
    let fee = if fee.minor() < minimum.minor() { minimum } else { fee };
    Ok(fee.is_positive().then_some(fee))
}

/// Task: charge a late fee, once, on invoices unpaid the setting's days after their due date.
/// The fee is an invoice of its own (an issued invoice is never changed), claimed in
/// `late_fees` per invoice in the same fenced transaction that issues it.
pub(super) async fn late_fees(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    use crate::invoices::model::invoice;
    let Some(days) = settings.late_fee_after_days else {
        report.counts.insert("late_fees", 0);
        return Ok(());
    };
    let backend = state.db.get_database_backend();
    let overdue = invoice::Entity::find()
        .from_raw_sql(clock_statement(
            backend,
            "SELECT i.* FROM invoices i WHERE i.status = ? AND i.due_date <= ? \
             AND NOT EXISTS (SELECT 1 FROM late_fees f WHERE f.invoice_id = i.id OR f.fee_invoice_id = i.id) \
             ORDER BY i.id",
            vec![InvoiceStatus::Unpaid.into(), days_before(date, days).into()],
        ))
        .all(&state.db)
        .await
        .map_err(db)?;
    let billing = crate::invoices::settings::load(&state.db).await.map_err(db)?;
    let currencies = crate::catalog::service::currencies_by_code(&state.db).await.map_err(db)?;
    let mut charged = 0;
    for i in overdue {
        let Some(&currency) = currencies.get(&i.currency_code) else { continue };
        let balance = hostwright_core::Money::from_minor(i.balance_minor(), currency);
        let fee = late_fee(settings, balance).map_err(|e| TaskError::Failed(format!("invoice {}: {e}", i.id)))?;
        let Some(fee) = fee else { continue };
        let describe = format!("late fee {fee} on invoice {} (due {})", i.display_number(), i.due_date);
        let Some(held) = held else {
            charged += 1;
            report.actions.push(describe);
            continue;
        };
        if charge_late_fee(state, held, &billing, &i, fee, date).await? {
            charged += 1;
            report.actions.push(describe);
        }
    }
    if charged > 0 && held.is_some() {
        state.outbox_wakeup.notify_one();
    }
    report.counts.insert("late_fees", charged);
    Ok(())
}

async fn charge_late_fee(
    state: &AppState,
    held: &Held,
    billing: &crate::invoices::settings::BillingSettings,
    i: &crate::invoices::model::invoice::Model,
    fee: hostwright_core::Money,
    date: NaiveDate,
) -> Result<bool, TaskError> {
    use crate::invoices::drafts::{BilledLine, TaxBuyer};
    let failed = |e: crate::invoices::service::InvoiceError| TaskError::Failed(format!("invoice {}: {e}", i.id));
    let Some(c) = crate::clients::store::find(&state.db, i.client_id).await.map_err(db)? else { return Ok(false) };
    // Damages for late payment, not a supply: no tax.
    let line =
        hostwright_core::Line::new(format!("Late fee for invoice {} (due {})", i.display_number(), i.due_date), fee, 1)
            .untaxed();
    let totals = crate::invoices::drafts::totals_for(
        &state.db,
        billing,
        TaxBuyer::client(&c),
        fee.currency(),
        std::slice::from_ref(&line),
    )
    .await
    .map_err(failed)?;
    let txn = state.db.begin().await.map_err(db)?;
    let billed = [BilledLine { line, kind: "late_fee", service_id: None, service_addon_id: None, period: None }];
    let draft = crate::invoices::drafts::insert_draft(&txn, &c, date, "", &billed, &totals).await.map_err(failed)?;
    let claimed = txn
        .execute_raw(clock_statement(
            txn.get_database_backend(),
            "INSERT INTO late_fees (invoice_id, fee_invoice_id, amount_minor, charged_on) VALUES (?, ?, ?, ?) \
             ON CONFLICT DO NOTHING",
            vec![i.id.0.into(), draft.id.0.into(), fee.minor().into(), date.into()],
        ))
        .await
        .map_err(db)?
        .rows_affected();
    if claimed != 1 {
        txn.rollback().await.map_err(db)?;
        return Ok(false);
    }
    let actor = crate::audit::Actor::system("automation");
    let issued = crate::invoices::issuing::issue_on(state, &txn, &actor, billing, &c, draft.id, Some(date))
        .await
        .map_err(failed)?;
    crate::audit::record(
        &txn,
        &actor,
        "invoice.late_fee",
        Some(("invoice", i.id.0)),
        format!("Late fee {fee} charged on invoice {} as invoice {}", i.display_number(), issued.display_number()),
    )
    .await
    .map_err(db)?;
    if !lease::fence(&txn, held).await.map_err(db)? {
        txn.rollback().await.map_err(db)?;
        return Err(TaskError::LeaseLost);
    }
    txn.commit().await.map_err(db)?;
    Ok(true)
}
