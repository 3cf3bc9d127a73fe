//! The jobs that apply what gateways report.

use chrono::Utc;
use hostwright_gateways::stripe;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use serde::{Deserialize, Serialize};

use super::gateways::{self, STRIPE};
use super::model::event;
use super::service;
use crate::ids::PaymentEventId;
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
                service::apply_notice(ctx, &gateway, STRIPE, &notice).await?
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
