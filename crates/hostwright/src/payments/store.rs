//! Payment records as stored: their statuses, looking them up, writing a pending one before the
//! gateway is called, and the invoice row a payment locks.

use chrono::Utc;
use hostwright_core::{Currency, Money};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DatabaseTransaction, QueryOrder, TransactionTrait};

use super::PaymentError;
use super::model::payment;
use crate::ids::{ClientId, GatewayPaymentId, InvoiceId};
use crate::invoices::model::invoice;
use crate::invoices::service::{self as invoices, InvoiceError};
use crate::invoices::status::InvoiceStatus;
use crate::payments::status::PaymentStatus;
use crate::state::AppState;

/// The client paid on the gateway's page.
pub const CHECKOUT: &str = "checkout";
/// A saved method charged without the client present.
pub const AUTOMATIC: &str = "automatic";

pub async fn find(db: &impl ConnectionTrait, id: GatewayPaymentId) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find_by_id(id).one(db).await
}

pub(super) async fn by_gateway_ref(
    db: &impl ConnectionTrait,
    gateway: &str,
    gateway_ref: &str,
) -> Result<Option<payment::Model>, DbErr> {
    payment::Entity::find()
        .filter(payment::Column::Gateway.eq(gateway))
        .filter(payment::Column::GatewayRef.eq(gateway_ref))
        .one(db)
        .await
}

/// The payments made for invoice `id`, newest first.
pub async fn for_invoice(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<payment::Model>, DbErr> {
    payment::Entity::find().filter(payment::Column::InvoiceId.eq(id)).order_by_desc(payment::Column::Id).all(db).await
}

/// Whether an automatic charge of invoice `id` is under way (so the client must not pay it
/// a second way at the same moment).
pub async fn automatic_in_flight(db: &impl ConnectionTrait, id: InvoiceId) -> Result<bool, DbErr> {
    Ok(payment::Entity::find()
        .filter(payment::Column::InvoiceId.eq(id))
        .filter(payment::Column::Kind.eq(AUTOMATIC))
        .filter(payment::Column::Status.is_in([PaymentStatus::Pending, PaymentStatus::Unknown]))
        .one(db)
        .await?
        .is_some())
}

/// Holds invoice `id`'s row for the rest of `txn` (so the two ways of paying it, the client's
/// page and the automatic charge, take turns) and returns it as it is now.
pub(super) async fn lock_invoice(txn: &DatabaseTransaction, id: InvoiceId) -> Result<Option<invoice::Model>, DbErr> {
    let hold = Query::update()
        .table(invoice::Entity)
        .value(invoice::Column::UpdatedAt, Expr::col(invoice::Column::UpdatedAt))
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .to_owned();
    txn.execute(&hold).await?;
    invoices::find(txn, id).await
}

/// Writes the payment record of one form submission (`attempt_key`) for the invoice's
/// balance; the same submission again finds the same record while it is pending.
pub(super) async fn insert_pending(
    state: &AppState,
    client_id: ClientId,
    invoice_id: InvoiceId,
    gateway: &str,
    kind: &str,
    attempt_key: &str,
) -> Result<payment::Model, PaymentError> {
    let txn = state.db.begin().await?;
    let invoice = lock_invoice(&txn, invoice_id).await?.ok_or(PaymentError::NotFound)?;
    if let Some(earlier) = payment::Entity::find().filter(payment::Column::AttemptKey.eq(attempt_key)).one(&txn).await?
    {
        return if earlier.status == PaymentStatus::Pending {
            Ok(earlier)
        } else {
            Err(PaymentError::NotAllowed("This payment was already started; reload the invoice."))
        };
    }
    if invoice.status != InvoiceStatus::Unpaid && invoice.status != InvoiceStatus::Collections
        || invoice.balance_minor() <= 0
    {
        return Err(PaymentError::NotAllowed("This invoice has nothing left to pay."));
    }
    if automatic_in_flight(&txn, invoice_id).await? {
        return Err(PaymentError::NotAllowed(
            "An automatic payment of this invoice is being processed; check back in a few minutes.",
        ));
    }
    let now = Utc::now();
    let record = payment::ActiveModel {
        client_id: Set(client_id),
        invoice_id: Set(Some(invoice.id)),
        gateway: Set(gateway.to_owned()),
        kind: Set(kind.to_owned()),
        status: Set(PaymentStatus::Pending.to_owned()),
        amount_minor: Set(invoice.balance_minor()),
        currency_code: Set(invoice.currency_code.clone()),
        refunded_minor: Set(0),
        attempt_key: Set(attempt_key.to_owned()),
        flag: Set(String::new()),
        error: Set(String::new()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(record)
}

pub(super) async fn set_failed(db: &impl ConnectionTrait, id: GatewayPaymentId, error: &str) -> Result<bool, DbErr> {
    let done = payment::Entity::update_many()
        .col_expr(payment::Column::Status, Expr::value(PaymentStatus::Failed))
        .col_expr(payment::Column::Error, Expr::value(truncate(error, 500)))
        .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payment::Column::Id.eq(id))
        .filter(payment::Column::Status.is_in([PaymentStatus::Pending, PaymentStatus::Unknown]))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

pub(super) fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// An amount in a payment's currency, as people read it.
pub(super) async fn amount_text(db: &impl ConnectionTrait, minor: i64, code: &str) -> Result<String, PaymentError> {
    Ok(Money::from_minor(minor, currency(db, code).await?).to_string())
}

/// A gateway may report money in a currency the business does not use (it is flagged for
/// staff): its ISO decimals are then the right ones; a code nobody knows is an error.
pub(super) async fn currency(db: &impl ConnectionTrait, code: &str) -> Result<Currency, PaymentError> {
    let found = invoices::find_currency(db, code).await?.or_else(|| Currency::from_code(code).ok());
    Ok(crate::catalog::service::known_currency(found, code).map_err(InvoiceError::Internal)?)
}
