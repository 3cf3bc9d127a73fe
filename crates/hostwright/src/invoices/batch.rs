//! Issuing many invoices in one transaction: the daily run's hot path.
//!
//! [`issue_many`] writes what [`super::service::insert_draft`] and
//! [`super::service::issue_on`] write for one invoice — the issued invoice with its frozen
//! buyer and seller, its lines and tax lines, its number, the audit record — for a whole
//! batch with a handful of multi-row statements: the numbers are one contiguous range of
//! the series taken by one counter update, so the series stays gapless and ordered (the
//! batch commits or rolls back whole). The emails to the clients and their billing contacts
//! are composed by an [`IssuedEmails`] job queued in the same transaction.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use hostwright_core::{Currency, Money, PriceMode, Totals};
use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, DbErr, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::drafts::{BilledLine, buyer_snapshot, seller_snapshot, treatment_key};
use super::issuing::{invoice_email, issuing_series};
use super::model::invoice;
use super::numbering;
use super::service::InvoiceError;
use super::settings::BillingSettings;
use crate::audit::{self, Actor};
use crate::clients::model::{client, contact};
use crate::db::insert_many;
use crate::ids::{ClientId, InvoiceId};
use crate::invoices::status::InvoiceStatus;
use crate::jobs::{Job, JobContext, JobError};
use crate::mail::Email;

/// An invoice to issue.
pub struct NewInvoice<'a> {
    pub client: &'a client::Model,
    pub currency: Currency,
    pub due_date: NaiveDate,
    pub lines: Vec<BilledLine>,
    pub totals: Totals,
    /// Why it was issued, added to its audit record ("renewal of service #5 from …").
    pub reason: Option<String>,
}

/// An invoice [`issue_many`] issued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub id: InvoiceId,
    pub number: String,
}

const INVOICE_COLUMNS: [&str; 26] = [
    "client_id",
    "number",
    "proforma_number",
    "status",
    "currency_code",
    "issue_date",
    "due_date",
    "paid_date",
    "subtotal_minor",
    "discount_minor",
    "tax_minor",
    "total_minor",
    "credit_applied_minor",
    "amount_paid_minor",
    "credited_minor",
    "refunded_minor",
    "price_mode",
    "tax_treatment",
    "reverse_charge",
    "buyer",
    "seller",
    "notes",
    "pdf_key",
    "issued_at",
    "created_at",
    "updated_at",
];

const LINE_COLUMNS: [&str; 14] = [
    "invoice_id",
    "position",
    "kind",
    "description",
    "quantity",
    "unit_price_minor",
    "amount_minor",
    "discount_minor",
    "tax_minor",
    "taxed",
    "service_id",
    "service_addon_id",
    "period_start",
    "period_end",
];

/// Issues `invoices` on `date` inside the caller's transaction, numbered in their order, and
/// queues the job that emails them; returns them in the same order. Each invoice's lines must match its
/// totals (computed by the money core).
pub async fn issue_many(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    billing: &BillingSettings,
    date: NaiveDate,
    invoices: &[NewInvoice<'_>],
) -> Result<Vec<Issued>, InvoiceError> {
    if invoices.is_empty() {
        return Ok(Vec::new());
    }
    let (series, pattern) = issuing_series(billing)?;
    let count = i64::try_from(invoices.len()).map_err(anyhow::Error::from)?;
    let first = numbering::take(txn, series, &pattern.period(date), count).await?;
    let numbers: Vec<String> = (0..count).map(|i| pattern.format(date, first + i)).collect();

    let now = Utc::now();
    let seller = serde_json::to_string(&seller_snapshot(billing)).unwrap_or_default();
    let rows = invoices
        .iter()
        .zip(&numbers)
        .map(|(new, number)| {
            let t = &new.totals;
            let (legal, proforma) =
                if billing.proforma_mode { (None, Some(number.clone())) } else { (Some(number.clone()), None) };
            vec![
                new.client.id.0.into(),
                legal.into(),
                proforma.into(),
                InvoiceStatus::Unpaid.into(),
                t.currency.code().into(),
                Some(date).into(),
                new.due_date.into(),
                Option::<NaiveDate>::None.into(),
                t.subtotal.minor().into(),
                t.discount_total.minor().into(),
                t.tax_total.minor().into(),
                t.grand_total.minor().into(),
                0_i64.into(),
                0_i64.into(),
                0_i64.into(),
                0_i64.into(),
                if t.price_mode == PriceMode::Inclusive { "inclusive" } else { "exclusive" }.into(),
                treatment_key(t.treatment).into(),
                t.reverse_charge.into(),
                serde_json::to_string(&buyer_snapshot(new.client)).unwrap_or_default().into(),
                seller.clone().into(),
                "".into(),
                Option::<String>::None.into(),
                Some(now).into(),
                now.into(),
                now.into(),
            ]
        })
        .collect();
    let number_column = if billing.proforma_mode { "proforma_number" } else { "number" };
    let returned = insert_many(txn, "invoices", &INVOICE_COLUMNS, rows, &["id", number_column]).await?;
    let mut ids: HashMap<String, InvoiceId> = HashMap::with_capacity(returned.len());
    for row in &returned {
        let number: Option<String> = row.try_get("", number_column)?;
        ids.insert(number.unwrap_or_default(), InvoiceId(row.try_get("", "id")?));
    }
    let issued: Vec<Issued> = numbers
        .into_iter()
        .map(|number| match ids.get(&number) {
            Some(&id) => Ok(Issued { id, number }),
            None => Err(DbErr::Custom(format!("invoice {number} was not returned by its insert"))),
        })
        .collect::<Result<_, _>>()?;

    let mut lines = Vec::new();
    let mut tax_lines = Vec::new();
    for (new, i) in invoices.iter().zip(&issued) {
        for (position, (billed, computed)) in new.lines.iter().zip(&new.totals.lines).enumerate() {
            let l = &billed.line;
            lines.push(vec![
                i.id.0.into(),
                i32::try_from(position).unwrap_or(i32::MAX).into(),
                billed.kind.into(),
                l.description.clone().into(),
                l.quantity.normalize().to_string().into(),
                l.unit_price.minor().into(),
                computed.net.minor().into(),
                computed.discount.minor().into(),
                computed.tax.minor().into(),
                l.taxable.into(),
                billed.service_id.map(|s| s.0).into(),
                billed.service_addon_id.map(|s| s.0).into(),
                billed.period.map(|p| p.start).into(),
                billed.period.map(|p| p.end).into(),
            ]);
        }
        for tax in &new.totals.tax_lines {
            tax_lines.push(vec![
                i.id.0.into(),
                tax.name.clone().into(),
                tax.rate.normalize().to_string().into(),
                (if tax.level == hostwright_core::TaxLevel::Compound { 2_i16 } else { 1_i16 }).into(),
                tax.base.minor().into(),
                tax.amount.minor().into(),
            ]);
        }
    }
    insert_many(txn, "invoice_lines", &LINE_COLUMNS, lines, &[]).await?;
    insert_many(
        txn,
        "invoice_tax_lines",
        &["invoice_id", "name", "rate", "level", "base_minor", "amount_minor"],
        tax_lines,
        &[],
    )
    .await?;

    // The emails are composed by a job queued with the invoices: a broken email template
    // cannot hold back invoicing, and the run's transactions stay short.
    crate::jobs::enqueue(
        txn,
        &IssuedEmails { invoice_ids: issued.iter().map(|i| i.id).collect() },
        crate::jobs::Enqueue::default(),
    )
    .await?;
    let kind = if billing.proforma_mode { "proforma" } else { "invoice" };
    let audits = invoices
        .iter()
        .zip(&issued)
        .map(|(new, i)| audit::Entry {
            action: "invoice.issued",
            entity: Some(("invoice", i.id.0)),
            summary: match &new.reason {
                Some(reason) => format!("Issued {kind} {} for {}: {reason}", i.number, new.totals.grand_total),
                None => format!("Issued {kind} {} for {}", i.number, new.totals.grand_total),
            },
        })
        .collect();
    audit::record_many(txn, actor, audits).await?;
    Ok(issued)
}

/// The emails telling clients (and their contacts who receive billing email) about invoices
/// [`issue_many`] issued; each is queued once, however often the job runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedEmails {
    pub invoice_ids: Vec<InvoiceId>,
}

