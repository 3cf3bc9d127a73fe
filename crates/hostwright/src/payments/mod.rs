//! Payments through gateways (decision 0020): the gateways' settings, payment records and
//! their states, the webhooks that report what happened, and the jobs that apply it once.
//! The gateways themselves live in the `hostwright-gateways` crate.

pub mod autopay;
pub mod checkout;
pub mod for_invoices;
pub mod gateways;
pub mod handlers;
pub mod jobs;
pub mod methods;
pub mod model;
pub mod notices;
pub mod refunds;
pub mod status;
pub mod store;

pub mod webhooks;

use axum::Router;
use axum::routing::{get, post};
use hostwright_gateways::GatewayError;
use sea_orm::DbErr;

use crate::invoices::service::InvoiceError;
use crate::jobs::JobError;
use crate::state::AppState;
use crate::web::FormErrors;
use crate::web::retry::keyed;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/stripe", keyed(post(webhooks::stripe_webhook)))
        .route("/webhooks/paypal", keyed(post(webhooks::paypal_webhook)))
        .route("/account/invoices/{id}/paypal-return", get(handlers::paypal_return))
        .route("/account/invoices/{id}/pay", keyed(post(handlers::pay_invoice)))
        .route("/account/payment-methods", get(methods::handlers::list_methods).post(methods::handlers::add_method))
        .route("/account/payment-methods/{id}/default", post(methods::handlers::make_default))
        .route("/account/payment-methods/{id}/remove", post(methods::handlers::remove_method))
        .route("/account/auto-pay", post(methods::handlers::set_auto_pay))
        .route("/admin/payments", get(handlers::list_payments))
        .route("/admin/payments/{id}", get(handlers::show_payment))
        .route("/admin/payments/{id}/refund", post(handlers::settle_held_payment))
        .route("/admin/payments/{id}/check", post(handlers::check_payment))
        .route("/admin/settings/gateways", get(handlers::list_gateways))
        .route("/admin/settings/gateways/{key}", get(handlers::gateway_form).post(handlers::save_gateway))
        .route("/admin/settings/gateways/{key}/test", post(handlers::test_gateway))
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("the gateway is not set up: {0}")]
    NotConfigured(&'static str),
    /// Something changed meanwhile; trying again will see it.
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{0}")]
    Invalid(FormErrors),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Invoice(#[from] InvoiceError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<PaymentError> for JobError {
    fn from(err: PaymentError) -> Self {
        match err {
            PaymentError::Job(err) => err,
            PaymentError::Gateway(
                GatewayError::Declined { .. } | GatewayError::Rejected { .. } | GatewayError::Unsupported,
            ) => JobError::Permanent(err.to_string()),
            PaymentError::NotFound | PaymentError::NotAllowed(_) | PaymentError::Invalid(_) => {
                JobError::Permanent(err.to_string())
            }
            other => JobError::Retry(anyhow::Error::new(other)),
        }
    }
}
