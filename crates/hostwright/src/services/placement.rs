//! Where a new account goes: the accounts each server holds, and the server of a group its
//! fill strategy picks among the enabled ones with room. Servers and groups are
//! provisioning's; the accounts on them are services, so the counting lives here.

use std::collections::BTreeMap;

use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::model::service;
use super::status::Status;
use crate::ids::{ServerGroupId, ServerId};
use crate::provisioning::servers::{self, server};

/// Accounts on each server (of `only`, or every one): services that hold one (pending with a
/// server, active, suspended).
pub async fn account_counts(
    db: &impl ConnectionTrait,
    only: Option<&[ServerId]>,
) -> Result<BTreeMap<ServerId, i64>, DbErr> {
    let mut query = service::Entity::find()
        .select_only()
        .column(service::Column::ServerId)
        .column_as(service::Column::Id.count(), "n")
        .filter(service::Column::Status.is_in(Status::LIVE.map(Status::key)))
        .group_by(service::Column::ServerId);
    query = match only {
        Some(ids) => query.filter(service::Column::ServerId.is_in(ids.iter().copied())),
        None => query.filter(service::Column::ServerId.is_not_null()),
    };
    let rows: Vec<(Option<ServerId>, i64)> = query.into_tuple().all(db).await?;
    Ok(rows.into_iter().filter_map(|(id, n)| id.map(|id| (id, n))).collect())
}

/// The server of group `group_id` a new account of `module` goes to: enabled, with room,
/// chosen by the group's strategy. `None` when every one is full or disabled.
pub async fn choose(
    db: &impl ConnectionTrait,
    group_id: ServerGroupId,
    module: &str,
) -> Result<Option<server::Model>, DbErr> {
    let Some(group) = servers::find_group(db, group_id).await? else { return Ok(None) };
    let ids = servers::members(db, group_id).await?;
    // Only the group's servers are counted (an index walk, not the whole services table).
    let counts = account_counts(db, Some(&ids)).await?;
    let mut candidates: Vec<(server::Model, i64)> = server::Entity::find()
        .filter(server::Column::Id.is_in(ids))
        .filter(server::Column::Enabled.eq(true))
        .filter(server::Column::Module.eq(module))
        .order_by_asc(server::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|s| {
            let n = counts.get(&s.id).copied().unwrap_or(0);
            (s, n)
        })
        .filter(|(s, n)| s.max_accounts <= 0 || *n < i64::from(s.max_accounts))
        .collect();
    if servers::FillStrategy::parse(&group.fill_strategy) == Some(servers::FillStrategy::LeastAccounts) {
        // Stable: among equals, the first by name.
        candidates.sort_by_key(|(_, n)| *n);
    }
    Ok(candidates.into_iter().next().map(|(s, _)| s))
}
