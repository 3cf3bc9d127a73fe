//! Staff use cases: the first administrator, creating and inviting staff, roles, disabling
//! and 2FA resets. Each is one transaction with its audit record.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, TransactionTrait};

use super::model::{role, role_permission, staff};
use super::store::{self, ACTIVE, DISABLED};
use super::views::StaffInviteEmail;
use crate::audit::{self, Actor};
use crate::auth::tokens::{self, Purpose};
use crate::auth::{PrincipalKind, credentials, password, recovery, session};
use crate::ids::{RoleId, StaffId};
use crate::mail::{Email, outbox};
use crate::permissions::Permission;
use crate::state::AppState;
use crate::web::AppError;
use crate::web::forms::{EmailAddress, is_unique_violation};

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("the setup link is invalid or already used")]
    SetupClosed,
    #[error("that email address already belongs to a staff member")]
    EmailTaken,
    #[error("no such role")]
    UnknownRole,
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<StaffError> for AppError {
    fn from(err: StaffError) -> Self {
        match err {
            StaffError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for StaffError {
    fn from(err: DbErr) -> Self {
        if is_unique_violation(&err) {
            return StaffError::EmailTaken;
        }
        StaffError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// What the one acting holds: nobody grants a permission they do not hold, and only a
/// member of an all-permissions role hands out such a role. The command line (the operator
/// of the machine) holds everything.
struct Grantor {
    id: Option<StaffId>,
    role_id: Option<RoleId>,
    all: bool,
    permissions: BTreeSet<&'static str>,
}

impl Grantor {
    async fn of(db: &impl ConnectionTrait, actor: &Actor) -> Result<Grantor, StaffError> {
        if actor.kind == "system" {
            let permissions = Permission::ALL.iter().map(|p| p.key()).collect();
            return Ok(Grantor { id: None, role_id: None, all: true, permissions });
        }
        let refused = StaffError::NotAllowed("Only staff manage staff.");
        let id = actor.id.filter(|_| actor.kind == "staff").map(StaffId).ok_or(refused)?;
        let member = store::find(db, id).await?.filter(|m| m.status == ACTIVE);
        let member = member.ok_or(StaffError::NotAllowed("Only active staff manage staff."))?;
        let role = store::find_role(db, member.role_id).await?;
        let permissions = match &role {
            Some(role) => store::role_permissions(db, role).await?,
            None => BTreeSet::new(),
        };
        let all = role.as_ref().is_some_and(|r| r.all_permissions);
        Ok(Grantor { id: Some(id), role_id: Some(member.role_id), all, permissions })
    }

    /// May hand out (or take away) exactly what `role` grants.
    async fn may_grant(&self, db: &impl ConnectionTrait, role: &role::Model) -> Result<(), StaffError> {
        if role.all_permissions && !self.all {
            return Err(StaffError::NotAllowed("Only an administrator may give the administrator role."));
        }
        self.holds(&store::role_permissions(db, role).await?)
    }

    fn holds(&self, permissions: &BTreeSet<&'static str>) -> Result<(), StaffError> {
        if self.all || permissions.is_subset(&self.permissions) {
            Ok(())
        } else {
            Err(StaffError::NotAllowed("You cannot grant permissions you do not hold yourself."))
        }
    }

    /// May change `member`'s account: not their own role, and nobody who holds more.
    async fn may_manage(&self, db: &impl ConnectionTrait, member: &staff::Model) -> Result<role::Model, StaffError> {
        let role = store::find_role(db, member.role_id).await?.ok_or(StaffError::UnknownRole)?;
        if role.all_permissions && !self.all {
            return Err(StaffError::NotAllowed("Only an administrator may change an administrator's account."));
        }
        self.holds(&store::role_permissions(db, &role).await?)
            .map_err(|_| StaffError::NotAllowed("This member holds permissions you do not; ask an administrator."))?;
        Ok(role)
    }
}

/// The details of a new staff member.
pub struct NewStaff {
    pub name: String,
    pub email: EmailAddress,
    pub role_id: RoleId,
    /// `None` sends an invitation to choose a password instead.
    pub password: Option<String>,
}

/// Prints a setup link when nobody can sign in to the admin area yet.
pub async fn setup_link_if_needed(state: &AppState) -> anyhow::Result<Option<String>> {
    if store::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let token = tokens::issue(&state.db, Purpose::Setup, None, None).await?;
    Ok(Some(state.settings.url(&format!("/admin/setup/{token}"))))
}

/// The administrator role (the one with every permission).
async fn administrator_role(db: &impl ConnectionTrait) -> Result<role::Model, StaffError> {
    role::Entity::find().filter(role::Column::AllPermissions.eq(true)).one(db).await?.ok_or(StaffError::UnknownRole)
}

/// Creates the first administrator from a setup link; the link then stops working, and so
/// does every other setup link.
pub async fn setup_first_admin(
    state: &AppState,
    token: &str,
    name: &str,
    email: &EmailAddress,
    password_text: &str,
    ip: &str,
) -> Result<staff::Model, StaffError> {
    password::check_policy(password_text, &[email.as_str(), name]).map_err(StaffError::WeakPassword)?;
    let hash = password::hash_async(password_text.to_owned()).await?;
    let txn = state.db.begin().await?;
    if tokens::consume(&txn, Purpose::Setup, token).await?.is_none() || store::count(&txn).await? > 0 {
        return Err(StaffError::SetupClosed);
    }
    let admin_role = administrator_role(&txn).await?;
    let member = insert(&txn, name, email, admin_role.id, Some(hash)).await?;
    // A new installation asks every staff member for a second factor; staff may relax it.
    let mut policy = crate::site_settings::load(&txn).await?;
    policy.require_staff_2fa = true;
    crate::site_settings::save(&txn, &policy).await?;
    audit::record(
        &txn,
        &Actor::staff(member.id, &member.email, ip),
        "staff.created",
        Some(("staff", member.id.0)),
        "Created the first administrator from the setup link; staff must use two-factor authentication",
    )
    .await?;
    txn.commit().await?;
    Ok(member)
}

async fn insert(
    db: &impl ConnectionTrait,
    name: &str,
    email: &EmailAddress,
    role_id: RoleId,
    password_hash: Option<String>,
) -> Result<staff::Model, DbErr> {
    let now = Utc::now();
    staff::ActiveModel {
        email: Set(email.as_str().to_owned()),
        name: Set(name.to_owned()),
        password_hash: Set(password_hash),
        role_id: Set(role_id),
        status: Set(ACTIVE.into()),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Creates a staff member from the command line (no actor but the operator).
pub async fn create_from_cli(state: &AppState, new: NewStaff) -> Result<staff::Model, StaffError> {
    let actor = Actor::system("command line");
    create(state, &actor, new).await
}

/// Creates a staff member with a password, or invites them by email to choose one.
pub async fn create(state: &AppState, actor: &Actor, new: NewStaff) -> Result<staff::Model, StaffError> {
    let role = store::find_role(&state.db, new.role_id).await?.ok_or(StaffError::UnknownRole)?;
    Grantor::of(&state.db, actor).await?.may_grant(&state.db, &role).await?;
    let hash = match &new.password {
        Some(text) => {
            password::check_policy(text, &[new.email.as_str(), &new.name]).map_err(StaffError::WeakPassword)?;
            Some(password::hash_async(text.clone()).await?)
        }
        None => None,
    };
    let txn = state.db.begin().await?;
    let member = insert(&txn, &new.name, &new.email, role.id, hash).await?;
    let how = if new.password.is_none() {
        let token = tokens::issue(
            &txn,
            Purpose::StaffInvite,
            Some((PrincipalKind::Staff, member.id.0)),
            Some(Duration::days(3)),
        )
        .await?;
        let link = state.settings.url(&format!("/admin/invite/{token}"));
        let invite = StaffInviteEmail { role: role.name.clone(), inviter: actor.label.clone() };
        let email = Email::from_view_with_link(state, &member.email, &member.name, &link, &invite)?;
        outbox::enqueue(&txn, email).await?;
        "invited by email"
    } else {
        "created with a password"
    };
    audit::record(
        &txn,
        actor,
        "staff.created",
        Some(("staff", member.id.0)),
        format!("Added {} <{}> as {} ({how})", member.name, member.email, role.name),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(member)
}

/// Sets the password of an invited staff member from the invitation link.
pub async fn accept_invite(
    state: &AppState,
    token: &str,
    password_text: &str,
    ip: &str,
) -> Result<staff::Model, StaffError> {
    let found = tokens::peek(&state.db, Purpose::StaffInvite, token).await?.ok_or(StaffError::SetupClosed)?;
    let member = store::find(&state.db, StaffId(found.principal_id.unwrap_or_default()))
        .await?
        .filter(|m| m.status == ACTIVE)
        .ok_or(StaffError::SetupClosed)?;
    password::check_policy(password_text, &[&member.email, &member.name]).map_err(StaffError::WeakPassword)?;
    let hash = password::hash_async(password_text.to_owned()).await?;
    let txn = state.db.begin().await?;
    if tokens::consume(&txn, Purpose::StaffInvite, token).await?.is_none() {
        return Err(StaffError::SetupClosed);
    }
    credentials::set_password_hash(&txn, PrincipalKind::Staff, member.id.0, hash).await?;
    audit::record(
        &txn,
        &Actor::staff(member.id, &member.email, ip),
        "staff.invite_accepted",
        Some(("staff", member.id.0)),
        "Accepted the invitation and chose a password",
    )
    .await?;
    txn.commit().await?;
    Ok(member)
}

/// How many active staff hold the administrator role.
async fn active_administrators(db: &impl ConnectionTrait) -> Result<u64, StaffError> {
    let admin_role = administrator_role(db).await?;
    Ok(staff::Entity::find()
        .filter(staff::Column::RoleId.eq(admin_role.id))
        .filter(staff::Column::Status.eq(ACTIVE))
        .count(db)
        .await?)
}

async fn ensure_not_last_admin(db: &impl ConnectionTrait, member: &staff::Model) -> Result<(), StaffError> {
    let admin_role = administrator_role(db).await?;
    if member.role_id == admin_role.id && member.status == ACTIVE && active_administrators(db).await? <= 1 {
        return Err(StaffError::NotAllowed("This is the last active administrator; add another one first."));
    }
    Ok(())
}

pub async fn change_role(state: &AppState, actor: &Actor, id: StaffId, role_id: RoleId) -> Result<(), StaffError> {
    let txn = state.db.begin().await?;
    let member = store::find(&txn, id).await?.ok_or(StaffError::NotAllowed("No such staff member."))?;
    let role = store::find_role(&txn, role_id).await?.ok_or(StaffError::UnknownRole)?;
    let grantor = Grantor::of(&txn, actor).await?;
    if grantor.id == Some(member.id) {
        return Err(StaffError::NotAllowed("You cannot change your own role; ask another administrator."));
    }
    if member.role_id == role.id {
        return Ok(());
    }
    grantor.may_manage(&txn, &member).await?;
    grantor.may_grant(&txn, &role).await?;
    ensure_not_last_admin(&txn, &member).await?;
    let mut active: staff::ActiveModel = member.clone().into();
    active.role_id = Set(role.id);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    // A change of privileges ends the member's sessions; they sign in again under the new role.
    session::delete_all_for(&txn, PrincipalKind::Staff, member.id.0, None).await?;
    audit::record(
        &txn,
        actor,
        "staff.role_changed",
        Some(("staff", member.id.0)),
        format!("Role changed to {}", role.name),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn set_enabled(state: &AppState, actor: &Actor, id: StaffId, enabled: bool) -> Result<(), StaffError> {
    if !enabled && actor.id == Some(id.0) {
        return Err(StaffError::NotAllowed("You cannot disable your own account."));
    }
    let txn = state.db.begin().await?;
    let member = store::find(&txn, id).await?.ok_or(StaffError::NotAllowed("No such staff member."))?;
    Grantor::of(&txn, actor).await?.may_manage(&txn, &member).await?;
    if !enabled {
        ensure_not_last_admin(&txn, &member).await?;
    }
    let mut active: staff::ActiveModel = member.clone().into();
    active.status = Set(if enabled { ACTIVE } else { DISABLED }.into());
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    if !enabled {
        session::delete_all_for(&txn, PrincipalKind::Staff, member.id.0, None).await?;
    }
    let (action, summary) = if enabled {
        ("staff.enabled", format!("Enabled {}", member.email))
    } else {
        ("staff.disabled", format!("Disabled {}; their sessions ended", member.email))
    };
    audit::record(&txn, actor, action, Some(("staff", member.id.0)), summary).await?;
    txn.commit().await?;
    Ok(())
}

/// An administrator clears another member's 2FA (lost phone); they enrol again at sign-in.
pub async fn reset_twofa(state: &AppState, actor: &Actor, id: StaffId) -> Result<(), StaffError> {
    let txn = state.db.begin().await?;
    let member = store::find(&txn, id).await?.ok_or(StaffError::NotAllowed("No such staff member."))?;
    Grantor::of(&txn, actor).await?.may_manage(&txn, &member).await?;
    credentials::set_totp_secret(&txn, PrincipalKind::Staff, member.id.0, None).await?;
    recovery::remove_all(&txn, PrincipalKind::Staff, member.id.0).await?;
    session::delete_all_for(&txn, PrincipalKind::Staff, member.id.0, None).await?;
    audit::record(
        &txn,
        actor,
        "staff.2fa_reset",
        Some(("staff", member.id.0)),
        format!("Reset two-factor authentication of {}; their sessions ended", member.email),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Replaces a role's permissions. The administrator role always has all of them.
pub async fn update_role(
    state: &AppState,
    actor: &Actor,
    id: RoleId,
    permissions: &[Permission],
) -> Result<(), StaffError> {
    let txn = state.db.begin().await?;
    let role = store::find_role(&txn, id).await?.ok_or(StaffError::UnknownRole)?;
    if role.all_permissions {
        return Err(StaffError::NotAllowed("The administrator role always has every permission."));
    }
    let grantor = Grantor::of(&txn, actor).await?;
    if grantor.role_id == Some(role.id) && !grantor.all {
        return Err(StaffError::NotAllowed("You cannot change the permissions of your own role."));
    }
    // What the role holds now and what it will hold must both be within the editor's own.
    grantor.may_grant(&txn, &role).await?;
    grantor.holds(&permissions.iter().map(|p| p.key()).collect())?;
    role_permission::Entity::delete_many().filter(role_permission::Column::RoleId.eq(role.id)).exec(&txn).await?;
    for permission in permissions {
        role_permission::ActiveModel { role_id: Set(role.id), permission: Set(permission.key().to_owned()) }
            .insert(&txn)
            .await?;
    }
    let keys: Vec<&str> = permissions.iter().map(|p| p.key()).collect();
    audit::record(
        &txn,
        actor,
        "role.updated",
        Some(("role", role.id.0)),
        format!(
            "Permissions of {} set to: {}",
            role.name,
            if keys.is_empty() { "none".into() } else { keys.join(", ") }
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
