//! Invoices: drafts computed by the money core, gapless legal numbering, receipts, credit
//! notes and account credit, billing settings and tax rules. What they need from payments
//! comes in through `payments_port`.

pub mod account_credit;
pub mod batch;
pub mod credit_notes;
pub mod drafts;
pub mod export;
pub mod handlers;
pub mod issuing;
pub mod model;
pub mod numbering;
pub mod paid;
pub mod payments_port;
pub mod pdf;
pub mod receipts;
pub mod service;
pub mod settings;
pub mod settings_handlers;
pub mod status;
mod views;

use axum::Router;
use axum::routing::{get, post};

use self::payments_port::PaymentsPort;
use crate::state::AppState;
use crate::web::retry::keyed;

/// The invoice pages; `P` is how they reach payments (see [`payments_port`]).
pub fn router<P: PaymentsPort>() -> Router<AppState> {
    Router::new()
        .route("/admin/invoices", get(handlers::list_invoices).post(handlers::create_invoice))
        .route("/admin/invoices/new", get(handlers::new_invoice_form))
        .route("/admin/invoices/{id}", get(handlers::show_invoice))
        .route("/admin/invoices/{id}/issue", post(handlers::issue_invoice))
        .route("/admin/invoices/{id}/cancel", post(handlers::cancel_invoice))
        .route("/admin/invoices/{id}/resend", post(handlers::resend_invoice))
        .route("/admin/invoices/{id}/payments", keyed(post(handlers::record_payment)))
        .route("/admin/invoices/{id}/pdf", get(handlers::invoice_pdf))
        .route("/admin/invoices/{id}/credit-notes/new", get(credit_notes::handlers::new_credit_note_form::<P>))
        .route("/admin/invoices/{id}/credit-notes", keyed(post(credit_notes::handlers::create_credit_note::<P>)))
        .route("/admin/invoices/{id}/apply-credit", post(account_credit::handlers::apply_credit))
        .route("/admin/credit-notes/{id}", get(credit_notes::handlers::show_credit_note::<P>))
        .route("/admin/credit-notes/{id}/pdf", get(credit_notes::handlers::credit_note_pdf))
        .route("/admin/clients/{id}/credit", keyed(post(account_credit::handlers::adjust_credit)))
        .route("/account/credit", get(account_credit::handlers::client_credit::<P>))
        .route("/account/credit/add-funds", keyed(post(account_credit::handlers::add_funds_invoice::<P>)))
        .route("/account/credit-notes/{id}/pdf", get(credit_notes::handlers::client_credit_note_pdf))
        .route("/account/invoices/{id}/pdf", get(handlers::client_invoice_pdf))
        .route(
            "/admin/settings/billing",
            get(settings_handlers::billing_settings).post(settings_handlers::save_billing_settings),
        )
        .route("/admin/tax-rules", post(settings_handlers::add_tax_rule))
        .route("/admin/tax-rules/{id}/delete", post(settings_handlers::delete_tax_rule))
        .route("/account/invoices", get(handlers::client_invoices))
        .route("/account/invoices/{id}", get(handlers::client_invoice::<P>))
}
