//! The person making a client-area request: `CurrentClient` (the account's owner or a
//! sub-user) and `ClientAllowed<P>` (someone who may use the part of the account `P` names).

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use minijinja::Value;
use sea_orm::EntityTrait;
use serde::Serialize;

use super::model::{client, contact};
use super::store as client_store;
use crate::auth::PrincipalKind;
use crate::auth::session::{self, Stage};
use crate::ids::{ClientId, ContactId};
use crate::state::AppState;
use crate::web::AppError;

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

    /// What the client layout shows of the person (`current_client`).
    pub fn badge(&self) -> ClientBadge {
        let permissions =
            super::contacts::PERMISSIONS.iter().map(|(key, _)| *key).filter(|key| self.may(key)).collect();
        ClientBadge {
            id: self.client.id,
            name: self.contact.as_ref().map_or_else(|| self.client.full_name(), |c| c.full_name()),
            account_name: if self.client.company_name.is_empty() {
                self.client.full_name()
            } else {
                self.client.company_name.clone()
            },
            email: self.contact.as_ref().map_or_else(|| self.client.email.clone(), |c| c.email.clone()),
            email_verified: self.contact.is_some() || self.client.email_verified_at.is_some(),
            is_owner: self.is_owner(),
            permissions,
        }
    }

    /// [`CurrentClient::badge`] as a template value, for pages still built with `context!`.
    pub fn template_value(&self) -> Value {
        Value::from_serialize(self.badge())
    }
}

/// The signed-in person as every client-area page shows them (`current_client` in
/// `layout/client.html`): the account, whether it is theirs, and what they may use.
#[derive(Debug, Clone, Serialize)]
pub struct ClientBadge {
    pub id: ClientId,
    pub name: String,
    pub account_name: String,
    pub email: String,
    pub email_verified: bool,
    pub is_owner: bool,
    pub permissions: Vec<&'static str>,
}

#[cfg(test)]
impl ClientBadge {
    /// The account's owner (who may use everything), with names that must come out escaped.
    pub fn sample_owner(email_verified: bool) -> Self {
        use crate::web::view::SCRIPT;
        ClientBadge {
            id: ClientId(7),
            name: SCRIPT.into(),
            account_name: SCRIPT.into(),
            email: "jo@example.com".into(),
            email_verified,
            is_owner: true,
            permissions: super::contacts::PERMISSIONS.iter().map(|(key, _)| *key).collect(),
        }
    }

    /// A sub-user allowed only `permissions`.
    pub fn sample_sub_user(permissions: &[&'static str]) -> Self {
        ClientBadge {
            email: "ana@example.com".into(),
            email_verified: true,
            is_owner: false,
            permissions: permissions.to_vec(),
            ..Self::sample_owner(true)
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
