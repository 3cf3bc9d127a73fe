//! Sign-in, second factor, password and 2FA changes, password reset: the same rules for
//! staff and clients. Each use case is one transaction that also writes its audit record.

use chrono::{Duration, Utc};
use sea_orm::{DatabaseConnection, TransactionTrait};

use super::account::{self, Account};
use super::views::PasswordResetEmail;
use crate::audit::{self, Actor};
use crate::auth::session::{self, Stage};
use crate::auth::throttle::{self, Backoff, Limit};
use crate::auth::tokens::{self, Purpose};
use crate::auth::{AuthError, PrincipalKind, credentials, password, recovery, totp};
use crate::ids::{ClientId, StaffId};
use crate::mail::{Email, outbox};
use crate::state::AppState;

/// Where the request came from, for throttling and audit.
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
}

/// A new session to put in the cookie.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub stage: Stage,
    pub account: Account,
}

fn actor(account: &Account, ip: &str) -> Actor {
    match account.kind {
        PrincipalKind::Staff => Actor::staff(StaffId(account.id), &account.email, ip),
        PrincipalKind::Client => Actor::client(ClientId(account.id), &account.email, ip),
        PrincipalKind::Contact => Actor::contact(crate::ids::ContactId(account.id), &account.email, ip),
    }
}

fn entity(account: &Account) -> Option<(&'static str, i64)> {
    Some((account.kind.as_str(), account.id))
}

fn action(kind: PrincipalKind, what: &str) -> String {
    format!("{}.{what}", kind.as_str())
}

/// Failures of one account from one address: the first few pass, then each waits twice as
/// long as the one before, up to the lockout. Nobody elsewhere is kept out of the account: the
/// owner signing in from their own address starts with a clean slate (decision 0026).
fn account_backoff(state: &AppState) -> Backoff {
    Backoff {
        free: state.settings.security.max_failures - 1,
        first: Duration::minutes(1),
        longest: Duration::minutes(state.settings.security.lockout_minutes),
        window: Duration::hours(1),
    }
}

/// Failures from one address (an IPv6 /64 counts as one) over every account. Addresses behind
/// one NAT share a bucket, so the per-address limit is looser.
fn ip_limit(state: &AppState) -> Limit {
    Limit {
        max: state.settings.security.max_failures * 4,
        window: Duration::minutes(state.settings.security.lockout_minutes),
    }
}

/// The buckets of (`what`, account, address) and (`what`, address).
fn sign_in_buckets(what: &str, account: &str, ip: &str) -> [String; 2] {
    let address = throttle::address_key(ip);
    [format!("{what}:{account}:{address}"), format!("{what}:ip:{address}")]
}

async fn check_locked(db: &DatabaseConnection, buckets: &[String]) -> Result<(), AuthError> {
    throttle::check(db, buckets).await?.map_err(AuthError::Locked)
}

/// Checks email and password. With 2FA on, the session only reaches the second-factor step.
pub async fn sign_in(
    state: &AppState,
    kind: PrincipalKind,
    email: &str,
    password_given: &str,
    origin: &Origin,
) -> Result<NewSession, AuthError> {
    let email = email.trim().to_lowercase();
    let [account_bucket, ip_bucket] = sign_in_buckets("login", &format!("{}:{email}", kind.as_str()), &origin.ip);
    check_locked(&state.db, &[account_bucket.clone(), ip_bucket.clone()]).await?;

    let found = account::find_for_sign_in(&state.db, kind, &email).await?;
    let verdict =
        password::verify_async(password_given.to_owned(), found.as_ref().and_then(|a| a.password_hash.clone())).await?;
    let account = match (found, verdict) {
        (Some(account), password::Verified::Yes | password::Verified::YesRehash) if account.active => {
            if verdict_needs_rehash(&verdict) {
                let fresh = password::hash_async(password_given.to_owned()).await?;
                credentials::set_password_hash(&state.db, account.kind, account.id, fresh).await?;
            }
            account
        }
        (found, _) => {
            let txn = state.db.begin().await?;
            throttle::hit_backoff(&txn, &account_bucket, account_backoff(state)).await?;
            throttle::hit(&txn, std::slice::from_ref(&ip_bucket), ip_limit(state)).await?;
            let summary = match &found {
                Some(a) if !a.active => "Sign-in refused: the account is disabled",
                Some(_) => "Sign-in failed: wrong password",
                None => "Sign-in failed: no such account",
            };
            audit::record(
                &txn,
                &Actor::anonymous(&email, &origin.ip),
                &action(kind, "login_failed"),
                found.as_ref().and_then(entity),
                summary,
            )
            .await?;
            txn.commit().await?;
            return Err(AuthError::InvalidCredentials);
        }
    };

    let txn = state.db.begin().await?;
    throttle::clear(&txn, &[account_bucket]).await?;
    let stage = if account.totp_enabled { Stage::SecondFactor } else { Stage::Authenticated };
    let (token, _) =
        session::create(&txn, &state.settings, account.kind, account.id, stage, &origin.ip, &origin.user_agent).await?;
    if stage == Stage::Authenticated {
        credentials::record_login(&txn, account.kind, account.id).await?;
        audit::record(&txn, &actor(&account, &origin.ip), &action(kind, "login"), entity(&account), "Signed in")
            .await?;
    }
    txn.commit().await?;
    Ok(NewSession { token, stage, account })
}

