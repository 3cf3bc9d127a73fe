//! Upgrades and downgrades: moving a service to another product (one its product allows), to
//! other option values, or to another billing cycle, priced by `hostwright_core::quote_change`
//! for the rest of the period the client has paid.
//!
//! An upgrade that costs something is a pending `service_upgrades` row with an invoice for the
//! difference; paying the invoice applies it (the service's product, options, cycle, recurring
//! amount and next due date change in one transaction, then the module's "change package"
//! runs). One that costs nothing applies at once; a downgrade's unused credit goes to the
//! client's account credit when the ordering settings say so. A service has at most one
//! pending change.

use chrono::{Months, NaiveDate, Utc};
use hostwright_core::{
    BillingCycle, Change, Currency, DowngradeCredit, Line, Money, Period, Quote, prorate, quote_change,
};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, TransactionTrait};

use super::lifecycle;
use super::model::{service, upgrade};
use super::status::Status;
use super::store;
use crate::audit::{self, Actor};
use crate::catalog::model::product;
use crate::catalog::pricing::{self, Choice, PricingError, Sale};
use crate::catalog::service::{find_product, upgrade_targets};
use crate::ids::{ConfigOptionId, InvoiceId, ProductId, ServiceId, ServiceUpgradeId};
use crate::invoices::account_credit::{self, MoveError, Movement};
use crate::invoices::drafts::{BilledLine, TaxBuyer};
use crate::invoices::service::{self as invoices, InvoiceError};
use crate::invoices::settings as billing_settings;
use crate::provisioning::Command;
use crate::site_settings::ordering as order_settings;
use crate::state::AppState;
use crate::web::AppError;

