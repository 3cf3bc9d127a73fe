//! Invoices as records: their statuses and errors, finding and searching them, settling what
//! was received (`receipts` records it) and cancelling. Issued invoices are never edited;
//! corrections are credit notes. Drafts are `drafts`, issuing is `issuing`.

use chrono::{NaiveDate, Utc};
use hostwright_core::Currency;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{Condition, DbErr, QueryOrder, QuerySelect, QueryTrait, TransactionTrait};

use super::model::{invoice, line, payment, tax_line};
use super::numbering::{self, Pattern};
use super::settings::{self};
use crate::audit::{self, Actor};
use crate::catalog::model::currency;
use crate::ids::{ClientId, InvoiceId};
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;
use crate::web::{AppError, FormErrors};

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<InvoiceError> for AppError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::NotFound => AppError::NotFound,
            InvoiceError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            InvoiceError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for InvoiceError {
    fn from(err: DbErr) -> Self {
        InvoiceError::Internal(anyhow::Error::new(err).context("database"))
    }
}

pub async fn find_currency(db: &impl ConnectionTrait, code: &str) -> Result<Option<Currency>, InvoiceError> {
    match currency::Entity::find_by_id(code.to_owned()).one(db).await? {
        Some(row) => Ok(Some(crate::catalog::service::to_core(&row)?)),
        None => Ok(None),
    }
}

/// The currency a stored record is kept in: one that is not set up is an error, never
/// another currency's decimals on an amount.
pub async fn stored_currency(db: &impl ConnectionTrait, code: &str) -> Result<Currency, InvoiceError> {
    Ok(crate::catalog::service::known_currency(find_currency(db, code).await?, code)?)
}

/// Today in the business's time zone (billing dates are calendar dates there).
pub async fn today(db: &impl ConnectionTrait) -> Result<NaiveDate, DbErr> {
    Ok(settings::load(db).await?.today())
}

