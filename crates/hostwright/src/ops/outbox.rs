//! The admin page of the email outbox: what was sent, what waits, what failed and why.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use minijinja::{Value, context};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use crate::audit::{self, Actor};
use crate::ids::EmailId;
use crate::mail::outbox;
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppResult, Page, flash};

const PER_PAGE: u64 = 50;

#[derive(Deserialize, Default)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<u64>,
}

pub async fn list_outbox(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Query(filters): Query<Filters>,
) -> AppResult<Response> {
    let status = [outbox::PENDING, outbox::SENT, outbox::FAILED].into_iter().find(|s| *s == filters.status);
    let page_number = filters.page.unwrap_or(1).max(1);
    let (rows, total) = outbox::recent(&state.db, status, page_number, PER_PAGE).await?;
    let messages: Vec<Value> = rows
        .into_iter()
        .map(|m| {
            context! {
                id => m.id,
                to => m.to_address,
                subject => m.subject,
                template => m.template,
                status => m.status,
                attempts => m.attempts,
                last_error => m.last_error,
                created_at => m.created_at.to_rfc3339(),
                sent_at => m.sent_at.map(|t| t.to_rfc3339()),
                next_attempt_at => m.next_attempt_at.to_rfc3339(),
            }
        })
        .collect();
    let ctx = context! {
        current_staff => current.template_value(),
        nav => "outbox",
        messages => messages,
        status => status.unwrap_or(""),
        smtp_configured => state.settings.smtp.host.as_deref().is_some_and(|h| !h.is_empty()),
        pagination => context! {
            page => page_number,
            pages => total.div_ceil(PER_PAGE).max(1),
            total => total,
            query => format!("status={}", status.unwrap_or("")),
        },
    };
    state.render(&page, "admin/outbox.html", ctx).await
}

pub async fn retry_email(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<EmailId>,
) -> AppResult<Response> {
    let txn = state.db.begin().await?;
    let retried = outbox::retry_now(&txn, id).await?;
    if retried {
        let actor = Actor::staff(current.staff.id, &current.staff.email, &page.ip);
        audit::record(&txn, &actor, "email.retried", Some(("email", id.0)), "Queued an email to be sent again").await?;
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(if retried {
        flash::redirect(&state, "/admin/outbox", "success", "The email will be sent again shortly.")
    } else {
        flash::redirect(&state, "/admin/outbox", "error", "That email was already sent.")
    })
}
