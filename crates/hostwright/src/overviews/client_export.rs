//! A client's data export (a GDPR access request): what the clients domain stores about
//! them with their invoices, credit notes and account credit, as one JSON download for staff
//! or for the client.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value;

use crate::audit::Actor;
use crate::clients::current::CurrentClient;
use crate::ids::ClientId;
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, Page};

/// Everything stored about a client; `None` when there is no such client.
pub async fn export(db: &impl ConnectionTrait, id: ClientId) -> Result<Option<Value>, DbErr> {
    let Some(mut data) = crate::clients::admin::export(db, id).await? else { return Ok(None) };
    if let Some(object) = data.as_object_mut() {
        object.extend(crate::invoices::export::for_client(db, id).await?);
    }
    Ok(Some(data))
}

fn json_download(value: &serde_json::Value, filename: &str) -> Response {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}

pub async fn export_client(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(id): Path<ClientId>,
) -> AppResult<Response> {
    let data = export(&state.db, id).await?.ok_or(AppError::NotFound)?;
    crate::audit::record(
        &state.db,
        &current.actor(&page.ip),
        "client.exported",
        Some(("client", id.0)),
        "Exported the client's data",
    )
    .await?;
    Ok(json_download(&data, &format!("client-{id}.json")))
}

/// A client downloads everything stored about them.
pub async fn export_own_data(State(state): State<AppState>, page: Page, current: CurrentClient) -> AppResult<Response> {
    if !current.is_owner() {
        return Err(AppError::Forbidden);
    }
    let id = current.client.id;
    let data = export(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let who = Actor::client(id, &current.client.email, &page.ip);
    crate::audit::record(&state.db, &who, "client.exported", Some(("client", id.0)), "Downloaded their data").await?;
    Ok(json_download(&data, "my-data.json"))
}
