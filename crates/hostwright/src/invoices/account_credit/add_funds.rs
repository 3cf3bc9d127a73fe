//! Clients adding to their account credit: an invoice of its own with one untaxed "funds"
//! line, paid like any other (card, bank transfer), whose payment in full puts the amount on
//! the account credit once. Tax is charged when the credit pays a taxed invoice, not here.

use hostwright_core::{Currency, Line, Money};
use sea_orm::DatabaseConnection;
use sea_orm::TransactionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use crate::audit::{self, Actor};
use crate::clients::model::client;
use crate::ids::InvoiceId;
use crate::invoices::account_credit::{self, MoveError, Movement};
use crate::invoices::drafts::{BilledLine, TaxBuyer};
use crate::invoices::model::{invoice, line};
use crate::invoices::payments_port::PaymentsPort;
use crate::invoices::service::{self, InvoiceError};
use crate::invoices::settings;
use crate::invoices::{drafts, issuing};
use crate::state::AppState;
use crate::web::FormErrors;

/// The line kind of money added to account credit.
pub const FUNDS: &str = "funds";

/// Whether invoice `id` adds funds (such an invoice is never paid from account credit).
pub async fn is_funds_invoice(db: &impl ConnectionTrait, id: InvoiceId) -> Result<bool, DbErr> {
    Ok(line::Entity::find()
        .filter(line::Column::InvoiceId.eq(id))
        .filter(line::Column::Kind.eq(FUNDS))
        .one(db)
        .await?
        .is_some())
}

/// The currency `c` adds funds in: theirs, else the installation's default.
pub async fn currency_of(db: &impl ConnectionTrait, c: &client::Model) -> Result<Option<Currency>, InvoiceError> {
    let code = if c.currency_code.is_empty() {
        match crate::catalog::service::currencies(db).await?.into_iter().next() {
            Some(default) => default.code,
            None => return Ok(None),
        }
    } else {
        c.currency_code.clone()
    };
    service::find_currency(db, &code).await
}

/// What a client may add now: the currency and the least and most, or `None` when adding
/// funds is not offered.
pub async fn range<P: PaymentsPort>(
    db: &DatabaseConnection,
    c: &client::Model,
) -> Result<Option<(Money, Money)>, InvoiceError> {
    let Some(currency) = currency_of(db, c).await? else { return Ok(None) };
    Ok(P::add_funds_range(db, currency).await?)
}

/// Issues an invoice adding `amount_text` to the client's account credit; one form
/// submission (`key`) makes one invoice.
pub async fn request<P: PaymentsPort>(
    state: &AppState,
    actor: &Actor,
    owner: &client::Model,
    amount_text: &str,
    key: &str,
) -> Result<InvoiceId, InvoiceError> {
    let key = key.trim();
    if !(16..=64).contains(&key.len()) {
        return Err(InvoiceError::NotAllowed("This form is out of date; reload the page and try again."));
    }
    if let Some(existing) = by_key(&state.db, key).await?.filter(|i| i.client_id == owner.id) {
        return Ok(existing.id);
    }
    if owner.anonymised_at.is_some() {
        return Err(InvoiceError::NotAllowed("This account is closed."));
    }
    let Some((least, most)) = range::<P>(&state.db, owner).await? else {
        return Err(InvoiceError::NotAllowed("Adding funds is not available."));
    };
    let currency = least.currency();
    let amount = Money::parse(amount_text.trim(), currency).ok().filter(|m| *m >= least && *m <= most);
    let Some(amount) = amount else {
        let mut errors = FormErrors::new();
        errors.add("amount", format!("Enter an amount from {least} to {most}."));
        return Err(InvoiceError::Invalid(errors));
    };
    let billing = settings::load(&state.db).await?;
    let line = Line::new("Funds added to account credit".to_owned(), amount, hostwright_core::Decimal::ONE).untaxed();
    let totals =
        drafts::totals_for(&state.db, &billing, TaxBuyer::client(owner), currency, std::slice::from_ref(&line)).await?;
    let billed = [BilledLine { kind: FUNDS, ..BilledLine::manual(line) }];
    let due = billing.today();
    let txn = state.db.begin().await?;
    let draft = drafts::insert_draft(&txn, owner, due, "", &billed, &totals).await?;
    let claim = Query::update()
        .table(invoice::Entity)
        .value(invoice::Column::RequestKey, key)
        .and_where(Expr::col(invoice::Column::Id).eq(draft.id))
        .to_owned();
    if let Err(err) = txn.execute(&claim).await {
        txn.rollback().await?;
        if crate::web::forms::is_unique_violation(&err) {
            let existing = by_key(&state.db, key).await?.ok_or(InvoiceError::NotFound)?;
            return Ok(existing.id);
        }
        return Err(err.into());
    }
    let issued = issuing::issue_in(state, &txn, actor, &billing, owner, draft.id).await?;
    let summary = format!("Asked to add {amount} to the account credit: invoice {}", issued.display_number());
    audit::record(&txn, actor, "invoice.add_funds", Some(("invoice", issued.id.0)), summary).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(issued.id)
}

async fn by_key(db: &impl ConnectionTrait, key: &str) -> Result<Option<invoice::Model>, DbErr> {
    invoice::Entity::find().filter(invoice::Column::RequestKey.eq(key)).one(db).await
}

/// Puts the funds of paid invoice `id` on the client's account credit, once.
pub async fn after_invoice_paid(state: &AppState, id: InvoiceId) -> anyhow::Result<()> {
    let funds: i64 = line::Entity::find()
        .filter(line::Column::InvoiceId.eq(id))
        .filter(line::Column::Kind.eq(FUNDS))
        .all(&state.db)
        .await?
        .iter()
        .map(|l| l.amount_minor)
        .sum();
    if funds <= 0 {
        return Ok(());
    }
    let Some(i) = service::find(&state.db, id).await? else { return Ok(()) };
    let currency = service::stored_currency(&state.db, &i.currency_code).await?;
    let reason = format!("Funds added with invoice {}", i.display_number());
    let key = format!("funds:{id}");
    let movement = Movement {
        client_id: i.client_id,
        currency,
        amount_minor: funds,
        kind: account_credit::FUNDS,
        reason: &reason,
        invoice_id: Some(id),
        credit_note_id: None,
        idempotency_key: Some(&key),
    };
    let txn = state.db.begin().await?;
    match account_credit::move_credit(&txn, &Actor::system("Add funds"), &movement).await {
        Ok(_) => {}
        Err(MoveError::Duplicate) => return Ok(()),
        Err(MoveError::Insufficient) => anyhow::bail!("adding funds cannot lower the credit"),
        Err(MoveError::Db(err)) => return Err(err.into()),
    }
    txn.commit().await?;
    Ok(())
}