impl Job for IssuedEmails {
    const KIND: &'static str = "invoice.issued_emails";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let db = &state.db;
        let mut invoices = Vec::with_capacity(self.invoice_ids.len());
        for chunk in self.invoice_ids.chunks(1000) {
            invoices.extend(
                invoice::Entity::find()
                    .filter(invoice::Column::Id.is_in(chunk.iter().copied()))
                    .filter(invoice::Column::Status.ne(InvoiceStatus::Cancelled))
                    .order_by_asc(invoice::Column::Id)
                    .all(db)
                    .await?,
            );
        }
        let client_ids: Vec<ClientId> = invoices.iter().map(|i| i.client_id).collect();
        let clients = crate::clients::store::find_many(db, &client_ids).await?;
        let mut contacts: HashMap<ClientId, Vec<contact::Model>> = HashMap::new();
        for chunk in client_ids.chunks(1000) {
            for c in contact::Entity::find()
                .filter(contact::Column::ClientId.is_in(chunk.iter().copied()))
                .filter(contact::Column::ReceivesBilling.eq(true))
                .order_by_asc(contact::Column::Id)
                .all(db)
                .await?
            {
                contacts.entry(c.client_id).or_default().push(c);
            }
        }
        let currencies = crate::catalog::service::currencies_by_code(db).await?;
        let mut emails = Vec::new();
        for i in &invoices {
            let Some(c) = clients.get(&i.client_id).filter(|c| c.anonymised_at.is_none()) else { continue };
            let currency =
                crate::catalog::service::known_currency(currencies.get(&i.currency_code).copied(), &i.currency_code)?;
            let total = Money::from_minor(i.total_minor, currency);
            let extra = invoice_email(state, i.id, &i.display_number(), i.number.is_none(), total, i.due_date);
            let contacts = contacts.get(&c.id).map_or(&[][..], Vec::as_slice);
            for (address, name, first_name) in crate::clients::contacts::billing_addresses(c, contacts) {
                let ctx = minijinja::context! { first_name => first_name, ..extra.clone() };
                let email = Email::compose(state, "invoice_issued", address, &name, ctx)
                    .map_err(|e| JobError::Retry(e.context(format!("composing the email for invoice {}", i.id))))?;
                emails.push(email.for_client(c.id).once_for(format!("invoice_issued:{}:{address}", i.id)));
            }
        }
        // Read before, write only here: the transaction starts with its write, so on SQLite
        // it waits for the write lock instead of failing to upgrade a read snapshot.
        let txn = db.begin().await?;
        crate::mail::outbox::enqueue_many(&txn, emails).await?;
        ctx.fence(&txn).await?;
        txn.commit().await?;
        state.outbox_wakeup.notify_one();
        Ok(())
    }
}