fn verdict_needs_rehash(verdict: &password::Verified) -> bool {
    *verdict == password::Verified::YesRehash
}

/// Completes sign-in with a TOTP code or a recovery code; the pending session is replaced.
pub async fn second_factor(
    state: &AppState,
    pending: &session::Model,
    pending_token: &str,
    code: &str,
    origin: &Origin,
) -> Result<NewSession, AuthError> {
    let kind = PrincipalKind::parse(&pending.principal_kind).ok_or(AuthError::InvalidCode)?;
    let buckets = sign_in_buckets("2fa", &format!("{}:{}", kind.as_str(), pending.principal_id), &origin.ip);
    check_locked(&state.db, &buckets).await?;
    let account = account::find(&state.db, kind, pending.principal_id)
        .await?
        .filter(|a| a.active && a.totp_enabled)
        .ok_or(AuthError::InvalidCode)?;

    let txn = state.db.begin().await?;
    let used = match verify_code(state, &account, code)? {
        Some(step) if credentials::claim_totp_step(&txn, kind, account.id, step).await? => Some("authenticator code"),
        Some(_) => None,
        None if recovery::consume(&txn, &state.key, kind, account.id, code).await? => Some("recovery code"),
        None => None,
    };
    let Some(method) = used else {
        txn.rollback().await?;
        let txn = state.db.begin().await?;
        throttle::hit_backoff(&txn, &buckets[0], account_backoff(state)).await?;
        throttle::hit(&txn, &buckets[1..], ip_limit(state)).await?;
        audit::record(
            &txn,
            &actor(&account, &origin.ip),
            &action(kind, "2fa_failed"),
            entity(&account),
            "Wrong two-factor code",
        )
        .await?;
        txn.commit().await?;
        return Err(AuthError::InvalidCode);
    };
    session::delete(&txn, pending_token).await?;
    let (token, _) =
        session::create(&txn, &state.settings, kind, account.id, Stage::Authenticated, &origin.ip, &origin.user_agent)
            .await?;
    credentials::record_login(&txn, kind, account.id).await?;
    throttle::clear(&txn, &buckets[..1]).await?;
    audit::record(
        &txn,
        &actor(&account, &origin.ip),
        &action(kind, "login"),
        entity(&account),
        format!("Signed in with password and {method}"),
    )
    .await?;
    txn.commit().await?;
    Ok(NewSession { token, stage: Stage::Authenticated, account })
}

/// The step a TOTP code matches, if it matches the account's seed.
fn verify_code(state: &AppState, account: &Account, code: &str) -> anyhow::Result<Option<i64>> {
    let Some(sealed) = &account.totp_secret else {
        return Ok(None);
    };
    let secret = state.key.decrypt(sealed)?;
    Ok(totp::verify(&secret, code, Utc::now().timestamp(), account.totp_last_step))
}

/// Ends one session (sign out).
pub async fn sign_out(state: &AppState, account: &Account, token: &str, ip: &str) -> Result<(), AuthError> {
    let txn = state.db.begin().await?;
    session::delete(&txn, token).await?;
    audit::record(&txn, &actor(account, ip), &action(account.kind, "logout"), entity(account), "Signed out").await?;
    txn.commit().await?;
    Ok(())
}

