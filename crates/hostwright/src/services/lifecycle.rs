//! The service lifecycle (decision 0024). Pages and use cases *request* a command
//! ([`request`]): the status is checked and a `service.module` job is queued in the caller's
//! transaction. Jobs *run* it ([`run`]): the product's module is called on the service's
//! server, the call lands in the module log whatever happens, and only when the module
//! succeeded does the status move, in one transaction with its audit record, guarded by the
//! status read before the call (so two runs change the service once) and by the job's
//! fencing token.
//!
//! A module is never called inside a web request: a slow panel holds a worker, not a page.

use std::time::Duration;

use chrono::Utc;
use hostwright_provisioning::{Account, ModuleError};
use minijinja::context;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::accounts;
use super::model::service;
use super::placement;
use super::status::Status;
use super::store;
use crate::audit::{self, Actor, ActorRecord};
use crate::catalog::model::product;
use crate::catalog::service::find_product;
use crate::ids::ServiceId;
use crate::jobs::{self, Enqueue, Job, JobContext, JobError};
use crate::mail::{Email, outbox};
use crate::provisioning::calls::call_logged;
use crate::provisioning::jobs::MODULE_JOB_TIMEOUT;
use crate::provisioning::servers::{self, server};
use crate::provisioning::{AnyModule, Call, Command, Done};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(String),
    /// The module (or what it needs) failed; `retry` when trying again later may help.
    #[error("{message}")]
    Module { message: String, retry: bool },
    /// The job running the command lost its lease; another worker has it.
    #[error("the job's lease was lost")]
    LeaseLost,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for LifecycleError {
    fn from(err: DbErr) -> Self {
        LifecycleError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// What a lifecycle failure means for the job that ran it: the service moved on (nothing to
/// do), try again later, or keep it failed with the panel's words for staff.
pub fn outcome<T>(result: Result<T, LifecycleError>) -> Result<(), JobError> {
    match result.map(|_| ()) {
        Ok(()) | Err(LifecycleError::NotFound | LifecycleError::NotAllowed(_)) => Ok(()),
        Err(LifecycleError::Module { message, retry: true }) => Err(JobError::Retry(anyhow::anyhow!("{message}"))),
        Err(LifecycleError::Module { message, retry: false }) => Err(JobError::Permanent(message)),
        Err(LifecycleError::LeaseLost) => Err(JobError::LeaseLost),
        Err(LifecycleError::Internal(err)) => Err(JobError::Retry(err)),
    }
}

/// Run `command` on a service, as `actor` asked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceCommand {
    pub service_id: ServiceId,
    #[serde(flatten)]
    pub command: Command,
    pub actor: ActorRecord,
}

impl Job for ServiceCommand {
    const KIND: &'static str = "service.module";
    const MAX_ATTEMPTS: i32 = 6;
    const TIMEOUT: Duration = MODULE_JOB_TIMEOUT;

    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        let actor = self.actor.actor();
        let result = run(&ctx.state, Some(ctx), &actor, self.service_id, self.command.clone()).await;
        outcome(result)
    }
}

fn refused(message: impl Into<String>) -> LifecycleError {
    LifecycleError::Module { message: message.into(), retry: false }
}

/// The statuses a command may start from, and the status it leaves (`None`: unchanged).
fn transition(command: &Command) -> (&'static [Status], Option<Status>) {
    match command {
        Command::Create => (&[Status::Pending], Some(Status::Active)),
        Command::Suspend { .. } => (&[Status::Active], Some(Status::Suspended)),
        Command::Unsuspend => (&[Status::Suspended], Some(Status::Active)),
        Command::Terminate => (&[Status::Pending, Status::Active, Status::Suspended], Some(Status::Terminated)),
        Command::ChangePackage | Command::ChangePassword { .. } => (&[Status::Active, Status::Suspended], None),
    }
}

/// Whether a service in `status` may receive `command` (the pages offer only these).
pub fn allows(status: Status, command: &Command) -> bool {
    transition(command).0.contains(&status)
}

fn not_possible(command: &Command, status: Status) -> LifecycleError {
    LifecycleError::NotAllowed(format!(
        "{} is not possible for a {} service.",
        command.label(),
        status.label().to_lowercase()
    ))
}