pub async fn find(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Option<invoice::Model>, DbErr> {
    invoice::Entity::find_by_id(id).one(db).await
}

/// Money that reached an unpaid invoice.
#[derive(Debug, Clone, Copy)]
pub enum Received {
    /// A payment (its record is written by the caller).
    Payment(i64),
    /// Account credit applied (its ledger entry is written by the caller).
    Credit(i64),
}

#[derive(Debug)]
pub struct Settled {
    pub paid_in_full: bool,
    /// The legal number a proforma received because it is now paid.
    pub legal_number: Option<String>,
}

/// Books money received on `current` inside the caller's transaction: the invoice is paid
/// when its balance reaches zero, and a paid proforma gets its legal number, dated today.
/// Fails, changing nothing, if the invoice changed since `current` was read, so two
/// receipts racing can never together exceed the balance.
pub async fn receive(
    txn: &impl ConnectionTrait,
    current: &invoice::Model,
    received: Received,
    paid_on: NaiveDate,
) -> Result<Settled, InvoiceError> {
    let (column, amount) = match received {
        Received::Payment(amount) => (invoice::Column::AmountPaidMinor, amount),
        Received::Credit(amount) => (invoice::Column::CreditAppliedMinor, amount),
    };
    let paid_in_full = amount == current.balance_minor();
    let mut legal_number = None;
    if paid_in_full && current.number.is_none() {
        let billing = settings::load(txn).await?;
        let pattern =
            Pattern::parse(&billing.invoice_pattern, billing.invoice_yearly_reset).map_err(InvoiceError::NotAllowed)?;
        let date = billing.today();
        let seq = numbering::next(txn, "invoice", &pattern.period(date)).await?;
        legal_number = Some((pattern.format(date, seq), date));
    }
    let mut update = Query::update();
    update
        .table(invoice::Entity)
        .value(column, Expr::col(column).add(amount))
        .value(invoice::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(invoice::Column::Id).eq(current.id))
        .and_where(Expr::col(invoice::Column::Status).is_in([InvoiceStatus::Unpaid, InvoiceStatus::Collections]))
        .and_where(Expr::col(invoice::Column::AmountPaidMinor).eq(current.amount_paid_minor))
        .and_where(Expr::col(invoice::Column::CreditAppliedMinor).eq(current.credit_applied_minor))
        .and_where(Expr::col(invoice::Column::CreditedMinor).eq(current.credited_minor));
    if paid_in_full {
        update.value(invoice::Column::Status, InvoiceStatus::Paid).value(invoice::Column::PaidDate, paid_on);
    }
    if let Some((number, date)) = &legal_number {
        // The legal invoice is a new document: its PDF is made afresh under the new number.
        update
            .value(invoice::Column::Number, number.clone())
            .value(invoice::Column::IssueDate, *date)
            .value(invoice::Column::PdfKey, Option::<String>::None);
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(InvoiceError::NotAllowed("The invoice changed meanwhile; reload it and check the balance."));
    }
    if paid_in_full {
        super::paid::enqueue(txn, current.id).await?;
    }
    Ok(Settled { paid_in_full, legal_number: legal_number.map(|(number, _)| number) })
}

/// Cancels a draft or an unpaid invoice nobody paid anything on. An issued invoice keeps
/// its number: the series stays gapless.
pub async fn cancel(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<(), InvoiceError> {
    let txn = state.db.begin().await?;
    if !cancel_untouched(&txn, id).await? {
        return Err(InvoiceError::NotAllowed("Only drafts and unpaid invoices without payments can be cancelled."));
    }
    audit::record(&txn, actor, "invoice.cancelled", Some(("invoice", id.0)), "Cancelled the invoice").await?;
    txn.commit().await?;
    Ok(())
}

/// Cancels an invoice nothing was paid, credited or applied on (the order or change it was
/// for was called off); `false` when money already moved on it, which staff must refund.
pub async fn cancel_untouched(txn: &impl ConnectionTrait, id: InvoiceId) -> Result<bool, DbErr> {
    let update = Query::update()
        .table(invoice::Entity)
        .value(invoice::Column::Status, InvoiceStatus::Cancelled)
        .value(invoice::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .and_where(Expr::col(invoice::Column::Status).is_in([InvoiceStatus::Draft, InvoiceStatus::Unpaid]))
        .and_where(Expr::col(invoice::Column::AmountPaidMinor).eq(0))
        .and_where(Expr::col(invoice::Column::CreditAppliedMinor).eq(0))
        .and_where(Expr::col(invoice::Column::CreditedMinor).eq(0))
        .to_owned();
    Ok(txn.execute(&update).await?.rows_affected() == 1)
}

/// The admin list's filters.
#[derive(Debug, Clone, Default)]
pub struct InvoiceQuery {
    pub status: Option<InvoiceStatus>,
    pub client_id: Option<ClientId>,
    pub overdue: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: u64,
}

pub const PER_PAGE: u64 = 50;

/// Lists count matching invoices up to this many; beyond it they say "more than".
pub const COUNT_CAP: u64 = 10_000;

pub async fn search(db: &impl ConnectionTrait, q: &InvoiceQuery) -> Result<(Vec<invoice::Model>, u64), DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = q.status {
        condition = condition.add(invoice::Column::Status.eq(status));
    }
    if let Some(client_id) = q.client_id {
        condition = condition.add(invoice::Column::ClientId.eq(client_id));
    }
    if q.overdue {
        condition = condition
            .add(invoice::Column::Status.is_in([InvoiceStatus::Unpaid, InvoiceStatus::Collections]))
            .add(invoice::Column::DueDate.lt(today(db).await?));
    }
    if let Some(from) = q.from {
        condition = condition.add(invoice::Column::IssueDate.gte(from));
    }
    if let Some(to) = q.to {
        condition = condition.add(invoice::Column::IssueDate.lte(to));
    }
    let base = invoice::Entity::find().filter(condition);
    // Counting a million matching rows costs more than showing fifty of them: count up to
    // the cap and let the page say "more than".
    let capped = base.clone().select_only().column(invoice::Column::Id).limit(COUNT_CAP + 1).into_query();
    let count = Query::select().expr(Expr::cust("COUNT(*)")).from_subquery(capped, "capped").to_owned();
    let total = match db.query_one(&count).await? {
        Some(row) => u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0),
        None => 0,
    };
    // Overdue invoices are chased oldest debt first; every other list shows the newest first.
    // Both orders follow an index, so a page never sorts every matching row.
    let ordered = if q.overdue {
        base.order_by_asc(invoice::Column::DueDate).order_by_asc(invoice::Column::Id)
    } else {
        base.order_by_desc(invoice::Column::Id)
    };
    let rows = ordered.offset(crate::web::forms::page_offset(q.page, PER_PAGE)).limit(PER_PAGE).all(db).await?;
    Ok((rows, total))
}

pub async fn lines(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<line::Model>, DbErr> {
    line::Entity::find().filter(line::Column::InvoiceId.eq(id)).order_by_asc(line::Column::Position).all(db).await
}

pub async fn tax_lines(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<tax_line::Model>, DbErr> {
    tax_line::Entity::find()
        .filter(tax_line::Column::InvoiceId.eq(id))
        .order_by_asc(tax_line::Column::Level)
        .all(db)
        .await
}

pub async fn payments(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<payment::Model>, DbErr> {
    payment::Entity::find().filter(payment::Column::InvoiceId.eq(id)).order_by_asc(payment::Column::Id).all(db).await
}
