//! Client use cases: registration, email verification, profile changes.

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, DbErr, TransactionTrait};

use super::fields::{self, Audience};
use super::model::client;
use super::store::{self, ACTIVE};
use super::views::{RegistrationAttemptEmail, VerifyEmail};
use crate::audit::{self, Actor};
use crate::auth::session::{self, Stage};
use crate::auth::tokens::{self, Purpose};
use crate::auth::{PrincipalKind, password};
use crate::ids::ClientId;
use crate::mail::{Email, outbox};
use crate::state::AppState;
use crate::web::AppError;
use crate::web::forms::{EmailAddress, is_unique_violation};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("that email address is already registered")]
    EmailTaken,
    #[error("{0}")]
    WeakPassword(&'static str),
    #[error("the link is invalid or has expired")]
    InvalidLink,
    #[error("this client's personal data has been erased")]
    Anonymised,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<ClientError> for AppError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for ClientError {
    fn from(err: DbErr) -> Self {
        if is_unique_violation(&err) {
            return ClientError::EmailTaken;
        }
        ClientError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// What a visitor enters to open an account.
pub struct Registration {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: EmailAddress,
    pub password: String,
    /// The registration fields' values (`fields::validate` with `Audience::Registration`).
    pub custom: fields::Values,
}

/// The profile fields a client edits.
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    /// The registration fields' values (`fields::validate` with `Audience::Client`).
    pub custom: fields::Values,
}

const VERIFY_HOURS: i64 = 48;

/// Queues the confirmation email; its link goes on to `next` once the address is confirmed.
async fn queue_verification(
    state: &AppState,
    db: &impl ConnectionTrait,
    client: &client::Model,
    next: Option<&str>,
) -> Result<(), ClientError> {
    tokens::revoke_all(db, Purpose::VerifyEmail, PrincipalKind::Client, client.id.0).await?;
    let token = tokens::issue(
        db,
        Purpose::VerifyEmail,
        Some((PrincipalKind::Client, client.id.0)),
        Some(Duration::hours(VERIFY_HOURS)),
    )
    .await?;
    let mut link = state.settings.url(&format!("/verify-email/{token}"));
    if let Some(next) = next.filter(|n| !n.is_empty()) {
        link.push_str(&format!("?next={}", url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()));
    }
    let verify = VerifyEmail { hours: VERIFY_HOURS, first_name: client.first_name.clone() };
    let email =
        Email::from_view_with_link(state, &client.email, &client.full_name(), &link, &verify)?.for_client(client.id);
    outbox::enqueue(db, email).await?;
    Ok(())
}

/// What a sign-up did. The visitor is told the same in both cases ("check your inbox"), so the
/// form never says whether an address has an account (decision 0026).
#[derive(Debug)]
pub enum SignUp {
    /// A new account, unconfirmed; the emailed link confirms it and signs the client in.
    Created(Box<client::Model>),
    /// The address has an account (or a sub-user signs in with it): its owner was emailed.
    Existing,
}

/// Opens an account for a visitor without signing them in: the confirmation link emailed to
/// the address does that, and goes on to `next`. An address that already has an account gets
/// an email telling its owner instead, and nothing else changes; both take the same time (a
/// password is hashed either way).
pub async fn sign_up(
    state: &AppState,
    registration: Registration,
    next: &str,
    ip: &str,
) -> Result<SignUp, ClientError> {
    check_password(&registration)?;
    let email = registration.email.clone();
    let owner = store::find_by_email(&state.db, email.as_str()).await?;
    if owner.is_some() || super::contacts::is_sub_user_address(&state.db, email.as_str()).await? {
        password::hash_async(registration.password.clone()).await?;
        notify_existing(state, &email, owner, ip).await?;
        return Ok(SignUp::Existing);
    }
    match insert_account(state, registration, Some(next), ip).await {
        Ok(created) => Ok(SignUp::Created(Box::new(created))),
        // Someone registered the address a moment earlier.
        Err(ClientError::EmailTaken) => {
            let owner = store::find_by_email(&state.db, email.as_str()).await?;
            notify_existing(state, &email, owner, ip).await?;
            Ok(SignUp::Existing)
        }
        Err(err) => Err(err),
    }
}

fn check_password(registration: &Registration) -> Result<(), ClientError> {
    let identity = [registration.email.as_str(), &registration.first_name, &registration.last_name];
    password::check_policy(&registration.password, &identity).map_err(ClientError::WeakPassword)
}

/// Emails the owner of an address someone tried to sign up with (`owner`, or a sub-user): sign
/// in, or reset the password. At most one such email per address and hour.
async fn notify_existing(
    state: &AppState,
    email: &EmailAddress,
    owner: Option<client::Model>,
    ip: &str,
) -> Result<(), ClientError> {
    let name = owner.as_ref().map(client::Model::full_name).unwrap_or_default();
    let hour = Utc::now().format("%Y%m%d%H");
    let attempt = RegistrationAttemptEmail {
        sign_in: state.settings.url("/login"),
        reset: state.settings.url("/password/forgot"),
    };
    let mut message = Email::from_view(state, email.as_str(), &name, &attempt)?
        .once_for(format!("registration_attempt:{}:{hour}", email.as_str()));
    if let Some(owner) = &owner {
        message = message.for_client(owner.id);
    }
    let txn = state.db.begin().await?;
    outbox::enqueue_many(&txn, vec![message]).await?;
    audit::record(
        &txn,
        &Actor::anonymous(email.as_str(), ip),
        "client.registration_attempt",
        owner.as_ref().map(|o| ("client", o.id.0)),
        "Someone tried to sign up with this address; its owner was emailed",
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

/// Creates an unconfirmed account with its registration fields and queues the confirmation
/// email (with `next`, the page the link goes on to).
pub async fn register_account(
    state: &AppState,
    registration: Registration,
    next: Option<&str>,
    ip: &str,
) -> Result<client::Model, ClientError> {
    check_password(&registration)?;
    // A sub-user signs in with this address already: one address, one person.
    if super::contacts::is_sub_user_address(&state.db, registration.email.as_str()).await? {
        return Err(ClientError::EmailTaken);
    }
    insert_account(state, registration, next, ip).await
}

/// Inserts the account `register_account` describes, its checks done.
async fn insert_account(
    state: &AppState,
    registration: Registration,
    next: Option<&str>,
    ip: &str,
) -> Result<client::Model, ClientError> {
    let hash = password::hash_async(registration.password.clone()).await?;
    let search = search_text(
        &registration.first_name,
        &registration.last_name,
        &registration.company_name,
        registration.email.as_str(),
        "",
    );
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let created = client::ActiveModel {
        email: Set(registration.email.as_str().to_owned()),
        first_name: Set(registration.first_name),
        last_name: Set(registration.last_name),
        company_name: Set(registration.company_name),
        password_hash: Set(Some(hash)),
        status: Set(ACTIVE.into()),
        email_verified_at: Set(None),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        search_text: Set(search),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let asked = fields::for_audience(&txn, Audience::Registration).await?;
    fields::save_values(&txn, created.id, &asked, &registration.custom).await?;
    queue_verification(state, &txn, &created, next).await?;
    audit::record(
        &txn,
        &Actor::client(created.id, &created.email, ip),
        "client.registered",
        Some(("client", created.id.0)),
        "Registered a client account; waiting for the address to be confirmed",
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(created)
}

/// A confirmed address, and the session the link opened when it finished a sign-up.
pub struct Confirmed {
    pub client: client::Model,
    pub session: Option<String>,
}

/// Confirms the address from the emailed link. The link that finishes a sign-up (an account
/// never signed in to, whose address was never confirmed) also signs the client in: it is
/// the proof the sign-up form did not ask for.
pub async fn verify_email(state: &AppState, token: &str, ip: &str, user_agent: &str) -> Result<Confirmed, ClientError> {
    let txn = state.db.begin().await?;
    let found = tokens::consume(&txn, Purpose::VerifyEmail, token).await?.ok_or(ClientError::InvalidLink)?;
    let client =
        store::find(&txn, ClientId(found.principal_id.unwrap_or_default())).await?.ok_or(ClientError::InvalidLink)?;
    let finishes_sign_up = client.email_verified_at.is_none() && client.last_login_at.is_none();
    mark_email_verified(&txn, client.id).await?;
    let session = if finishes_sign_up && client.status == ACTIVE {
        let (token, _) = session::create(
            &txn,
            &state.settings,
            PrincipalKind::Client,
            client.id.0,
            Stage::Authenticated,
            ip,
            user_agent,
        )
        .await?;
        crate::auth::credentials::record_login(&txn, PrincipalKind::Client, client.id.0).await?;
        Some(token)
    } else {
        None
    };
    audit::record(
        &txn,
        &Actor::client(client.id, &client.email, ip),
        "client.email_verified",
        Some(("client", client.id.0)),
        format!("Verified the email address {}", client.email),
    )
    .await?;
    txn.commit().await?;
    Ok(Confirmed { client, session })
}

/// Sets the verification time if it is not set yet.
pub async fn mark_email_verified(db: &impl ConnectionTrait, id: ClientId) -> Result<(), DbErr> {
    let update = Query::update()
        .table(client::Entity)
        .value(client::Column::EmailVerifiedAt, Utc::now())
        .and_where(Expr::col(client::Column::Id).eq(id))
        .and_where(Expr::col(client::Column::EmailVerifiedAt).is_null())
        .to_owned();
    db.execute(&update).await?;
    Ok(())
}

pub async fn resend_verification(state: &AppState, client: &client::Model) -> Result<(), ClientError> {
    if client.email_verified_at.is_some() {
        return Ok(());
    }
    let txn = state.db.begin().await?;
    queue_verification(state, &txn, client, None).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

/// Saves a client's own profile changes; `actor` is the owner or a sub-user.
pub async fn update_profile(
    state: &AppState,
    client: &client::Model,
    profile: Profile,
    actor: &Actor,
) -> Result<(), ClientError> {
    let txn = state.db.begin().await?;
    let mut changes = Vec::new();
    if client.first_name != profile.first_name || client.last_name != profile.last_name {
        changes.push("name".to_owned());
    }
    if client.company_name != profile.company_name {
        changes.push("company".to_owned());
    }
    // Only the fields a client sees: a staff-only value can never be changed from here.
    let editable = fields::for_audience(&txn, Audience::Client).await?;
    changes.extend(fields::save_values(&txn, client.id, &editable, &profile.custom).await?);
    let mut active: client::ActiveModel = client.clone().into();
    active.search_text =
        Set(search_text(&profile.first_name, &profile.last_name, &profile.company_name, &client.email, &client.phone));
    active.first_name = Set(profile.first_name);
    active.last_name = Set(profile.last_name);
    active.company_name = Set(profile.company_name);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    if !changes.is_empty() {
        audit::record(
            &txn,
            actor,
            "client.profile_updated",
            Some(("client", client.id.0)),
            format!("Updated their {}", changes.join(" and ")),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// What the admin search matches: names, company, email and phone, lower-cased.
pub fn search_text(first: &str, last: &str, company: &str, email: &str, phone: &str) -> String {
    format!("{first} {last} {company} {email} {phone}").to_lowercase()
}