fn checked_reason(command: &Command) -> Result<(), LifecycleError> {
    if let Command::Suspend { reason } = command
        && (reason.trim().is_empty() || reason.chars().count() > 200)
    {
        return Err(LifecycleError::NotAllowed("Give the reason for the suspension (up to 200 characters).".into()));
    }
    Ok(())
}

/// The command to set `password` as the account's new password, checked and encrypted.
pub fn change_password_command(state: &AppState, password: &str) -> Result<Command, LifecycleError> {
    let length = password.chars().count();
    if !(10..=128).contains(&length) {
        return Err(LifecycleError::NotAllowed("Use a password of 10 to 128 characters.".into()));
    }
    Ok(Command::ChangePassword { password_enc: state.key.encrypt(password.as_bytes()) })
}

/// Queues `command` for service `id` in the caller's transaction, after checking that the
/// service's status allows it now. `once` makes it the one job for that key (an order's
/// create), so asking twice queues it once.
pub async fn request(
    db: &impl ConnectionTrait,
    actor: &Actor,
    id: ServiceId,
    command: Command,
    once: Option<String>,
) -> Result<(), LifecycleError> {
    checked_reason(&command)?;
    let current = store::find(db, id).await?.ok_or(LifecycleError::NotFound)?;
    let status = Status::parse(&current.status).ok_or_else(|| anyhow::anyhow!("service {id}: bad status"))?;
    if !allows(status, &command) {
        return Err(not_possible(&command, status));
    }
    let label = command.label();
    let job = ServiceCommand { service_id: id, command, actor: actor.into() };
    let how = match once {
        Some(key) => Enqueue::unique(key),
        None => Enqueue::default(),
    };
    jobs::enqueue(db, &job, how.about(format!("service:{id}"))).await?;
    audit::record(db, actor, "service.command_queued", Some(("service", id.0)), format!("{label} queued")).await?;
    Ok(())
}

/// [`request`] in a transaction of its own, waking this node's workers.
pub async fn request_now(
    state: &AppState,
    actor: &Actor,
    id: ServiceId,
    command: Command,
) -> Result<(), LifecycleError> {
    let txn = state.db.begin().await?;
    request(&txn, actor, id, command, None).await?;
    txn.commit().await?;
    state.jobs_wakeup.notify_one();
    Ok(())
}

