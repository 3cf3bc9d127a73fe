//! The module log: one row per call a module made, with its outcome and its exchanges with
//! the server, which the module redacted before they got here.

use std::time::Instant;

use chrono::Utc;
use hostwright_provisioning::{Account, Exchange, ModuleError};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, QuerySelect};

use super::servers::server;
use super::{AnyModule, Call, Done};
use crate::audit::Actor;
use crate::ids::{JobId, ModuleCallId, ServerId, ServiceId};
use crate::jobs::JobContext;
use crate::state::AppState;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "module_calls")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: ModuleCallId,
    pub service_id: Option<ServiceId>,
    pub server_id: Option<ServerId>,
    pub job_id: Option<JobId>,
    pub module: String,
    pub action: String,
    pub ok: bool,
    pub message: String,
    /// A JSON array of [`Exchange`]s.
    pub exchanges: String,
    pub duration_ms: i64,
    pub actor: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// A call about to be recorded.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub service_id: Option<ServiceId>,
    pub server_id: Option<ServerId>,
    pub job_id: Option<JobId>,
    pub module: &'a str,
    pub action: String,
    pub ok: bool,
    pub message: String,
    pub exchanges: &'a [Exchange],
    pub duration_ms: i64,
    pub actor: &'a str,
}

pub async fn record(db: &impl ConnectionTrait, r: Record<'_>) -> Result<ModuleCallId, DbErr> {
    let row = ActiveModel {
        service_id: Set(r.service_id),
        server_id: Set(r.server_id),
        job_id: Set(r.job_id),
        module: Set(r.module.to_owned()),
        action: Set(r.action),
        ok: Set(r.ok),
        message: Set(r.message.chars().take(4000).collect()),
        exchanges: Set(serde_json::to_string(r.exchanges).unwrap_or_else(|_| "[]".into())),
        duration_ms: Set(r.duration_ms),
        actor: Set(r.actor.chars().take(200).collect()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(row.id)
}

/// Makes one module call and keeps it in the module log, whatever its outcome. The outer
/// `Result` is the log's own failure; the inner one is the call's.
#[allow(clippy::too_many_arguments)]
pub async fn call_logged(
    state: &AppState,
    ctx: Option<&JobContext>,
    actor: &Actor,
    module: &AnyModule,
    server_row: Option<&server::Model>,
    service_id: Option<ServiceId>,
    server: &hostwright_provisioning::Server,
    account: &Account,
    call: &Call,
) -> Result<Result<Done, ModuleError>, DbErr> {
    let started = Instant::now();
    let mut log = Vec::new();
    let outcome = module.call(server, account, call, &mut log).await;
    let message = match &outcome {
        Ok(done) => done.summary(),
        Err(err) => err.to_string(),
    };
    if let Err(err) = &outcome {
        tracing::warn!(service = ?service_id, call = %call.key(), error = %err, "module call failed");
    }
    record(
        &state.db,
        Record {
            service_id,
            server_id: server_row.map(|s| s.id),
            job_id: ctx.map(|c| c.id),
            module: module.info().key,
            action: call.key(),
            ok: outcome.is_ok(),
            message,
            exchanges: &log,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            actor: &actor.label,
        },
    )
    .await?;
    Ok(outcome)
}

/// The latest calls about a service, newest first.
pub async fn for_service(db: &impl ConnectionTrait, id: ServiceId, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find().filter(Column::ServiceId.eq(id)).order_by_desc(Column::Id).limit(limit).all(db).await
}

/// The latest calls to a server, newest first.
pub async fn for_server(db: &impl ConnectionTrait, id: ServerId, limit: u64) -> Result<Vec<Model>, DbErr> {
    Entity::find().filter(Column::ServerId.eq(id)).order_by_desc(Column::Id).limit(limit).all(db).await
}

pub fn exchanges(call: &Model) -> Vec<Exchange> {
    serde_json::from_str(&call.exchanges).unwrap_or_default()
}
