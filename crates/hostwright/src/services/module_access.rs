//! What a client reaches of a module from the service page, without a module call ever
//! running inside their request: single sign-on and a module's own actions go through a
//! ticket a job answers (the page waits for it a few seconds), and usage is what a job last
//! read, refreshed at most hourly while the client looks.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hostwright_provisioning::ActionOutcome;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveValue::Set, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::lifecycle::{self, LifecycleError};
use super::store;
use crate::audit::Actor;
use crate::ids::{ClientId, ServiceId};
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::provisioning::{AnyModule, Call, Done, calls, servers};
use crate::state::AppState;

pub mod usage {
    use sea_orm::entity::prelude::*;

    use crate::ids::ServiceId;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "service_usage")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub service_id: ServiceId,
        pub disk_used_mb: i64,
        pub disk_limit_mb: Option<i64>,
        pub bandwidth_used_mb: i64,
        pub bandwidth_limit_mb: Option<i64>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod ticket {
    use sea_orm::entity::prelude::*;

    use crate::ids::{ClientId, ServiceId};

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "module_tickets")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub token_hash: String,
        pub service_id: ServiceId,
        pub client_id: ClientId,
        pub call: String,
        pub client_ip: String,
        pub status: String,
        pub url_enc: Option<String>,
        pub message: String,
        pub created_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// How long a ticket may wait for its answer, and how long a sign-in address stays usable.
const TICKET_LIFE: Duration = Duration::from_secs(120);

/// How old usage may be before viewing the page asks for fresh figures.
const USAGE_AGE: chrono::Duration = chrono::Duration::hours(1);

fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a ticket for `call` (`sso` or `action:<key>`) and queues the job that answers it,
/// ahead of bulk work. Returns the ticket's token for the waiting page's address.
pub async fn open_ticket(
    state: &AppState,
    client_id: ClientId,
    service_id: ServiceId,
    call: &str,
    client_ip: &str,
) -> Result<String, DbErr> {
    let token = crate::crypto::random_token();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let row = ticket::ActiveModel {
        token_hash: Set(token_hash(&token)),
        service_id: Set(service_id),
        client_id: Set(client_id),
        call: Set(call.to_owned()),
        client_ip: Set(client_ip.to_owned()),
        status: Set("pending".into()),
        url_enc: Set(None),
        message: Set(String::new()),
        created_at: Set(now),
        expires_at: Set(now + chrono::Duration::from_std(TICKET_LIFE).unwrap_or_default()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let how = Enqueue { priority: Some(5), ..Enqueue::default() }.about(format!("service:{service_id}"));
    jobs::enqueue(&txn, &AnswerTicket { ticket_id: row.id }, how).await?;
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(token)
}

/// Where a ticket stands, for the waiting page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketState {
    Waiting,
    /// Send the client here (used once).
    Redirect(String),
    Message(String),
    Failed,
    Gone,
}

/// Reads ticket `token` of the client's service; a sign-in address is handed out once.
pub async fn read_ticket(
    state: &AppState,
    client_id: ClientId,
    service_id: ServiceId,
    token: &str,
) -> Result<TicketState, DbErr> {
    let Some(t) = ticket::Entity::find()
        .filter(ticket::Column::TokenHash.eq(token_hash(token)))
        .filter(ticket::Column::ClientId.eq(client_id))
        .filter(ticket::Column::ServiceId.eq(service_id))
        .one(&state.db)
        .await?
    else {
        return Ok(TicketState::Gone);
    };
    if t.expires_at < Utc::now() && t.status != "failed" {
        return Ok(TicketState::Gone);
    }
    match t.status.as_str() {
        "pending" => Ok(TicketState::Waiting),
        "failed" => Ok(TicketState::Failed),
        "ready" => match &t.url_enc {
            Some(enc) => {
                let used = Query::update()
                    .table(ticket::Entity)
                    .value(ticket::Column::Status, "used")
                    .value(ticket::Column::UrlEnc, Option::<String>::None)
                    .and_where(Expr::col(ticket::Column::Id).eq(t.id))
                    .and_where(Expr::col(ticket::Column::Status).eq("ready"))
                    .to_owned();
                if state.db.execute(&used).await?.rows_affected() != 1 {
                    return Ok(TicketState::Gone);
                }
                let url = state.key.decrypt(enc).ok().and_then(|b| String::from_utf8(b).ok());
                Ok(url.map_or(TicketState::Failed, TicketState::Redirect))
            }
            None => Ok(TicketState::Message(t.message)),
        },
        _ => Ok(TicketState::Gone),
    }
}

async fn answer(
    db: &impl ConnectionTrait,
    id: i64,
    status: &str,
    url_enc: Option<String>,
    message: &str,
) -> Result<(), DbErr> {
    let update = Query::update()
        .table(ticket::Entity)
        .value(ticket::Column::Status, status)
        .value(ticket::Column::UrlEnc, url_enc)
        .value(ticket::Column::Message, message.chars().take(1000).collect::<String>())
        .and_where(Expr::col(ticket::Column::Id).eq(id))
        .and_where(Expr::col(ticket::Column::Status).eq("pending"))
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

/// Answer a client's ticket: sign in to the panel, or run one of the module's actions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerTicket {
    pub ticket_id: i64,
}

impl Job for AnswerTicket {
    const KIND: &'static str = "service.client_call";
    // The client is waiting: one attempt, a clear failure, and they may ask again. One call,
    // so the shorter lease of quick jobs, where its priority puts it first.
    const MAX_ATTEMPTS: i32 = 1;
    const TIMEOUT: Duration = Duration::from_secs(60);

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let Some(t) = ticket::Entity::find_by_id(self.ticket_id).one(&state.db).await? else { return Ok(()) };
        if t.status != "pending" {
            return Ok(());
        }
        let call = match t.call.strip_prefix("action:") {
            Some(key) => Call::ClientAction(key.to_owned()),
            None => Call::SingleSignOn,
        };
        let actor = Actor::system("client area");
        match module_call(state, ctx, &actor, t.service_id, &call, t.client_ip.parse().ok()).await {
            Ok(Done::Url(url) | Done::Action(ActionOutcome::Redirect(url))) => {
                answer(&state.db, t.id, "ready", Some(state.key.encrypt(url.as_bytes())), "").await?;
            }
            Ok(Done::Action(ActionOutcome::Message(message))) => {
                answer(&state.db, t.id, "ready", None, &message).await?
            }
            Ok(other) => answer(&state.db, t.id, "ready", None, &other.summary()).await?,
            Err(err) => {
                answer(&state.db, t.id, "failed", None, "").await?;
                return Err(JobError::Permanent(err.to_string()));
            }
        }
        Ok(())
    }
}