/// Runs `command` on service `id` (from a job: `ctx` fences its writes) and returns the
/// status afterwards. A service already where the command would take it is left alone.
pub async fn run(
    state: &AppState,
    ctx: Option<&JobContext>,
    actor: &Actor,
    id: ServiceId,
    command: Command,
) -> Result<Status, LifecycleError> {
    checked_reason(&command)?;
    let current = store::find(&state.db, id).await?.ok_or(LifecycleError::NotFound)?;
    let status = Status::parse(&current.status).ok_or_else(|| anyhow::anyhow!("service {id}: bad status"))?;
    let (from, to) = transition(&command);
    if !from.contains(&status) {
        return match to {
            Some(to) if to == status => Ok(status),
            _ => Err(not_possible(&command, status)),
        };
    }
    let product = find_product(&state.db, current.product_id).await?.ok_or(LifecycleError::NotFound)?;
    let module = AnyModule::get(&product.module, &state.http)
        .ok_or_else(|| refused(format!("The provisioning module \"{}\" is not installed.", product.module)))?;
    let current =
        if command == Command::Create { prepare_create(state, &module, &product, current).await? } else { current };
    let never_created = status == Status::Pending && command == Command::Terminate;
    let server_row = match current.server_id {
        Some(server_id) => Some(servers::find(&state.db, server_id).await?.ok_or(LifecycleError::NotFound)?),
        None if module.needs_server() && !never_created => {
            return Err(refused("The service has no server; choose one first."));
        }
        None => None,
    };
    let server = match &server_row {
        Some(s) => servers::for_call(state, s)?,
        None => servers::none(),
    };
    let new_password = match &command {
        Command::ChangePassword { password_enc } => Some(decrypt(state, password_enc)?),
        _ => None,
    };
    let account = account(state, &current, &product, new_password.clone()).await?;
    let call = match &command {
        Command::Create => Call::Create,
        Command::Suspend { reason } => Call::Suspend(reason.trim().to_owned()),
        Command::Unsuspend => Call::Unsuspend,
        Command::Terminate => Call::Terminate,
        Command::ChangePackage => Call::ChangePackage,
        Command::ChangePassword { .. } => Call::ChangePassword,
    };
    // A pending service was never created on a server (a create moves it to active), so
    // ending it asks nothing of the panel.
    let outcome = if never_created {
        Ok(Done::Text("never created on a server: nothing to remove".into()))
    } else {
        call_logged(state, ctx, actor, &module, server_row.as_ref(), Some(id), &server, &account, &call).await?
    };
    let done = match outcome {
        Ok(done) => done,
        Err(err) => {
            // Unreachable and silent servers are tried again, except a create that was sent
            // and not answered: it may exist now, and staff look before it is retried.
            let retry = match &err {
                ModuleError::Unreachable(_) => true,
                ModuleError::Timeout(_) => command != Command::Create,
                _ => false,
            };
            let mut message = err.to_string();
            if matches!(err, ModuleError::Timeout(_)) && command == Command::Create {
                message.push_str(" (the account may have been created: check the server before retrying)");
            }
            let txn = state.db.begin().await?;
            audit::record(
                &txn,
                actor,
                "service.command_failed",
                Some(("service", id.0)),
                format!("{} failed: {message}", command.label()),
            )
            .await?;
            txn.commit().await?;
            return Err(LifecycleError::Module { message, retry });
        }
    };
    let today = crate::invoices::service::today(&state.db).await?;
    let txn = state.db.begin().await?;
    let mut update = Query::update();
    update
        .table(service::Entity)
        .value(service::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(id))
        .and_where(Expr::col(service::Column::Status).eq(status.key()));
    if let Some(to) = to {
        update.value(service::Column::Status, to.key());
    }
    match &command {
        Command::Suspend { reason } => {
            update.value(service::Column::SuspendReason, reason.trim()).value(service::Column::SuspendedOn, today);
        }
        Command::Unsuspend => {
            update
                .value(service::Column::SuspendReason, "")
                .value(service::Column::SuspendedOn, Option::<chrono::NaiveDate>::None);
        }
        Command::Terminate => {
            update.value(service::Column::TerminatedOn, today);
        }
        Command::ChangePassword { password_enc } => {
            update.value(service::Column::PasswordEnc, password_enc.clone());
        }
        Command::Create | Command::ChangePackage => {}
    }
    if let Done::Created(created) = &done
        && !created.username.is_empty()
    {
        update.value(service::Column::Username, created.username.clone());
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(LifecycleError::NotAllowed("The service changed meanwhile; reload it and try again.".into()));
    }
    let mut summary = command.label().to_owned();
    if let Command::Suspend { reason } = &command {
        summary.push_str(&format!(" ({})", reason.trim()));
    }
    summary.push_str(&format!(": {}", done.summary()));
    audit::record(&txn, actor, &format!("service.{}", command.key()), Some(("service", id.0)), summary).await?;
    if let (Command::Create, Some(s)) = (&command, &server_row) {
        let username = match &done {
            Done::Created(c) if !c.username.is_empty() => c.username.clone(),
            _ => current.username.clone(),
        };
        queue_welcome(state, &txn, &current, &product, s, &username).await?;
    }
    if let Some(ctx) = ctx {
        ctx.fence(&txn).await.map_err(|_| LifecycleError::LeaseLost)?;
    }
    txn.commit().await?;
    Ok(to.unwrap_or(status))
}

fn decrypt(state: &AppState, stored: &str) -> Result<String, LifecycleError> {
    String::from_utf8(state.key.decrypt(stored)?).map_err(|_| LifecycleError::Internal(anyhow::anyhow!("a password")))
}

/// The account a module acts on: names, the client's address, the password when one is
/// set (or being set), and the product's settings for its module.
pub async fn account(
    state: &AppState,
    s: &service::Model,
    product: &product::Model,
    new_password: Option<String>,
) -> Result<Account, LifecycleError> {
    let client = crate::clients::store::find(&state.db, s.client_id).await?.ok_or(LifecycleError::NotFound)?;
    let password = match new_password {
        Some(p) => Some(p),
        None => s.password_enc.as_deref().map(|p| decrypt(state, p)).transpose()?,
    };
    Ok(Account {
        service_ref: s.id.to_string(),
        username: s.username.clone(),
        domain: s.domain.clone(),
        email: client.email,
        password: password.map(hostwright_provisioning::Secret::new),
        product: serde_json::from_str(&product.module_settings).unwrap_or_default(),
        client_ip: None,
    })
}

