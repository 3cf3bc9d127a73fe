//! The admin page of the email outbox: what was sent, what waits, what failed and why.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use sea_orm::TransactionTrait;
use serde::{Deserialize, Serialize};

use crate::audit;
use crate::ids::EmailId;
use crate::mail::outbox;
use crate::permissions::perm;
use crate::staff::current::{Authorized, StaffBadge};
use crate::state::AppState;
use crate::web::view::Pagination;
use crate::web::{AppResult, Page, PageView, flash};

const PER_PAGE: u64 = 50;

/// The outbox: messages as filtered, newest first.
#[derive(Debug, Serialize)]
pub struct OutboxPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub messages: Vec<MessageRow>,
    pub status: String,
    /// Whether anything can be sent at all (else the page says so).
    pub smtp_configured: bool,
    pub pagination: Pagination,
}

impl PageView for OutboxPage {
    const TEMPLATE: &'static str = "admin/outbox.html";
}

/// A message as the list shows it.
#[derive(Debug, Serialize)]
pub struct MessageRow {
    pub id: EmailId,
    pub to: String,
    pub subject: String,
    pub template: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub next_attempt_at: String,
}

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
    let messages = rows
        .into_iter()
        .map(|m| MessageRow {
            id: m.id,
            to: m.to_address,
            subject: m.subject,
            template: m.template,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            created_at: m.created_at.to_rfc3339(),
            sent_at: m.sent_at.map(|t| t.to_rfc3339()),
            next_attempt_at: m.next_attempt_at.to_rfc3339(),
        })
        .collect();
    let status = status.unwrap_or("");
    let view = OutboxPage {
        current_staff: current.badge(),
        nav: "outbox",
        messages,
        status: status.to_owned(),
        smtp_configured: state.settings.smtp.host.as_deref().is_some_and(|h| !h.is_empty()),
        pagination: Pagination {
            page: page_number,
            pages: total.div_ceil(PER_PAGE).max(1),
            total,
            query: format!("status={status}"),
        },
    };
    state.render_view(&page, &view).await
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
        audit::record(
            &txn,
            &current.actor(&page.ip),
            "email.retried",
            Some(("email", id.0)),
            "Queued an email to be sent again",
        )
        .await?;
    }
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(if retried {
        flash::redirect(&state, "/admin/outbox", "success", "The email will be sent again shortly.")
    } else {
        flash::redirect(&state, "/admin/outbox", "error", "That email was already sent.")
    })
}

#[cfg(test)]
impl OutboxPage {
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::{SCRIPT, TIME};
        let message = |id: i64, status: &str, last_error: Option<&str>, sent_at: Option<&str>| MessageRow {
            id: EmailId(id),
            to: SCRIPT.into(),
            subject: SCRIPT.into(),
            template: "verify_email".into(),
            status: status.into(),
            attempts: 2,
            last_error: last_error.map(str::to_owned),
            created_at: TIME.into(),
            sent_at: sent_at.map(str::to_owned),
            next_attempt_at: TIME.into(),
        };
        let messages = vec![
            message(1, "sent", None, Some(TIME)),
            message(2, "sent", None, None),
            message(3, "failed", Some(SCRIPT), None),
            message(4, "pending", Some("timed out"), None),
            message(5, "unknown", None, None),
        ];
        [(messages, "", true, 1, 2, 51), (Vec::new(), "failed", false, 2, 1, 0), (Vec::new(), "", true, 1, 1, 1)]
            .into_iter()
            .map(|(messages, status, smtp_configured, page, pages, total)| OutboxPage {
                current_staff: StaffBadge::sample_all(),
                nav: "outbox",
                messages,
                status: status.into(),
                smtp_configured,
                pagination: Pagination { page, pages, total, query: format!("status={status}") },
            })
            .collect()
    }
}
