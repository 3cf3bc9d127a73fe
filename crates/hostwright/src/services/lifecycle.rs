//! The service lifecycle: each command checks the service's status allows it, calls the
//! product's provisioning module, and only when the module succeeded moves the status, in one
//! transaction with its audit record. The UPDATE is guarded by the status read before the
//! call, so two staff pressing "Suspend" at once change the service once.
//!
//! Module calls run here, synchronously, behind the same interface the job queue will use.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbErr, TransactionTrait};
use secrecy::SecretString;

use super::model::service;
use super::status::Status;
use super::store;
use crate::audit::{self, Actor};
use crate::catalog::service::find_product;
use crate::ids::ServiceId;
use crate::provisioning::{self, Command, ModuleError, Target};
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotAllowed(String),
    #[error("The provisioning module failed: {0}")]
    Module(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<DbErr> for LifecycleError {
    fn from(err: DbErr) -> Self {
        LifecycleError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// The statuses a command may start from, and the status it leaves (`None`: unchanged).
fn transition(command: &Command) -> (&'static [Status], Option<Status>) {
    match command {
        Command::Create => (&[Status::Pending], Some(Status::Active)),
        Command::Suspend { .. } => (&[Status::Active], Some(Status::Suspended)),
        Command::Unsuspend => (&[Status::Suspended], Some(Status::Active)),
        Command::Terminate => (&[Status::Pending, Status::Active, Status::Suspended], Some(Status::Terminated)),
        Command::ChangePackage | Command::ChangePassword => (&[Status::Active, Status::Suspended], None),
    }
}

/// Whether a service in `status` may receive `command` (the pages offer only these).
pub fn allows(status: Status, command: &Command) -> bool {
    transition(command).0.contains(&status)
}

/// Runs `command` on service `id` and returns its status afterwards.
pub async fn run(state: &AppState, actor: &Actor, id: ServiceId, command: Command) -> Result<Status, LifecycleError> {
    run_with_password(state, actor, id, command, None).await
}

/// Sets a new account password: the module changes it on the server, then the service keeps
/// it (encrypted).
pub async fn change_password(
    state: &AppState,
    actor: &Actor,
    id: ServiceId,
    password: &str,
) -> Result<Status, LifecycleError> {
    let length = password.chars().count();
    if !(10..=128).contains(&length) {
        return Err(LifecycleError::NotAllowed("Use a password of 10 to 128 characters.".into()));
    }
    run_with_password(state, actor, id, Command::ChangePassword, Some(password)).await
}

async fn run_with_password(
    state: &AppState,
    actor: &Actor,
    id: ServiceId,
    command: Command,
    new_password: Option<&str>,
) -> Result<Status, LifecycleError> {
    if let Command::Suspend { reason } = &command
        && (reason.trim().is_empty() || reason.chars().count() > 200)
    {
        return Err(LifecycleError::NotAllowed("Give the reason for the suspension (up to 200 characters).".into()));
    }
    let current = store::find(&state.db, id).await?.ok_or(LifecycleError::NotFound)?;
    let status = Status::parse(&current.status).ok_or_else(|| anyhow::anyhow!("service {id}: bad status"))?;
    let (from, to) = transition(&command);
    if !from.contains(&status) {
        return Err(LifecycleError::NotAllowed(format!(
            "{} is not possible for a {} service.",
            command.label(),
            status.label().to_lowercase()
        )));
    }
    let product = find_product(&state.db, current.product_id).await?.ok_or(LifecycleError::NotFound)?;
    let password = match new_password {
        Some(p) => Some(SecretString::from(p.to_owned())),
        None => match &current.password_enc {
            Some(stored) => Some(SecretString::from(
                String::from_utf8(state.key.decrypt(stored)?).map_err(|_| anyhow::anyhow!("service {id}: password"))?,
            )),
            None => None,
        },
    };
    let outcome = match provisioning::module(&product.module) {
        Ok(module) => module.run(&Target { service: &current, product: &product, password }, &command).await,
        Err(err) => Err(err),
    };
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => {
            let message = match &err {
                ModuleError::Refused(message) => message.clone(),
                ModuleError::Failed(err) => format!("{err:#}"),
            };
            tracing::warn!(service = %id, command = command.key(), error = %message, "module command failed");
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
            return Err(LifecycleError::Module(message));
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
        Command::ChangePassword => {
            if let Some(p) = new_password {
                update.value(service::Column::PasswordEnc, state.key.encrypt(p.as_bytes()));
            }
        }
        Command::Create | Command::ChangePackage => {}
    }
    if let Some(username) = &outcome.username {
        update.value(service::Column::Username, username.clone());
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(LifecycleError::NotAllowed("The service changed meanwhile; reload it and try again.".into()));
    }
    let mut summary = command.label().to_owned();
    if let Command::Suspend { reason } = &command {
        summary.push_str(&format!(" ({})", reason.trim()));
    }
    if !outcome.message.is_empty() {
        summary.push_str(&format!(": {}", outcome.message));
    }
    audit::record(&txn, actor, &format!("service.{}", command.key()), Some(("service", id.0)), summary).await?;
    txn.commit().await?;
    Ok(to.unwrap_or(status))
}

/// Ends a service that will not be (or no longer is) provided: `Cancelled` for a cancelled
/// order or a cancellation request, `Fraud` for a fraudulent order. A service that exists on a
/// server is terminated there first; a pending one was never set up.
pub async fn end(state: &AppState, actor: &Actor, id: ServiceId, to: Status) -> Result<(), LifecycleError> {
    let current = store::find(&state.db, id).await?.ok_or(LifecycleError::NotFound)?;
    if matches!(Status::parse(&current.status), Some(Status::Active | Status::Suspended)) {
        run(state, actor, id, Command::Terminate).await?;
    }
    let today = crate::invoices::service::today(&state.db).await?;
    let txn = state.db.begin().await?;
    mark_ended(&txn, actor, id, to, today).await?;
    txn.commit().await?;
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