/// Before a create: the server (from the product's group), the username and the password
/// are chosen and written to the service first, so a retried create uses the same ones.
async fn prepare_create(
    state: &AppState,
    module: &AnyModule,
    product: &product::Model,
    s: service::Model,
) -> Result<service::Model, LifecycleError> {
    if !module.needs_server() {
        return Ok(s);
    }
    if let Some(other) = accounts::domain_hosted_elsewhere(&state.db, &s.domain, s.id).await? {
        return Err(refused(format!("The domain {} is already hosted by service #{other}.", s.domain)));
    }
    let server_id = match s.server_id {
        Some(id) => id,
        None => {
            let group = product
                .server_group_id
                .ok_or_else(|| refused("The product has no server group to take a server from."))?;
            placement::choose(&state.db, group, module.info().key)
                .await?
                .ok_or_else(|| refused("No enabled server in the product's group has room for another account."))?
                .id
        }
    };
    let username = if s.username.is_empty() {
        accounts::unique_username(&state.db, Some(server_id), &s.domain, accounts::username_max(module.info().key))
            .await?
    } else {
        s.username.clone()
    };
    let password_enc = match &s.password_enc {
        Some(p) => p.clone(),
        None => state.key.encrypt(accounts::generate_password().as_bytes()),
    };
    let update = Query::update()
        .table(service::Entity)
        .value(service::Column::ServerId, server_id)
        .value(service::Column::Username, username.clone())
        .value(service::Column::PasswordEnc, password_enc.clone())
        .value(service::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(s.id))
        .and_where(Expr::col(service::Column::Status).eq(Status::Pending.key()))
        .to_owned();
    if state.db.execute(&update).await?.rows_affected() != 1 {
        return Err(LifecycleError::NotAllowed("The service changed meanwhile.".into()));
    }
    Ok(service::Model { server_id: Some(server_id), username, password_enc: Some(password_enc), ..s })
}

/// The welcome email with the account's details (never its password: the client sees that
/// on the service's page), queued once per service.
async fn queue_welcome(
    state: &AppState,
    txn: &impl ConnectionTrait,
    s: &service::Model,
    product: &product::Model,
    server: &server::Model,
    username: &str,
) -> Result<(), LifecycleError> {
    let Some(client) = crate::clients::store::find(txn, s.client_id).await? else { return Ok(()) };
    let ctx = context! {
        first_name => client.first_name.clone(),
        product => product.name.clone(),
        domain => s.domain.clone(),
        username => username,
        server => server.hostname.clone(),
        nameservers => servers::nameservers(server),
        link => state.settings.url(&format!("/account/services/{}", s.id)),
    };
    let email = Email::compose(state, "service_welcome", &client.email, &client.full_name(), ctx)?
        .for_client(client.id)
        .once_for(format!("service_welcome:{}", s.id));
    outbox::enqueue(txn, email).await?;
    Ok(())
}

/// Marks a service that is not live on a server as cancelled or fraud, inside the caller's
/// transaction; its add-ons end with it.
pub async fn mark_ended(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    id: ServiceId,
    to: Status,
    today: chrono::NaiveDate,
) -> Result<(), LifecycleError> {
    let update = Query::update()
        .table(service::Entity)
        .value(service::Column::Status, to.key())
        .value(service::Column::CancelledOn, today)
        .value(service::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(id))
        .and_where(Expr::col(service::Column::Status).is_in([Status::Pending.key(), Status::Terminated.key()]))
        .to_owned();
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(LifecycleError::NotAllowed("Only pending or terminated services can be closed.".into()));
    }
    let addons = Query::update()
        .table(super::model::service_addon::Entity)
        .value(super::model::service_addon::Column::Status, to.key())
        .value(super::model::service_addon::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(super::model::service_addon::Column::ServiceId).eq(id))
        .to_owned();
    txn.execute(&addons).await?;
    audit::record(
        txn,
        actor,
        &format!("service.{}", to.key()),
        Some(("service", id.0)),
        format!("Marked {}", to.label()),
    )
    .await?;
    Ok(())
}
