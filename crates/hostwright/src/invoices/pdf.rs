//! The PDF of an invoice or a credit note: rendered from the frozen snapshot of an issued invoice, stored
//! through the FileStore once, and served from there ever after (an issued document never
//! changes; a proforma that is paid gets a new document under its legal number).

use anyhow::Context;
use hostwright_core::Money;
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Query};

use super::credit_notes;
use super::drafts::PartySnapshot;
use super::model::{credit_note, invoice};
use super::service::{self};
use crate::clients::countries;
use crate::documents::{DocLine, DocTaxLine, Document, DocumentKind, Party};
use crate::invoices::status::InvoiceStatus;
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
    let found = service::find_currency(&state.db, &i.currency_code).await.map_err(anyhow::Error::from)?;
    let currency = crate::catalog::service::known_currency(found, &i.currency_code)?;
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
    let buyer = PartySnapshot::parse(&i.buyer, &format!("buyer of invoice #{}", i.id))?;
    let seller = PartySnapshot::parse(&i.seller, &format!("seller of invoice #{}", i.id))?;
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
        status_label: if i.status == InvoiceStatus::Draft { "Draft".into() } else { String::new() },
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

fn safe_file_name(number: &str) -> String {
    number.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '_' }).collect()
}

/// Renders `doc` to PDF bytes off the async threads.
async fn render(state: &AppState, doc: Document) -> anyhow::Result<Vec<u8>> {
    let renderer = state.pdf.clone();
    tokio::task::spawn_blocking(move || renderer.render(&doc)).await.context("rendering the PDF")?
}

/// The stored bytes under `key`, if the document was stored there before.
async fn stored(state: &AppState, key: &str, stored_key: Option<&str>) -> anyhow::Result<Option<Vec<u8>>> {
    if stored_key != Some(key) {
        return Ok(None);
    }
    state.files.get(key).await
}

/// The PDF bytes and a file name. Issued invoices are stored once and served from the file
/// store afterwards; drafts are rendered each time and never stored.
pub async fn pdf(state: &AppState, i: &invoice::Model) -> anyhow::Result<(Vec<u8>, String)> {
    let name = format!("{}.pdf", safe_file_name(&i.display_number()));
    let key = format!("invoices/{}/{name}", i.id);
    let final_document = i.status != InvoiceStatus::Draft;
    if final_document && let Some(bytes) = stored(state, &key, i.pdf_key.as_deref()).await? {
        return Ok((bytes, name));
    }
    let bytes = render(state, document(state, i).await?).await?;
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

/// The printable document of a credit note.
pub async fn credit_note_document(state: &AppState, note: &credit_note::Model) -> anyhow::Result<Document> {
    let found = service::find_currency(&state.db, &note.currency_code).await.map_err(anyhow::Error::from)?;
    let currency = crate::catalog::service::known_currency(found, &note.currency_code)?;
    let amount = |minor: i64| Money::from_minor(minor, currency).to_decimal_string();
    let lines = credit_notes::lines(&state.db, note.id)
        .await?
        .into_iter()
        .map(|l| DocLine {
            description: l.description,
            quantity: "1".to_owned(),
            unit_price: amount(l.net_minor),
            amount: amount(l.net_minor),
        })
        .collect();
    let tax_lines = credit_notes::tax_lines(&state.db, note.id)
        .await?
        .into_iter()
        .filter(|t| t.amount_minor != 0 || t.base_minor != 0)
        .map(|t| DocTaxLine {
            name: t.name,
            rate: format!("{}%", t.rate),
            base: amount(t.base_minor),
            amount: amount(t.amount_minor),
        })
        .collect();
    let invoice_number = service::find(&state.db, note.invoice_id)
        .await?
        .map(|i| i.display_number())
        .unwrap_or_else(|| format!("#{}", note.invoice_id));
    let buyer = PartySnapshot::parse(&note.buyer, &format!("buyer of credit note {}", note.number))?;
    let seller = PartySnapshot::parse(&note.seller, &format!("seller of credit note {}", note.number))?;
    let mut notes = vec![format!("Reason: {}", note.reason)];
    if note.reverse_charge {
        notes.push(
            "Reverse charge: VAT to be accounted for by the recipient (Article 196, Council Directive 2006/112/EC)."
                .to_owned(),
        );
    }
    match note.refund_method.as_str() {
        "account_credit" => {
            notes.push(format!("{} {} added to your account credit.", amount(note.refunded_minor), note.currency_code))
        }
        "external" => notes.push(format!("{} {} refunded to you.", amount(note.refunded_minor), note.currency_code)),
        "gateway" => {
            notes.push(format!("{} {} refunded the way you paid.", amount(note.refunded_minor), note.currency_code))
        }
        _ => {}
    }
    Ok(Document {
        kind: DocumentKind::CreditNote,
        number: note.number.clone(),
        issue_date: note.issue_date.format("%d.%m.%Y").to_string(),
        due_date: None,
        status_label: String::new(),
        seller: party(&seller),
        buyer: party(&buyer),
        currency: note.currency_code.clone(),
        lines,
        tax_lines,
        subtotal: amount(note.net_minor),
        discount: None,
        tax_total: amount(note.tax_minor),
        total: amount(note.total_minor),
        credit_applied: None,
        amount_paid: None,
        balance: amount(note.total_minor),
        notes,
        references: vec![format!("Credits invoice {invoice_number}")],
    })
}

/// A credit note's PDF, rendered once and kept in the file store.
pub async fn credit_note_pdf(state: &AppState, note: &credit_note::Model) -> anyhow::Result<(Vec<u8>, String)> {
    let name = format!("{}.pdf", safe_file_name(&note.number));
    let key = format!("credit-notes/{}/{name}", note.id);
    if let Some(bytes) = stored(state, &key, note.pdf_key.as_deref()).await? {
        return Ok((bytes, name));
    }
    let bytes = render(state, credit_note_document(state, note).await?).await?;
    state.files.put(&key, bytes.clone()).await?;
    let update = Query::update()
        .table(credit_note::Entity)
        .value(credit_note::Column::PdfKey, key)
        .and_where(Expr::col(credit_note::Column::Id).eq(note.id))
        .to_owned();
    state.db.execute(&update).await?;
    Ok((bytes, name))
}
