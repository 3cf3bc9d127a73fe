//! The staff member making a request: `CurrentStaff` (signed in and active) and
//! `Authorized<P>` (holding permission `P`). Every admin route takes one of them; there is no
//! other check.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use minijinja::Value;
use serde::Serialize;

use super::model::staff;
use super::store as staff_store;
use crate::audit::Actor;
use crate::auth::PrincipalKind;
use crate::auth::session::{self, Stage};
use crate::ids::StaffId;
use crate::permissions::{Permission, perm};
use crate::state::AppState;
use crate::web::AppError;

/// A signed-in, active staff member.
#[derive(Debug, Clone)]
pub struct CurrentStaff {
    pub staff: staff::Model,
    pub permissions: BTreeSet<&'static str>,
    /// The session's cookie token (to keep this session when ending the others).
    pub session_token: String,
}

impl CurrentStaff {
    pub fn can(&self, permission: Permission) -> bool {
        self.permissions.contains(permission.key())
    }

    /// What the admin layout shows of the member (`current_staff`).
    pub fn badge(&self) -> StaffBadge {
        StaffBadge {
            id: self.staff.id,
            name: self.staff.name.clone(),
            email: self.staff.email.clone(),
            permissions: self.permissions.iter().copied().collect(),
        }
    }

    /// [`CurrentStaff::badge`] as a template value, for pages still built with `context!`.
    pub fn template_value(&self) -> Value {
        Value::from_serialize(self.badge())
    }

    /// The member as the author of an audited change made from `ip`.
    pub fn actor(&self, ip: &str) -> Actor {
        Actor::staff(self.staff.id, &self.staff.email, ip)
    }
}

/// The signed-in member as every admin page shows them (`current_staff` in `layout/admin.html`):
/// who they are and the permissions the menu is drawn from.
#[derive(Debug, Clone, Serialize)]
pub struct StaffBadge {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub permissions: Vec<&'static str>,
}

#[cfg(test)]
impl StaffBadge {
    /// A member holding `permissions`, with a name that must come out escaped.
    pub fn sample(permissions: &[&'static str]) -> Self {
        StaffBadge {
            id: StaffId(1),
            name: crate::web::view::SCRIPT.into(),
            email: "admin@example.com".into(),
            permissions: permissions.to_vec(),
        }
    }

    /// A member holding every permission.
    pub fn sample_all() -> Self {
        let all: Vec<&'static str> = Permission::ALL.iter().map(|p| p.key()).collect();
        Self::sample(&all)
    }
}

/// Pages a staff member who still owes a second factor under the "require 2FA" policy
/// may see: enrolment, and signing out.
fn allowed_without_second_factor(path: &str) -> bool {
    path.starts_with("/admin/account/2fa") || path == "/admin/logout"
}

impl FromRequestParts<AppState> for CurrentStaff {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let sign_in = || AppError::SignInRequired { login_path: "/admin/login", next: next.clone() };
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = session::token_in(&state.settings, &jar, PrincipalKind::Staff) else {
            return Err(sign_in());
        };
        let Some(found) = session::load(&state.db, &state.settings, PrincipalKind::Staff, &token).await? else {
            return Err(sign_in());
        };
        if found.stage() != Stage::Authenticated {
            return Err(sign_in());
        }
        let Some(member) = staff_store::find(&state.db, StaffId(found.principal_id)).await? else {
            return Err(sign_in());
        };
        if member.status != staff_store::ACTIVE {
            session::delete(&state.db, &token).await?;
            return Err(sign_in());
        }
        if member.totp_enabled_at.is_none() && !allowed_without_second_factor(parts.uri.path()) {
            let policy = crate::site_settings::load(&state.db).await?;
            if policy.require_staff_2fa {
                return Err(AppError::Redirect("/admin/account/2fa".into()));
            }
        }
        let permissions = staff_store::permissions_of(&state.db, &member).await?;
        Ok(CurrentStaff { staff: member, permissions, session_token: token })
    }
}

/// A staff member whose role grants `P`; anyone else gets 403.
pub struct Authorized<P> {
    pub current: CurrentStaff,
    _permission: PhantomData<P>,
}

impl<P> Deref for Authorized<P> {
    type Target = CurrentStaff;

    fn deref(&self) -> &CurrentStaff {
        &self.current
    }
}

impl<P: perm::Required> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let current = CurrentStaff::from_request_parts(parts, state).await?;
        if !current.can(P::PERMISSION) {
            return Err(AppError::Forbidden);
        }
        Ok(Authorized { current, _permission: PhantomData })
    }
}
