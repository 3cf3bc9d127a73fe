//! Who is making the request: `CurrentStaff`, `Authorized<P>` (staff with permission P) and
//! `CurrentClient` (the owner or a sub-user) and `ClientAllowed<P>` (a client-area permission).
//! Every admin route takes one of the first two; there is no other check.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use minijinja::{Value, context};
use sea_orm::EntityTrait;

use super::error::AppError;
use crate::auth::PrincipalKind;
use crate::auth::session::{self, Stage};
use crate::clients::model::{client, contact};
use crate::clients::store as client_store;
use crate::ids::{ClientId, ContactId, StaffId};
use crate::permissions::{Permission, perm};
use crate::staff::model::staff;
use crate::staff::store as staff_store;
use crate::state::AppState;

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

    /// What templates see as `current_staff`.
    pub fn template_value(&self) -> Value {
        context! {
            id => self.staff.id,
            name => self.staff.name.clone(),
            email => self.staff.email.clone(),
            permissions => self.permissions.iter().copied().collect::<Vec<_>>(),
        }
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

/// Someone signed in to a client's account: the owner, or a sub-user (`contact`) acting
/// with the permissions the owner gave them.
#[derive(Debug, Clone)]
pub struct CurrentClient {
    pub client: client::Model,
    pub contact: Option<contact::Model>,
    pub session_token: String,
}

impl CurrentClient {
    /// Whether the person may use a part of the account (`clients::contacts::PERMISSIONS`).
    pub fn may(&self, permission: &str) -> bool {
        self.contact.as_ref().is_none_or(|c| c.may(permission))
    }

    pub fn is_owner(&self) -> bool {
        self.contact.is_none()
    }

    /// Who is acting, for the audit log.
    pub fn actor(&self, ip: &str) -> crate::audit::Actor {
        match &self.contact {
            Some(c) => crate::audit::Actor::contact(c.id, &c.email, ip),
            None => crate::audit::Actor::client(self.client.id, &self.client.email, ip),
        }
    }

    pub fn template_value(&self) -> Value {
        let permissions: Vec<&str> =
            crate::clients::contacts::PERMISSIONS.iter().map(|(key, _)| *key).filter(|key| self.may(key)).collect();
        context! {
            id => self.client.id,
            name => self.contact.as_ref().map_or_else(|| self.client.full_name(), |c| c.full_name()),
            account_name => if self.client.company_name.is_empty() { self.client.full_name() } else { self.client.company_name.clone() },
            email => self.contact.as_ref().map_or_else(|| self.client.email.clone(), |c| c.email.clone()),
            email_verified => self.contact.is_some() || self.client.email_verified_at.is_some(),
            is_owner => self.is_owner(),
            permissions => permissions,
        }
    }
}

/// A client-area permission a sub-user must hold (the owner holds them all).
pub trait ClientPermission: Send + Sync + 'static {
    const KEY: &'static str;
}

/// Client-area permission markers, as `ClientAllowed<client_perm::Invoices>`.
pub mod client_perm {
    macro_rules! markers {
        ($($name:ident => $key:literal),* $(,)?) => {$(
            pub struct $name;
            impl super::ClientPermission for $name {
                const KEY: &'static str = $key;
            }
        )*};
    }
    markers!(
        Invoices => "invoices",
        Services => "services",
        Tickets => "tickets",
        Domains => "domains",
        Contacts => "contacts",
        Profile => "profile",
    );
}

/// The signed-in client, refused (403) unless they may use the part of the account `P` names.
pub struct ClientAllowed<P: ClientPermission> {
    pub current: CurrentClient,
    _permission: PhantomData<P>,
}

impl<P: ClientPermission> std::ops::Deref for ClientAllowed<P> {
    type Target = CurrentClient;
    fn deref(&self) -> &CurrentClient {
        &self.current
    }
}

impl<P: ClientPermission> FromRequestParts<AppState> for ClientAllowed<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let current = CurrentClient::from_request_parts(parts, state).await?;
        if !current.may(P::KEY) {
            return Err(AppError::Forbidden);
        }
        Ok(ClientAllowed { current, _permission: PhantomData })
    }
}

impl FromRequestParts<AppState> for CurrentClient {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let next = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
        let sign_in = || AppError::SignInRequired { login_path: "/login", next: next.clone() };
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(token) = session::token_in(&state.settings, &jar, PrincipalKind::Client) else {
            return Err(sign_in());
        };
        let Some(found) = session::load(&state.db, &state.settings, PrincipalKind::Client, &token).await? else {
            return Err(sign_in());
        };
        if found.stage() != Stage::Authenticated {
            return Err(sign_in());
        }
        let contact = if found.principal_kind == PrincipalKind::Contact.as_str() {
            let Some(c) = contact::Entity::find_by_id(ContactId(found.principal_id)).one(&state.db).await? else {
                return Err(sign_in());
            };
            if !c.login_enabled {
                session::delete(&state.db, &token).await?;
                return Err(sign_in());
            }
            Some(c)
        } else {
            None
        };
        let client_id = contact.as_ref().map_or(ClientId(found.principal_id), |c| c.client_id);
        let Some(client) = client_store::find(&state.db, client_id).await? else {
            return Err(sign_in());
        };
        if client.status == client_store::CLOSED {
            session::delete(&state.db, &token).await?;
            return Err(sign_in());
        }
        Ok(CurrentClient { client, contact, session_token: token })
    }
}

/// `Option<CurrentClient>`: pages visitors see too (the store, the cart) know who is signed in
/// without requiring it.
impl axum::extract::OptionalFromRequestParts<AppState> for CurrentClient {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        match <CurrentClient as FromRequestParts<AppState>>::from_request_parts(parts, state).await {
            Ok(current) => Ok(Some(current)),
            Err(AppError::SignInRequired { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }
}

/// A session that has passed the password and owes a second factor.
pub struct PendingSecondFactor {
    pub session: session::Model,
    pub token: String,
}

impl PendingSecondFactor {
    pub async fn load(state: &AppState, parts_headers: &axum::http::HeaderMap, kind: PrincipalKind) -> Option<Self> {
        let jar = CookieJar::from_headers(parts_headers);
        let token = session::token_in(&state.settings, &jar, kind)?;
        let found = session::load(&state.db, &state.settings, kind, &token).await.ok().flatten()?;
        (found.stage() == Stage::SecondFactor).then_some(PendingSecondFactor { session: found, token })
    }
}
