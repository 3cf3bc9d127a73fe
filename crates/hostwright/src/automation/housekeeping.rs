//! Task: forget what is no longer needed. Sent email older than the retention setting is
//! deleted (its body is a copy of what the client received), and carts nobody touched for the
//! cart setting's days are deleted with their items, so anonymous visitors cannot fill the
//! database with carts.

use chrono::{Days, NaiveDate, NaiveTime};
use sea_orm::entity::prelude::*;
use sea_orm::{Condition, QuerySelect, TransactionTrait};

use super::lease::{self, Held};
use super::{TaskError, TaskReport};
use crate::mail::outbox;
use crate::orders::model::cart;
use crate::site_settings::automation::AutomationSettings;
use crate::state::AppState;

/// Rows deleted per transaction, so no run holds a long write lock.
const BATCH: u64 = 1000;

pub(super) async fn run(
    state: &AppState,
    held: Option<&Held>,
    settings: &AutomationSettings,
    date: NaiveDate,
    report: &mut TaskReport,
) -> Result<(), TaskError> {
    let cutoff = |days: u32| {
        date.checked_sub_days(Days::new(u64::from(days))).unwrap_or(date).and_time(NaiveTime::MIN).and_utc()
    };
    let old_email = Condition::all()
        .add(outbox::Column::Status.eq(outbox::SENT))
        .add(outbox::Column::SentAt.lt(cutoff(settings.email_retention_days)));
    let emails = prune::<outbox::Entity>(state, held, old_email, outbox::Column::Id).await?;
    report.counts.insert("emails_deleted", i64::try_from(emails).unwrap_or(i64::MAX));
    let old_carts = Condition::all().add(cart::Column::UpdatedAt.lt(cutoff(settings.cart_retention_days)));
    let carts = prune::<cart::Entity>(state, held, old_carts, cart::Column::Id).await?;
    report.counts.insert("carts_deleted", i64::try_from(carts).unwrap_or(i64::MAX));
    Ok(())
}

/// Deletes the rows of `E` matching `condition` in batches under the lease's fence; a dry run
/// (`held` is `None`) counts them.
async fn prune<E: EntityTrait>(
    state: &AppState,
    held: Option<&Held>,
    condition: Condition,
    id: E::Column,
) -> Result<u64, TaskError>
where
    E::Model: Sync,
{
    let db = |err: DbErr| TaskError::Failed(format!("database: {err}"));
    let Some(held) = held else {
        return E::find().filter(condition).count(&state.db).await.map_err(db);
    };
    let mut deleted = 0;
    loop {
        let txn = state.db.begin().await.map_err(db)?;
        let ids: Vec<i64> = E::find()
            .select_only()
            .column(id)
            .filter(condition.clone())
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await
            .map_err(db)?;
        if ids.is_empty() {
            txn.rollback().await.map_err(db)?;
            return Ok(deleted);
        }
        let done = E::delete_many().filter(id.is_in(ids)).exec(&txn).await.map_err(db)?.rows_affected;
        if !lease::fence(&txn, held).await.map_err(db)? {
            txn.rollback().await.map_err(db)?;
            return Err(TaskError::LeaseLost);
        }
        txn.commit().await.map_err(db)?;
        deleted += done;
    }
}
