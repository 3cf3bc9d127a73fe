//! The jobs that apply what gateways report.

use chrono::Utc;
use hostwright_gateways::{paypal, stripe};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use serde::{Deserialize, Serialize};

use super::gateways::{self, PAYPAL, STRIPE};
use super::model::event;
use super::notices;
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
        let payload = stored.payload.as_bytes();
        let read = match stored.gateway.as_str() {
            STRIPE => stripe::parse_event(payload).map(|e| stripe::interpret(&e)).map_err(|e| e.to_string()),
            PAYPAL => paypal::parse_event(payload).map(|e| paypal::interpret(&e)),
            other => return Err(JobError::Permanent(format!("no gateway {other}"))),
        };
        let notice = read.map_err(|e| JobError::Permanent(format!("the stored event cannot be read: {e}")))?;
        let gateway = gateways::online(state, &stored.gateway).await?;
        let applied = notices::apply_notice(ctx, &gateway, &stored.gateway, &notice).await?;
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
        let outcome = notices::capture(ctx, self.payment_id).await?;
        tracing::info!(payment.id = %self.payment_id, outcome = %outcome, "capture");
        Ok(())
    }
}