/// One module call about a live service that changes nothing in our records (usage, sign-on,
/// a module's own action), logged like every call.
pub async fn module_call(
    state: &AppState,
    ctx: &JobContext,
    actor: &Actor,
    service_id: ServiceId,
    call: &Call,
    client_ip: Option<std::net::IpAddr>,
) -> Result<Done, LifecycleError> {
    let s = store::find(&state.db, service_id).await?.ok_or(LifecycleError::NotFound)?;
    let product =
        crate::catalog::service::find_product(&state.db, s.product_id).await?.ok_or(LifecycleError::NotFound)?;
    let module = AnyModule::get(&product.module, &state.http)
        .filter(|m| m.supports(call))
        .ok_or_else(|| LifecycleError::NotAllowed("The module does not offer that.".into()))?;
    let row = match s.server_id {
        Some(id) => servers::find(&state.db, id).await?.ok_or(LifecycleError::NotFound)?,
        None => return Err(LifecycleError::NotAllowed("The service has no server.".into())),
    };
    let server = servers::for_call(state, &row)?;
    let account =
        hostwright_provisioning::Account { client_ip, ..lifecycle::account(state, &s, &product, None).await? };
    calls::call_logged(state, Some(ctx), actor, &module, Some(&row), Some(s.id), &server, &account, call)
        .await?
        .map_err(|err| LifecycleError::Module { retry: err.transient(), message: err.to_string() })
}

/// Read an account's usage from its panel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshUsage {
    pub service_id: ServiceId,
}

impl Job for RefreshUsage {
    const KIND: &'static str = "service.usage";
    const MAX_ATTEMPTS: i32 = 2;
    const TIMEOUT: Duration = Duration::from_secs(60);

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let state = &ctx.state;
        let done = module_call(state, ctx, &Actor::system("usage"), self.service_id, &Call::Usage, None).await;
        let usage = match done {
            Ok(Done::Usage(u)) => u,
            Ok(_) | Err(LifecycleError::NotFound | LifecycleError::NotAllowed(_)) => return Ok(()),
            Err(err) => return lifecycle::outcome::<()>(Err(err)),
        };
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let row = usage::ActiveModel {
            service_id: Set(self.service_id),
            disk_used_mb: Set(clamp(usage.disk_used_mb)),
            disk_limit_mb: Set(usage.disk_limit_mb.map(clamp)),
            bandwidth_used_mb: Set(clamp(usage.bandwidth_used_mb)),
            bandwidth_limit_mb: Set(usage.bandwidth_limit_mb.map(clamp)),
            updated_at: Set(Utc::now()),
        };
        usage::Entity::insert(row)
            .on_conflict(
                OnConflict::column(usage::Column::ServiceId)
                    .update_columns([
                        usage::Column::DiskUsedMb,
                        usage::Column::DiskLimitMb,
                        usage::Column::BandwidthUsedMb,
                        usage::Column::BandwidthLimitMb,
                        usage::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&state.db)
            .await?;
        Ok(())
    }
}

/// The usage last read for a service; queues a refresh (once per hour at most) when it is
/// missing or old.
pub async fn usage_for_page(state: &AppState, id: ServiceId) -> Result<Option<usage::Model>, DbErr> {
    let found = usage::Entity::find_by_id(id).one(&state.db).await?;
    let now: DateTime<Utc> = Utc::now();
    if found.as_ref().is_none_or(|u| now - u.updated_at > USAGE_AGE) {
        let hour = now.timestamp() / 3600;
        let how = Enqueue::unique(format!("service.usage:{id}:{hour}")).about(format!("service:{id}"));
        if jobs::enqueue(&state.db, &RefreshUsage { service_id: id }, how).await? {
            state.jobs_wakeup.notify_one();
        }
    }
    Ok(found)
}
