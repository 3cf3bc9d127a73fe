//! What the invoice and credit pages share: the acting staff member, domain errors as page
//! errors, amounts as text, the currency table, PDF responses and credit notes as rows.

use std::collections::BTreeMap;

use axum::response::Response;
use hostwright_core::{Currency, Money};
use minijinja::{Value, context};

use super::model::credit_note;
use super::service;
use crate::audit::Actor;
use crate::staff::current::CurrentStaff;
use crate::state::AppState;
use crate::web::{AppResult, Page};

pub(super) fn actor(current: &CurrentStaff, page: &Page) -> Actor {
    Actor::staff(current.staff.id, &current.staff.email, &page.ip)
}

pub(super) async fn currency_of(state: &AppState, code: &str) -> AppResult<Currency> {
    let found = service::find_currency(&state.db, code).await?;
    Ok(crate::catalog::service::known_currency(found, code)?)
}

pub(super) fn money(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_string()
}

/// Every currency, once per page, so a list of invoices costs no query per row.
pub(super) async fn currency_table(state: &AppState) -> AppResult<BTreeMap<String, Currency>> {
    let mut table = BTreeMap::new();
    for stored in crate::catalog::service::currencies(&state.db).await? {
        table.insert(stored.code.clone(), crate::catalog::service::to_core(&stored)?);
    }
    Ok(table)
}

pub(super) fn pdf_response(bytes: Vec<u8>, name: &str) -> Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// A credit note for lists and its own page.
pub(super) fn note_row(note: &credit_note::Model, currency: Currency) -> Value {
    context! {
        id => note.id,
        number => note.number.clone(),
        invoice_id => note.invoice_id,
        issue_date => note.issue_date.to_string(),
        reason => note.reason.clone(),
        net => money(note.net_minor, currency),
        tax => money(note.tax_minor, currency),
        total => money(note.total_minor, currency),
        settled => money(note.settled_minor, currency),
        refunded => (note.refunded_minor > 0).then(|| money(note.refunded_minor, currency)),
        refund_method => note.refund_method.clone(),
        currency => note.currency_code.clone(),
    }
}

pub(super) fn minor_text(minor: i64, currency: Currency) -> String {
    Money::from_minor(minor, currency).to_decimal_string()
}
