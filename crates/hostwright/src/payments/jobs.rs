//! The jobs that apply what gateways report.

use chrono::Utc;
use hostwright_gateways::{paypal, stripe};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use serde::{Deserialize, Serialize};

use super::gateways::{self, PAYPAL, STRIPE};
use super::model::event;
use super::service;
use crate::ids::{GatewayPaymentId, PaymentEventId};
use crate::jobs::{Job, JobContext, JobError};

/// Applies one stored webhook event; queued with the event, once per event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessEvent {
    pub event_id: PaymentEventId,
}

impl Job for ProcessEvent {
    const KIND: &'static str = "payment.event";
    const MAX_ATTEMPTS: i32 = 10;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(stored) = event::Entity::find_by_id(self.event_id).one(&state.db).await? else {
            return Err(JobError::Permanent(format!("event {} is gone", self.event_id)));
        };
        if stored.processed_at.is_some() {
            return Ok(());
        }
        let applied = match stored.gateway.as_str() {
            STRIPE => {
                let parsed = stripe::parse_event(stored.payload.as_bytes())
                    .map_err(|e| JobError::Permanent(format!("the stored event cannot be read: {e}")))?;
                let notice = stripe::interpret(&parsed);
                let gateway = gateways::stripe(state).await?;
                service::apply_notice(ctx, &*gateway, STRIPE, &notice).await?
            }
            PAYPAL => {
                let parsed = paypal::parse_event(stored.payload.as_bytes())
                    .map_err(|e| JobError::Permanent(format!("the stored event cannot be read: {e}")))?;
                let notice = paypal::interpret(&parsed);
                let gateway = gateways::paypal(state).await?;
                service::apply_notice(ctx, &*gateway, PAYPAL, &notice).await?
            }
            other => return Err(JobError::Permanent(format!("no gateway {other}"))),
        };
        tracing::info!(event.id = %stored.event_id, event.kind = %stored.event_type, outcome = %applied.outcome, "applied a payment event");
        event::Entity::update_many()
            .col_expr(event::Column::ProcessedAt, Expr::value(Utc::now()))
            .col_expr(event::Column::Outcome, Expr::value(applied.outcome.chars().take(500).collect::<String>()))
            .col_expr(event::Column::PaymentId, Expr::value(applied.payment_id.map(|id| id.0)))
            .filter(event::Column::Id.eq(self.event_id))
            .exec(&state.db)
            .await?;
        Ok(())
    }
}

/// Captures a payment the payer approved on the gateway's page (PayPal): queued when they
/// come back, and when the gateway reports the approval; once per payment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CapturePayment {
    pub payment_id: GatewayPaymentId,
}

impl Job for CapturePayment {
    const KIND: &'static str = "payment.capture";

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let outcome = service::capture(ctx, self.payment_id).await?;
        tracing::info!(payment.id = %self.payment_id, outcome = %outcome, "capture");
        Ok(())
    }
}