/// Ends every other session and rotates this one; returns the new token.
pub async fn sign_out_everywhere(state: &AppState, account: &Account, origin: &Origin) -> Result<String, AuthError> {
    let txn = state.db.begin().await?;
    let ended = session::delete_all_for(&txn, account.kind, account.id, None).await?;
    let (fresh, _) = session::create(
        &txn,
        &state.settings,
        account.kind,
        account.id,
        Stage::Authenticated,
        &origin.ip,
        &origin.user_agent,
    )
    .await?;
    audit::record(
        &txn,
        &actor(account, &origin.ip),
        &action(account.kind, "sessions_revoked"),
        entity(account),
        format!(
            "Signed out everywhere ({} other session{})",
            ended.saturating_sub(1),
            if ended == 2 { "" } else { "s" }
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(fresh)
}

/// Changes a password after checking the current one; other sessions end, this one rotates.
pub async fn change_password(
    state: &AppState,
    account: &Account,
    current: &str,
    new: &str,
    origin: &Origin,
) -> Result<String, AuthError> {
    let verdict = password::verify_async(current.to_owned(), account.password_hash.clone()).await?;
    if verdict == password::Verified::No {
        return Err(AuthError::InvalidCredentials);
    }
    password::check_policy(new, &[&account.email, &account.name]).map_err(AuthError::WeakPassword)?;
    let hash = password::hash_async(new.to_owned()).await?;
    let txn = state.db.begin().await?;
    credentials::set_password_hash(&txn, account.kind, account.id, hash).await?;
    session::delete_all_for(&txn, account.kind, account.id, None).await?;
    let (token, _) = session::create(
        &txn,
        &state.settings,
        account.kind,
        account.id,
        Stage::Authenticated,
        &origin.ip,
        &origin.user_agent,
    )
    .await?;
    audit::record(
        &txn,
        &actor(account, &origin.ip),
        &action(account.kind, "password_changed"),
        entity(account),
        "Changed password; other sessions ended",
    )
    .await?;
    txn.commit().await?;
    Ok(token)
}

/// The seed being enrolled: the stored unconfirmed one, or a new one.
pub async fn pending_totp_secret(state: &AppState, account: &Account) -> Result<Vec<u8>, AuthError> {
    if let Some(sealed) = account.totp_secret.as_ref().filter(|_| !account.totp_enabled)
        && let Ok(secret) = state.key.decrypt(sealed)
    {
        return Ok(secret);
    }
    let secret = totp::generate_secret();
    credentials::set_totp_secret(&state.db, account.kind, account.id, Some(state.key.encrypt(&secret))).await?;
    Ok(secret)
}

/// Confirms enrolment with a first code; returns fresh recovery codes and a rotated session.
pub async fn enable_totp(
    state: &AppState,
    account: &Account,
    code: &str,
    origin: &Origin,
) -> Result<(Vec<String>, String), AuthError> {
    if account.totp_enabled {
        return Err(AuthError::InvalidCode);
    }
    let step = verify_code(state, account, code)?.ok_or(AuthError::InvalidCode)?;
    let txn = state.db.begin().await?;
    credentials::enable_totp(&txn, account.kind, account.id, step).await?;
    let codes = recovery::regenerate(&txn, &state.key, account.kind, account.id).await?;
    session::delete_all_for(&txn, account.kind, account.id, None).await?;
    let (token, _) = session::create(
        &txn,
        &state.settings,
        account.kind,
        account.id,
        Stage::Authenticated,
        &origin.ip,
        &origin.user_agent,
    )
    .await?;
    audit::record(
        &txn,
        &actor(account, &origin.ip),
        &action(account.kind, "2fa_enabled"),
        entity(account),
        "Turned on two-factor authentication",
    )
    .await?;
    txn.commit().await?;
    Ok((codes, token))
}

/// Turns 2FA off after checking the password.
/// Turns 2FA off. It takes the password and a current code (or a recovery code), so a
/// session left open somewhere is not enough; every other session of the account ends.
pub async fn disable_totp(
    state: &AppState,
    account: &Account,
    current: &str,
    code: &str,
    keep_session: &str,
    origin: &Origin,
) -> Result<(), AuthError> {
    let verdict = password::verify_async(current.to_owned(), account.password_hash.clone()).await?;
    if verdict == password::Verified::No {
        return Err(AuthError::InvalidCredentials);
    }
    let txn = state.db.begin().await?;
    let proven = match verify_code(state, account, code)? {
        Some(step) => credentials::claim_totp_step(&txn, account.kind, account.id, step).await?,
        None => recovery::consume(&txn, &state.key, account.kind, account.id, code).await?,
    };
    if !proven {
        return Err(AuthError::InvalidCode);
    }
    credentials::set_totp_secret(&txn, account.kind, account.id, None).await?;
    recovery::remove_all(&txn, account.kind, account.id).await?;
    session::delete_all_for(&txn, account.kind, account.id, Some(keep_session)).await?;
    audit::record(
        &txn,
        &actor(account, &origin.ip),
        &action(account.kind, "2fa_disabled"),
        entity(account),
        "Turned off two-factor authentication; other sessions ended",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Replaces the recovery codes after checking the password.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    account: &Account,
    current: &str,
    origin: &Origin,
) -> Result<Vec<String>, AuthError> {
    let verdict = password::verify_async(current.to_owned(), account.password_hash.clone()).await?;
    if verdict == password::Verified::No || !account.totp_enabled {
        return Err(AuthError::InvalidCredentials);
    }
    let txn = state.db.begin().await?;
    let codes = recovery::regenerate(&txn, &state.key, account.kind, account.id).await?;
    audit::record(
        &txn,
        &actor(account, &origin.ip),
        &action(account.kind, "recovery_codes_regenerated"),
        entity(account),
        "Generated new recovery codes",
    )
    .await?;
    txn.commit().await?;
    Ok(codes)
}

/// Sends a reset link if the address belongs to an active account. The caller answers the
/// same way either way, so the form reveals nothing about who has an account.
pub async fn request_password_reset(
    state: &AppState,
    kind: PrincipalKind,
    email: &str,
    reset_path: &str,
    origin: &Origin,
) -> Result<(), AuthError> {
    throttle::limit_requests(state, "reset", &origin.ip).await?;
    let email = email.trim().to_lowercase();
    let per_address = vec![format!("reset:{}:{email}", kind.as_str())];
    if throttle::check(&state.db, &per_address).await?.is_err() {
        return Ok(());
    }
    throttle::hit(&state.db, &per_address, Limit { max: 3, window: Duration::hours(1) }).await?;
    let Some(account) = account::find_for_sign_in(&state.db, kind, &email).await?.filter(|a| a.active) else {
        return Ok(());
    };
    let txn = state.db.begin().await?;
    tokens::revoke_all(&txn, Purpose::PasswordReset, kind, account.id).await?;
    let token =
        tokens::issue(&txn, Purpose::PasswordReset, Some((account.kind, account.id)), Some(Duration::minutes(60)))
            .await?;
    let link = state.settings.url(&format!("{reset_path}/{token}"));
    let mut email =
        Email::from_view_with_link(state, &account.email, &account.name, &link, &PasswordResetEmail { minutes: 60 })?;
    if let Some(owner) = account.owner_client {
        email = email.for_client(owner);
    }
    outbox::enqueue(&txn, email).await?;
    audit::record(
        &txn,
        &Actor::anonymous(&account.email, &origin.ip),
        &action(kind, "password_reset_requested"),
        entity(&account),
        "Requested a password reset link",
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

/// Sets a new password from a reset link; every session of the account ends.
pub async fn reset_password(
    state: &AppState,
    kind: PrincipalKind,
    token: &str,
    new: &str,
    origin: &Origin,
) -> Result<Account, AuthError> {
    let found = tokens::peek(&state.db, Purpose::PasswordReset, token).await?.ok_or(AuthError::InvalidLink)?;
    let id = found.principal_id.ok_or(AuthError::InvalidLink)?;
    // The link names whose password it sets; it must belong to this area.
    let kind = found
        .principal_kind
        .as_deref()
        .and_then(PrincipalKind::parse)
        .filter(|k| k.area() == kind.area())
        .ok_or(AuthError::InvalidLink)?;
    let account = account::find(&state.db, kind, id).await?.filter(|a| a.active).ok_or(AuthError::InvalidLink)?;
    password::check_policy(new, &[&account.email, &account.name]).map_err(AuthError::WeakPassword)?;
    let hash = password::hash_async(new.to_owned()).await?;
    let txn = state.db.begin().await?;
    if tokens::consume(&txn, Purpose::PasswordReset, token).await?.is_none() {
        return Err(AuthError::InvalidLink);
    }
    credentials::set_password_hash(&txn, kind, account.id, hash).await?;
    session::delete_all_for(&txn, kind, account.id, None).await?;
    if kind == PrincipalKind::Client {
        crate::clients::service::mark_email_verified(&txn, ClientId(account.id)).await?;
    }
    throttle::clear_prefix(&txn, &format!("login:{}:{}:", kind.area().as_str(), account.email)).await?;
    audit::record(
        &txn,
        &Actor::anonymous(&account.email, &origin.ip),
        &action(kind, "password_reset"),
        entity(&account),
        "Set a new password from a reset link; all sessions ended",
    )
    .await?;
    txn.commit().await?;
    Ok(account)
}