pub const PENDING: &str = "pending";
pub const APPLIED: &str = "applied";
pub const CANCELLED: &str = "cancelled";

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(String),
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<UpgradeError> for AppError {
    fn from(err: UpgradeError) -> Self {
        match err {
            UpgradeError::NotFound => AppError::NotFound,
            UpgradeError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for UpgradeError {
    fn from(err: DbErr) -> Self {
        UpgradeError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<InvoiceError> for UpgradeError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::NotFound => UpgradeError::NotFound,
            InvoiceError::Invalid(errors) => UpgradeError::NotAllowed(errors.messages()),
            InvoiceError::NotAllowed(message) => UpgradeError::NotAllowed(message.to_owned()),
            InvoiceError::Internal(err) => UpgradeError::Internal(err),
        }
    }
}

impl From<hostwright_core::UpgradeError> for UpgradeError {
    fn from(err: hostwright_core::UpgradeError) -> Self {
        UpgradeError::NotAllowed(format!("This change cannot be priced: {err}."))
    }
}

/// The change a client or staff member asks for.
#[derive(Debug, Clone)]
pub struct Target {
    pub product_id: ProductId,
    pub cycle: BillingCycle,
    pub choices: Vec<(ConfigOptionId, Choice)>,
}

/// A change, priced.
#[derive(Debug, Clone)]
pub struct Priced {
    pub service: service::Model,
    pub from: product::Model,
    pub to: product::Model,
    pub target: Target,
    pub currency: Currency,
    /// The period paid for, and the day of the change.
    pub period: Period,
    pub on: NaiveDate,
    /// The new recurring amount (product and options, for the new cycle).
    pub new_recurring: Money,
    pub quote: Quote,
}

/// The products a service may move to: its own (other options or cycle) and the upgrade
/// targets its product allows.
pub async fn targets(db: &impl ConnectionTrait, s: &service::Model) -> Result<Vec<product::Model>, DbErr> {
    let mut ids = vec![s.product_id];
    ids.extend(upgrade_targets(db, s.product_id).await?);
    let mut found = Vec::new();
    for id in ids {
        if let Some(p) = find_product(db, id).await?.filter(|p| !p.retired || p.id == s.product_id) {
            found.push(p);
        }
    }
    Ok(found)
}

/// The pending change of a service, if any.
pub async fn pending(db: &impl ConnectionTrait, id: ServiceId) -> Result<Option<upgrade::Model>, DbErr> {
    upgrade::Entity::find()
        .filter(upgrade::Column::ServiceId.eq(id))
        .filter(upgrade::Column::Status.eq(PENDING))
        .one(db)
        .await
}

fn waiting() -> UpgradeError {
    UpgradeError::NotAllowed(
        "A change of this service is waiting for its invoice to be paid; pay or cancel that first.".into(),
    )
}

/// The cycle of `cycle` that ends on `end`.
fn cycle_ending(end: NaiveDate, cycle: BillingCycle) -> Result<Period, UpgradeError> {
    let months =
        cycle.months().ok_or_else(|| UpgradeError::NotAllowed("One-time services cannot be changed.".into()))?;
    let start = end.checked_sub_months(Months::new(months)).ok_or_else(|| anyhow::anyhow!("due date out of range"))?;
    Ok(Period { start, end })
}

/// The period the client paid for (ending on the next due date) and what they paid for it:
/// as recorded when it was invoiced (after discounts: a first-month coupon is not credited
/// back at full price), or else one cycle at the recurring amount.
fn paid_for(s: &service::Model, cycle: BillingCycle, recurring: Money) -> Result<(Period, Money), UpgradeError> {
    let end = s
        .next_due_date
        .ok_or_else(|| UpgradeError::NotAllowed("Only services billed every period can be changed.".into()))?;
    match (s.paid_period_start, s.paid_period_minor) {
        (Some(start), Some(paid)) if start < end => {
            Ok((Period { start, end }, Money::from_minor(paid, recurring.currency())))
        }
        _ => Ok((cycle_ending(end, cycle)?, recurring)),
    }
}

/// What `price` per `cycle` comes to over `period` (which ends on a due date): the price for
/// a whole cycle, its share for a shorter period, one cycle plus a share for a longer one.
fn price_for_period(price: Money, cycle: BillingCycle, period: Period) -> Result<Money, UpgradeError> {
    let last = cycle_ending(period.end, cycle)?;
    if period.start >= last.start {
        return Ok(prorate(price, last.start, last.end, period.start).map_err(anyhow::Error::from)?);
    }
    let before = cycle_ending(last.start, cycle)?;
    if period.start < before.start {
        return Err(UpgradeError::NotAllowed("This service is paid ahead; ask us to change it for you.".into()));
    }
    let share = prorate(price, before.start, before.end, period.start).map_err(anyhow::Error::from)?;
    Ok(price.checked_add(share).map_err(anyhow::Error::from)?)
}

/// Prices a change of service `id` as of today (nothing is written).
pub async fn price(db: &impl ConnectionTrait, id: ServiceId, target: Target) -> Result<Priced, UpgradeError> {
    let s = store::find(db, id).await?.ok_or(UpgradeError::NotFound)?;
    if Status::parse(&s.status) != Some(Status::Active) {
        return Err(UpgradeError::NotAllowed("Only active services can be upgraded or downgraded.".into()));
    }
    if pending(db, id).await?.is_some() {
        return Err(waiting());
    }
    let allowed = targets(db, &s).await?;
    let to = allowed
        .iter()
        .find(|p| p.id == target.product_id)
        .cloned()
        .ok_or_else(|| UpgradeError::NotAllowed("This service cannot be changed to that product.".into()))?;
    let from = find_product(db, s.product_id).await?.ok_or(UpgradeError::NotFound)?;
    let old_cycle: BillingCycle =
        s.billing_cycle.parse().map_err(|_| anyhow::anyhow!("service {id}: bad billing cycle"))?;
    let currency = invoices::find_currency(db, &s.currency_code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service {id}: unknown currency {}", s.currency_code))?;
    let recurring = Money::from_minor(s.recurring_minor, currency);
    let (period, old_price) = paid_for(&s, old_cycle, recurring)?;
    let on = invoices::today(db).await?;
    if on >= period.end {
        return Err(UpgradeError::NotAllowed("This service is due for renewal; pay the renewal first.".into()));
    }
    if on < period.start {
        return Err(UpgradeError::NotAllowed("This service is paid ahead; ask us to change it for you.".into()));
    }
    let priced = pricing::price_selection(db, to.id, target.cycle, currency.code(), &target.choices, Sale::New).await?;
    let new_recurring = priced.charges_total().map_err(anyhow::Error::from)?;
    let current_choices = store::choices_of(db, id).await?;
    if to.id == from.id && target.cycle == old_cycle && same_choices(&current_choices, &target.choices) {
        return Err(UpgradeError::NotAllowed("Choose something different from what the service has now.".into()));
    }
    let settings = order_settings::load(db).await?;
    let policy =
        if settings.downgrade_credit_to_account { DowngradeCredit::ToAccount } else { DowngradeCredit::Forfeit };
    // In the same cycle the new price is charged for the same days as the old: scaled to the
    // paid period when that was not one whole cycle (a pro-rata first period).
    let new_price =
        if target.cycle == old_cycle { price_for_period(new_recurring, old_cycle, period)? } else { new_recurring };
    let change = Change { period, old_price, old_cycle, new_price, new_cycle: target.cycle, on };
    let quote = quote_change(&change, policy)?;
    Ok(Priced { service: s, from, to, target, currency, period, on, new_recurring, quote })
}

fn same_choices(a: &[(ConfigOptionId, Choice)], b: &[(ConfigOptionId, Choice)]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by_key(|(id, _)| *id);
    b.sort_by_key(|(id, _)| *id);
    a == b
}

/// What asking for a change did.
#[derive(Debug)]
pub enum Requested {
    /// An invoice for the difference; the change applies when it is paid.
    Invoiced { upgrade: ServiceUpgradeId, invoice: InvoiceId },
    /// Nothing was due: the change is applied.
    Applied { upgrade: ServiceUpgradeId },
    /// This form was submitted before.
    Already { upgrade: ServiceUpgradeId },
}

/// Asks for the change priced now; `key` identifies one submission of the form.
pub async fn request(
    state: &AppState,
    actor: &Actor,
    id: ServiceId,
    target: Target,
    key: &str,
) -> Result<Requested, UpgradeError> {
    let key = key.trim();
    if !(16..=64).contains(&key.len()) {
        return Err(UpgradeError::NotAllowed("This form is out of date; reload the page and try again.".into()));
    }
    // The key finds a submission of this form for this service only.
    let submitted = upgrade::Entity::find()
        .filter(upgrade::Column::ServiceId.eq(id))
        .filter(upgrade::Column::IdempotencyKey.eq(key));
    if let Some(done) = submitted.clone().one(&state.db).await? {
        return Ok(Requested::Already { upgrade: done.id });
    }
    let priced = price(&state.db, id, target).await?;
    let client =
        crate::clients::store::find(&state.db, priced.service.client_id).await?.ok_or(UpgradeError::NotFound)?;
    let billing = billing_settings::load(&state.db).await?;
    let q = priced.quote;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inserted = upgrade::ActiveModel {
        service_id: Set(id),
        invoice_id: Set(None),
        status: Set(PENDING.into()),
        from_product_id: Set(priced.from.id),
        to_product_id: Set(priced.to.id),
        from_cycle: Set(priced.service.billing_cycle.clone()),
        to_cycle: Set(priced.target.cycle.key().to_owned()),
        choices: Set(pricing::choices_to_json(&priced.target.choices)),
        new_recurring_minor: Set(priced.new_recurring.minor()),
        effective_on: Set(priced.on),
        new_next_due_date: Set(q.next_due),
        credit_minor: Set(q.credit.minor()),
        charge_minor: Set(q.charge.minor()),
        account_credit_minor: Set(q.account_credit.minor()),
        idempotency_key: Set(key.to_owned()),
        applied_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        Err(err) if crate::web::forms::is_unique_violation(&err) => {
            drop(txn);
            // Either this form was submitted twice, or another request made a pending change
            // of the same service meanwhile (one pending change per service, by index).
            let done = submitted.one(&state.db).await?;
            return match done {
                Some(done) => Ok(Requested::Already { upgrade: done.id }),
                None => Err(waiting()),
            };
        }
        Err(err) => return Err(err.into()),
    };
    let describe = format!(
        "{} ({}) → {} ({})",
        priced.from.name,
        priced.service.billing_cycle,
        priced.to.name,
        priced.target.cycle.key()
    );
    if q.due_now.is_positive() {
        let description = format!(
            "Change of {}: {describe}, {} credited for {} – {}",
            if priced.service.domain.is_empty() { format!("service #{id}") } else { priced.service.domain.clone() },
            q.credit,
            priced.on,
            priced.period.end
        );
        let mut line = Line::new(description, q.due_now, 1);
        if !priced.to.taxable {
            line = line.untaxed();
        }
        let billed = [BilledLine {
            line: line.clone(),
            kind: "upgrade",
            service_id: Some(id),
            service_addon_id: None,
            period: Some(Period { start: priced.on, end: q.next_due }),
        }];
        let totals =
            crate::invoices::drafts::totals_for(&txn, &billing, TaxBuyer::client(&client), priced.currency, &[line])
                .await?;
        let draft = crate::invoices::drafts::insert_draft(&txn, &client, priced.on, "", &billed, &totals).await?;
        let issued = crate::invoices::issuing::issue_in(state, &txn, actor, &billing, &client, draft.id).await?;
        let link = Query::update()
            .table(upgrade::Entity)
            .value(upgrade::Column::InvoiceId, issued.id)
            .and_where(Expr::col(upgrade::Column::Id).eq(created.id))
            .to_owned();
        txn.execute(&link).await?;
        audit::record(
            &txn,
            actor,
            "service.upgrade_requested",
            Some(("service", id.0)),
            format!(
                "{describe}: {} due now (credit {}, charge {}), invoice {}",
                q.due_now,
                q.credit,
                q.charge,
                issued.display_number()
            ),
        )
        .await?;
        txn.commit().await?;
        state.outbox_wakeup.notify_one();
        return Ok(Requested::Invoiced { upgrade: created.id, invoice: issued.id });
    }
    audit::record(
        &txn,
        actor,
        "service.upgrade_requested",
        Some(("service", id.0)),
        format!(
            "{describe}: nothing due (credit {}, charge {}, to account credit {})",
            q.credit, q.charge, q.account_credit
        ),
    )
    .await?;
    txn.commit().await?;
    apply(state, actor, created.id).await?;
    Ok(Requested::Applied { upgrade: created.id })
}

/// Applies a pending change (its invoice is paid, or nothing was due): the service takes the
/// new product, options, cycle, amount and due date in one transaction, a downgrade's credit
/// goes to the account, and then the module changes the package. Applying twice changes
/// nothing the second time.
pub async fn apply(state: &AppState, actor: &Actor, id: ServiceUpgradeId) -> Result<bool, UpgradeError> {
    let txn = state.db.begin().await?;
    let claim = Query::update()
        .table(upgrade::Entity)
        .value(upgrade::Column::Status, APPLIED)
        .value(upgrade::Column::AppliedAt, Utc::now())
        .value(upgrade::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(upgrade::Column::Id).eq(id))
        .and_where(Expr::col(upgrade::Column::Status).eq(PENDING))
        .to_owned();
    if txn.execute(&claim).await?.rows_affected() != 1 {
        return Ok(false);
    }
    let u = upgrade::Entity::find_by_id(id).one(&txn).await?.ok_or(UpgradeError::NotFound)?;
    let s = store::find(&txn, u.service_id).await?.ok_or(UpgradeError::NotFound)?;
    // Staff may have moved or ended the service since the change was priced: then it stays
    // pending (its payment is kept) for staff to apply by hand or refund.
    let live = matches!(Status::parse(&s.status), Some(Status::Active | Status::Suspended));
    if !live || s.product_id != u.from_product_id || s.billing_cycle != u.from_cycle {
        return Err(UpgradeError::NotAllowed(format!(
            "Service #{} changed since this change was priced (now {} on product #{}, {}); it was not applied.",
            s.id, s.status, s.product_id, s.billing_cycle
        )));
    }
    // A change of cycle starts a new calendar on its own due date; otherwise the day stays.
    let billing_day = if Some(u.new_next_due_date) == s.next_due_date {
        s.billing_day
    } else {
        let current_day = s.billing_day.and_then(|d| u32::try_from(d).ok());
        Some(i32::try_from(hostwright_core::billing_day_for(u.new_next_due_date, current_day)).unwrap_or(1))
    };
    let update = Query::update()
        .table(service::Entity)
        .value(service::Column::ProductId, u.to_product_id)
        .value(service::Column::BillingCycle, u.to_cycle.clone())
        .value(service::Column::RecurringMinor, u.new_recurring_minor)
        .value(service::Column::NextDueDate, u.new_next_due_date)
        .value(service::Column::NextInvoiceDate, u.new_next_due_date)
        .value(service::Column::BillingDay, billing_day)
        .value(service::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(u.service_id))
        .to_owned();
    txn.execute(&update).await?;
    store::save_choices(&txn, u.service_id, &pricing::choices_from_json(&u.choices)).await?;
    let currency = invoices::find_currency(&txn, &s.currency_code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service {}: unknown currency", s.id))?;
    // From the change on, the client has paid the new price for the rest of the period.
    store::set_paid_period(&txn, s.id, u.effective_on, Money::from_minor(u.charge_minor, currency)).await?;
    if u.account_credit_minor > 0 {
        let reason = format!("Unused part of service #{} after a downgrade", s.id);
        let movement = Movement {
            client_id: s.client_id,
            currency,
            amount_minor: u.account_credit_minor,
            kind: account_credit::DOWNGRADE,
            reason: &reason,
            invoice_id: None,
            credit_note_id: None,
            idempotency_key: None,
        };
        account_credit::move_credit(&txn, actor, &movement).await.map_err(|e| match e {
            MoveError::Db(err) => UpgradeError::from(err),
            other => UpgradeError::Internal(anyhow::Error::new(other)),
        })?;
    }
    audit::record(
        &txn,
        actor,
        "service.upgraded",
        Some(("service", s.id.0)),
        format!(
            "Product #{} ({}) → #{} ({}), recurring {} → {} minor units, next due {}",
            u.from_product_id,
            u.from_cycle,
            u.to_product_id,
            u.to_cycle,
            s.recurring_minor,
            u.new_recurring_minor,
            u.new_next_due_date
        ),
    )
    .await?;
    // The panel follows in a job queued with the change (once per upgrade); a service not
    // live on a server has no package to change.
    let once = Some(format!("service.change_package:upgrade:{}", u.id));
    match lifecycle::request(&txn, actor, s.id, Command::ChangePackage, once).await {
        Ok(()) | Err(lifecycle::LifecycleError::NotAllowed(_)) => {}
        Err(err) => return Err(UpgradeError::Internal(anyhow::Error::new(err))),
    }
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(true)
}

/// After an invoice was paid: apply the change it was for.
pub async fn after_invoice_paid(state: &AppState, invoice_id: InvoiceId) -> Result<(), UpgradeError> {
    let waiting = upgrade::Entity::find()
        .filter(upgrade::Column::InvoiceId.eq(invoice_id))
        .filter(upgrade::Column::Status.eq(PENDING))
        .all(&state.db)
        .await?;
    let actor = Actor::system("upgrade paid");
    for u in waiting {
        apply(state, &actor, u.id).await?;
    }
    Ok(())
}

/// Cancels a pending change and its unpaid invoice (the client changed their mind).
pub async fn cancel(state: &AppState, actor: &Actor, id: ServiceUpgradeId) -> Result<(), UpgradeError> {
    let txn = state.db.begin().await?;
    let claim = Query::update()
        .table(upgrade::Entity)
        .value(upgrade::Column::Status, CANCELLED)
        .value(upgrade::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(upgrade::Column::Id).eq(id))
        .and_where(Expr::col(upgrade::Column::Status).eq(PENDING))
        .to_owned();
    if txn.execute(&claim).await?.rows_affected() != 1 {
        return Err(UpgradeError::NotAllowed("That change is no longer pending.".into()));
    }
    let u = upgrade::Entity::find_by_id(id).one(&txn).await?.ok_or(UpgradeError::NotFound)?;
    if let Some(invoice_id) = u.invoice_id
        && !invoices::cancel_untouched(&txn, invoice_id).await?
    {
        return Err(UpgradeError::NotAllowed("Its invoice has payments; staff must refund them first.".into()));
    }
    audit::record(
        &txn,
        actor,
        "service.upgrade_cancelled",
        Some(("service", u.service_id.0)),
        "Cancelled a pending change",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
