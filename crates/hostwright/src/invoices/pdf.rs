//! The PDF of an invoice: rendered from the frozen snapshot of an issued invoice, stored
//! through the FileStore once, and served from there ever after (an issued document never
//! changes; a proforma that is paid gets a new document under its legal number).

use anyhow::Context;
use hostwright_core::{Currency, Money};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::model::invoice;
use super::service::{self, PartySnapshot};
use crate::clients::countries;
use crate::documents::{DocLine, DocTaxLine, Document, DocumentKind, Party};
use crate::state::AppState;

fn party(p: &PartySnapshot) -> Party {
    let some = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    Party {
        name: p.name.clone(),
        company: some(&p.company),
        address_lines: p.address_lines.clone(),
        country: countries::name(&p.country).map(str::to_owned).or_else(|| some(&p.country)),
        tax_id: some(&p.tax_id),
        registration: some(&p.registration),
        email: some(&p.email),
    }
}

/// The printable document of an invoice as it was issued (payments are not part of it).
pub async fn document(state: &AppState, i: &invoice::Model) -> anyhow::Result<Document> {
    let currency = service::find_currency(&state.db, &i.currency_code)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .unwrap_or(Currency::USD);
    let amount = |minor: i64| Money::from_minor(minor, currency).to_decimal_string();
    let lines = service::lines(&state.db, i.id)
        .await?
        .into_iter()
        .map(|l| DocLine {
            description: l.description,
            quantity: l.quantity,
            unit_price: amount(l.unit_price_minor),
            amount: amount(l.amount_minor),
        })
        .collect();
    let tax_lines = service::tax_lines(&state.db, i.id)
        .await?
        .into_iter()
        .map(|t| DocTaxLine {
            name: t.name,
            rate: format!("{}%", t.rate),
            base: amount(t.base_minor),
            amount: amount(t.amount_minor),
        })
        .collect();
    let buyer: PartySnapshot = serde_json::from_str(&i.buyer).unwrap_or_default();
    let seller: PartySnapshot = serde_json::from_str(&i.seller).unwrap_or_default();
    let kind = if i.number.is_some() {
        DocumentKind::Invoice
    } else if i.proforma_number.is_some() {
        DocumentKind::Proforma
    } else {
        DocumentKind::Invoice
    };
    let mut notes = Vec::new();
    if i.reverse_charge {
        notes.push(
            "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)."
                .to_owned(),
        );
    }
    if i.tax_treatment == "export" {
        notes.push("Export outside the EU: not subject to VAT in the supplier's member state.".to_owned());
    }
    if !i.notes.trim().is_empty() {
        notes.push(i.notes.clone());
    }
    let references = match (&i.number, &i.proforma_number) {
        (Some(_), Some(proforma)) => vec![format!("Settles proforma invoice {proforma}")],
        _ => Vec::new(),
    };
    Ok(Document {
        kind,
        number: i.display_number(),
        issue_date: i.issue_date.map(|d| d.format("%d.%m.%Y").to_string()).unwrap_or_default(),
        due_date: Some(i.due_date.format("%d.%m.%Y").to_string()),
        status_label: if i.status == service::DRAFT { "Draft".into() } else { String::new() },
        seller: party(&seller),
        buyer: party(&buyer),
        currency: i.currency_code.clone(),
        lines,
        tax_lines,
        subtotal: amount(i.subtotal_minor),
        discount: (i.discount_minor != 0).then(|| amount(-i.discount_minor)),
        tax_total: amount(i.tax_minor),
        total: amount(i.total_minor),
        credit_applied: None,
        amount_paid: None,
        balance: amount(i.total_minor),
        notes,
        references,
    })
}

fn file_key(i: &invoice::Model) -> String {
    let safe: String = i
        .display_number()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' })
        .collect();
    format!("invoices/{}/{safe}.pdf", i.id)
}

/// The PDF bytes and a file name. Issued invoices are stored once and served from the file
/// store afterwards; drafts are rendered each time and never stored.
pub async fn pdf(state: &AppState, i: &invoice::Model) -> anyhow::Result<(Vec<u8>, String)> {
    let key = file_key(i);
    let name = key.rsplit('/').next().unwrap_or("invoice.pdf").to_owned();
    let final_document = i.status != service::DRAFT;
    if final_document
        && i.pdf_key.as_deref() == Some(key.as_str())
        && let Some(bytes) = state.files.get(&key).await?
    {
        return Ok((bytes, name));
    }
    let doc = document(state, i).await?;
    let renderer = state.pdf.clone();
    let bytes = tokio::task::spawn_blocking(move || renderer.render(&doc)).await.context("rendering the PDF")??;
    if final_document {
        state.files.put(&key, bytes.clone()).await?;
        let update = Query::update()
            .table(invoice::Entity)
            .value(invoice::Column::PdfKey, key)
            .and_where(Expr::col(invoice::Column::Id).eq(i.id))
            .to_owned();
        state.db.execute(&update).await?;
    }
    Ok((bytes, name))
}
