//! The admin settings page (the business settings kept in `site_settings`).

use axum::Form;
use axum::extract::State;
use axum::response::Response;
use sea_orm::TransactionTrait;
use serde::Deserialize;

use super::current::Authorized;
use super::views::SettingsPage;
use crate::audit;
use crate::permissions::perm;
use crate::site_settings::SiteSettings;
use crate::state::AppState;
use crate::web::{AppResult, Page, flash};

pub async fn settings_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    let settings = crate::site_settings::load(&state.db).await?;
    state.render_view(&page, &SettingsPage { current_staff: current.badge(), nav: "settings", settings }).await
}

#[derive(Deserialize)]
pub struct SettingsForm {
    registration_open: Option<String>,
    require_staff_2fa: Option<String>,
}

pub async fn save_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let before = crate::site_settings::load(&state.db).await?;
    let after = SiteSettings {
        registration_open: form.registration_open.is_some(),
        require_staff_2fa: form.require_staff_2fa.is_some(),
    };
    let mut changes = Vec::new();
    if before.registration_open != after.registration_open {
        changes.push(format!("registration {}", if after.registration_open { "opened" } else { "closed" }));
    }
    if before.require_staff_2fa != after.require_staff_2fa {
        changes.push(format!("staff 2FA {}", if after.require_staff_2fa { "required" } else { "optional" }));
    }
    let txn = state.db.begin().await?;
    crate::site_settings::save(&txn, &after).await?;
    if !changes.is_empty() {
        audit::record(
            &txn,
            &current.actor(&page.ip),
            "settings.updated",
            None,
            format!("Settings changed: {}", changes.join(", ")),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(flash::redirect(&state, "/admin/settings", "success", "Settings saved."))
}
