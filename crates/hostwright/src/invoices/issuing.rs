//! Issuing: a draft becomes a legal invoice (or a proforma) with its number from a gapless
//! series, its parties frozen, and the invoice email queued in the same transaction;
//! sending it again on request.

use chrono::{NaiveDate, Utc};
use hostwright_core::{Currency, Money};
use sea_orm::TransactionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::drafts::{buyer_snapshot, seller_snapshot};
use super::model::invoice;
use super::numbering::{self, Pattern};
use super::service::{InvoiceError, find, stored_currency};
use super::settings::{self, BillingSettings};
use crate::audit::{self, Actor};
use crate::clients::contacts::send_billing_email;
use crate::clients::model::client;
use crate::ids::InvoiceId;
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;

/// Issues a draft: it gets its number (legal, or proforma in proforma mode), its date, and
/// frozen copies of the buyer's and seller's details; the client is emailed.
pub async fn issue(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<invoice::Model, InvoiceError> {
    let draft = find(&state.db, id).await?.ok_or(InvoiceError::NotFound)?;
    if draft.status != InvoiceStatus::Draft {
        return Err(InvoiceError::NotAllowed("Only a draft can be issued."));
    }
    let billing = settings::load(&state.db).await?;
    let c = crate::clients::store::find(&state.db, draft.client_id).await?.ok_or(InvoiceError::NotFound)?;
    let txn = state.db.begin().await?;
    let issued = issue_in(state, &txn, actor, &billing, &c, id).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(issued)
}

/// Issues the draft `id` of client `c` inside the caller's transaction (see [`issue`]).
pub(crate) async fn issue_in(
    state: &AppState,
    txn: &impl ConnectionTrait,
    actor: &Actor,
    billing: &BillingSettings,
    c: &client::Model,
    id: InvoiceId,
) -> Result<invoice::Model, InvoiceError> {
    issue_on(state, txn, actor, billing, c, id, None).await
}

/// The series an issued invoice is numbered in (proforma or legal, as the settings say) and
/// its pattern; refused until the seller's details are filled in.
pub(crate) fn issuing_series(billing: &BillingSettings) -> Result<(&'static str, Pattern), InvoiceError> {
    if billing.company_name.trim().is_empty() {
        return Err(InvoiceError::NotAllowed(
            "Enter your company details under Billing settings before issuing invoices.",
        ));
    }
    let (series, pattern_text, yearly) = if billing.proforma_mode {
        ("proforma", billing.proforma_pattern.as_str(), false)
    } else {
        ("invoice", billing.invoice_pattern.as_str(), billing.invoice_yearly_reset)
    };
    Ok((series, Pattern::parse(pattern_text, yearly).map_err(InvoiceError::NotAllowed)?))
}

/// [`issue_in`] dated `on`, or today when `None`: the daily run issues on the day it runs
/// for.
pub(crate) async fn issue_on(
    state: &AppState,
    txn: &impl ConnectionTrait,
    actor: &Actor,
    billing: &BillingSettings,
    c: &client::Model,
    id: InvoiceId,
    on: Option<NaiveDate>,
) -> Result<invoice::Model, InvoiceError> {
    let (series, pattern) = issuing_series(billing)?;
    // The number comes first: it takes the series' lock, and the date is read after it so
    // that numbers and dates rise together.
    let date = on.unwrap_or_else(|| billing.today());
    let seq = numbering::next(txn, series, &pattern.period(date)).await?;
    let number = pattern.format(date, seq);
    let now = Utc::now();
    let mut update = Query::update();
    update
        .table(invoice::Entity)
        .value(invoice::Column::Status, InvoiceStatus::Unpaid)
        .value(invoice::Column::IssueDate, date)
        .value(invoice::Column::IssuedAt, now)
        .value(invoice::Column::UpdatedAt, now)
        .value(invoice::Column::Buyer, serde_json::to_string(&buyer_snapshot(c)).unwrap_or_default())
        .value(invoice::Column::Seller, serde_json::to_string(&seller_snapshot(billing)).unwrap_or_default())
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .and_where(Expr::col(invoice::Column::Status).eq(InvoiceStatus::Draft));
    if billing.proforma_mode {
        update.value(invoice::Column::ProformaNumber, number.clone());
    } else {
        update.value(invoice::Column::Number, number.clone());
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(InvoiceError::NotAllowed("Only a draft can be issued."));
    }
    let issued = find(txn, id).await?.ok_or(InvoiceError::NotFound)?;
    let currency = stored_currency(txn, &issued.currency_code).await?;
    send_billing_email(state, txn, c, "invoice_issued", issued_invoice_email(state, &issued, currency)).await?;
    audit::record(
        txn,
        actor,
        "invoice.issued",
        Some(("invoice", id.0)),
        format!(
            "Issued {} {number} for {}",
            if billing.proforma_mode { "proforma" } else { "invoice" },
            Money::from_minor(issued.total_minor, currency)
        ),
    )
    .await?;
    Ok(issued)
}

/// What the email telling a client about an issued invoice says, with a link to it.
fn issued_invoice_email(state: &AppState, i: &invoice::Model, currency: Currency) -> minijinja::Value {
    let total = Money::from_minor(i.total_minor, currency);
    invoice_email(state, i.id, &i.display_number(), i.number.is_none(), total, i.due_date)
}

/// The email's context for invoice `id` numbered `number`.
pub(crate) fn invoice_email(
    state: &AppState,
    id: InvoiceId,
    number: &str,
    proforma: bool,
    total: Money,
    due_date: NaiveDate,
) -> minijinja::Value {
    minijinja::context! {
        number => number,
        proforma => proforma,
        total => total.to_string(),
        due_date => due_date.to_string(),
        link => state.settings.url(&format!("/account/invoices/{id}")),
    }
}

/// Sends the invoice email again (the client lost it, or their address changed).
pub async fn resend(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<(), InvoiceError> {
    let i = find(&state.db, id).await?.ok_or(InvoiceError::NotFound)?;
    if i.status == InvoiceStatus::Draft || i.status == InvoiceStatus::Cancelled {
        return Err(InvoiceError::NotAllowed("Only issued invoices can be sent."));
    }
    let c = crate::clients::store::find(&state.db, i.client_id).await?.ok_or(InvoiceError::NotFound)?;
    if c.anonymised_at.is_some() {
        return Err(InvoiceError::NotAllowed(
            "This client's personal data was erased; there is no address to send to.",
        ));
    }
    let currency = stored_currency(&state.db, &i.currency_code).await?;
    let txn = state.db.begin().await?;
    send_billing_email(state, &txn, &c, "invoice_issued", issued_invoice_email(state, &i, currency)).await?;
    audit::record(
        &txn,
        actor,
        "invoice.resent",
        Some(("invoice", id.0)),
        format!("Sent {} to {} again", i.display_number(), c.email),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}
