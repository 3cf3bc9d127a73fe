//! Reading and writing staff and roles.

use std::collections::BTreeSet;

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, QueryOrder};

use super::model::{role, role_permission, staff};
use crate::ids::{RoleId, StaffId};
use crate::permissions::Permission;

pub const ACTIVE: &str = "active";
pub const DISABLED: &str = "disabled";

pub async fn find(db: &impl ConnectionTrait, id: StaffId) -> Result<Option<staff::Model>, DbErr> {
    staff::Entity::find_by_id(id).one(db).await
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &str) -> Result<Option<staff::Model>, DbErr> {
    staff::Entity::find().filter(staff::Column::Email.eq(email)).one(db).await
}

pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    staff::Entity::find().count(db).await
}

pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<(staff::Model, Option<role::Model>)>, DbErr> {
    let staff = staff::Entity::find().order_by_asc(staff::Column::Name).all(db).await?;
    let roles = roles(db).await?;
    Ok(staff
        .into_iter()
        .map(|s| {
            let role = roles.iter().find(|r| r.id == s.role_id).cloned();
            (s, role)
        })
        .collect())
}

pub async fn roles(db: &impl ConnectionTrait) -> Result<Vec<role::Model>, DbErr> {
    role::Entity::find().order_by_asc(role::Column::Id).all(db).await
}

pub async fn find_role(db: &impl ConnectionTrait, id: RoleId) -> Result<Option<role::Model>, DbErr> {
    role::Entity::find_by_id(id).one(db).await
}

/// The permissions a role grants (every permission for "all permissions" roles).
pub async fn role_permissions(db: &impl ConnectionTrait, role: &role::Model) -> Result<BTreeSet<&'static str>, DbErr> {
    if role.all_permissions {
        return Ok(Permission::ALL.iter().map(|p| p.key()).collect());
    }
    let rows = role_permission::Entity::find().filter(role_permission::Column::RoleId.eq(role.id)).all(db).await?;
    Ok(rows.iter().filter_map(|r| Permission::from_key(&r.permission)).map(Permission::key).collect())
}

pub async fn permissions_of(db: &impl ConnectionTrait, member: &staff::Model) -> Result<BTreeSet<&'static str>, DbErr> {
    match find_role(db, member.role_id).await? {
        Some(role) => role_permissions(db, &role).await,
        None => Ok(BTreeSet::new()),
    }
}
