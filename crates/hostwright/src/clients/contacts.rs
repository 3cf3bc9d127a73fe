//! Contacts of a client account. A contact may receive the account's billing, technical or
//! general email; a contact with sign-in enabled is a **sub-user**: they sign in to the
//! client area with their own email, password and second factor, and see the parts of the
//! account the owner allowed (`PERMISSIONS`). The owner (and staff) manage contacts; a
//! sub-user with the `contacts` permission may too, but cannot give permissions they lack.

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};

use super::model::{client, contact};
use super::store;
use super::views::ContactInviteEmail;
use crate::audit::{self, Actor};
use crate::auth::PrincipalKind;
use crate::auth::session;
use crate::auth::tokens::{self, Purpose};
use crate::ids::{ClientId, ContactId};
use crate::mail::{Email, outbox};
use crate::state::AppState;
use crate::web::forms::{EmailAddress, is_unique_violation, optional_text, required_text};
use crate::web::{AppError, FormErrors};

/// What a sub-user may be allowed, with the label the forms show.
pub const PERMISSIONS: [(&str, &str); 6] = [
    ("invoices", "View and pay invoices, see account credit"),
    ("services", "View and manage services"),
    ("tickets", "Open and view support tickets"),
    ("domains", "View and manage domains"),
    ("contacts", "Manage contacts and sub-users"),
    ("profile", "Edit the account's profile"),
];

/// How long the link a new sub-user sets their password with works.
const INVITE_DAYS: i64 = 7;

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<ContactError> for AppError {
    fn from(err: ContactError) -> Self {
        match err {
            ContactError::NotFound => AppError::NotFound,
            ContactError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            ContactError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for ContactError {
    fn from(err: DbErr) -> Self {
        ContactError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// A contact as typed into the form.
#[derive(Debug, Clone, Default)]
pub struct ContactForm {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: String,
    pub receives_billing: Option<String>,
    pub receives_technical: Option<String>,
    pub receives_general: Option<String>,
    pub login_enabled: Option<String>,
    /// The permission keys ticked (the form sends `permissions` once per box).
    pub permissions: Vec<String>,
}

impl ContactForm {
    /// The fields of a submitted form (`permissions` may repeat).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = ContactForm::default();
        for (key, value) in pairs {
            match key.as_str() {
                "first_name" => form.first_name = value,
                "last_name" => form.last_name = value,
                "email" => form.email = value,
                "phone" => form.phone = value,
                "receives_billing" => form.receives_billing = Some(value),
                "receives_technical" => form.receives_technical = Some(value),
                "receives_general" => form.receives_general = Some(value),
                "login_enabled" => form.login_enabled = Some(value),
                "permissions" if form.permissions.len() < PERMISSIONS.len() * 2 => form.permissions.push(value),
                _ => {}
            }
        }
        form
    }

    pub fn from_contact(c: &contact::Model) -> Self {
        let on = |b: bool| b.then(|| "on".to_owned());
        ContactForm {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            receives_billing: on(c.receives_billing),
            receives_technical: on(c.receives_technical),
            receives_general: on(c.receives_general),
            login_enabled: on(c.login_enabled),
            permissions: PERMISSIONS.iter().filter(|(k, _)| c.may(k)).map(|(k, _)| (*k).to_owned()).collect(),
        }
    }

    /// The form as the pages show it again.
    pub fn values(&self) -> super::views::ContactFormValues {
        super::views::ContactFormValues {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            receives_billing: self.receives_billing.is_some(),
            receives_technical: self.receives_technical.is_some(),
            receives_general: self.receives_general.is_some(),
            login_enabled: self.login_enabled.is_some(),
            permissions: self.permissions.clone(),
        }
    }
}

/// A checked contact.
struct Valid {
    first_name: String,
    last_name: String,
    email: EmailAddress,
    phone: String,
    receives_billing: bool,
    receives_technical: bool,
    receives_general: bool,
    login_enabled: bool,
    permissions: String,
}

fn validate(form: &ContactForm, grantable: &(dyn Fn(&str) -> bool + Sync)) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::new();
    let first_name = required_text(&mut errors, "first_name", &form.first_name, "the first name", 100);
    let last_name = required_text(&mut errors, "last_name", &form.last_name, "the last name", 100);
    let email = EmailAddress::parse(&form.email).map_err(|message| errors.add("email", message)).ok();
    let phone = optional_text(&mut errors, "phone", &form.phone, 50);
    let mut permissions = Vec::new();
    for key in &form.permissions {
        match PERMISSIONS.iter().find(|(k, _)| k == key) {
            Some((k, _)) if grantable(k) => permissions.push(*k),
            Some(_) => errors.add("permissions", "You can only give permissions you hold yourself."),
            None => errors.add("permissions", "Choose permissions from the list."),
        }
    }
    permissions.sort_unstable();
    permissions.dedup();
    let login_enabled = form.login_enabled.is_some();
    if login_enabled && permissions.is_empty() {
        errors.add("permissions", "A sub-user needs at least one permission.");
    }
    match (email, errors.is_empty()) {
        (Some(email), true) => Ok(Valid {
            first_name,
            last_name,
            email,
            phone,
            receives_billing: form.receives_billing.is_some(),
            receives_technical: form.receives_technical.is_some(),
            receives_general: form.receives_general.is_some(),
            login_enabled,
            permissions: permissions.join(","),
        }),
        _ => Err(errors),
    }
}

pub async fn list(db: &impl ConnectionTrait, client_id: ClientId) -> Result<Vec<contact::Model>, DbErr> {
    contact::Entity::find()
        .filter(contact::Column::ClientId.eq(client_id))
        .order_by_asc(contact::Column::LastName)
        .order_by_asc(contact::Column::FirstName)
        .all(db)
        .await
}

/// One contact of one client (another client's contact is "not found").
pub async fn find(
    db: &impl ConnectionTrait,
    client_id: ClientId,
    id: ContactId,
) -> Result<Option<contact::Model>, DbErr> {
    Ok(contact::Entity::find_by_id(id).one(db).await?.filter(|c| c.client_id == client_id))
}

/// The addresses that receive the account's billing email besides the owner.
pub async fn billing_recipients(db: &impl ConnectionTrait, client_id: ClientId) -> Result<Vec<contact::Model>, DbErr> {
    contact::Entity::find()
        .filter(contact::Column::ClientId.eq(client_id))
        .filter(contact::Column::ReceivesBilling.eq(true))
        .order_by_asc(contact::Column::Id)
        .all(db)
        .await
}

/// Who billing email goes to: the account's owner, then each of `contacts` (those who
/// receive billing email) at an address other than the owner's, as (address, full name,
/// first name).
pub fn billing_addresses<'a>(
    owner: &'a client::Model,
    contacts: &'a [contact::Model],
) -> Vec<(&'a str, String, &'a str)> {
    let mut addresses = vec![(owner.email.as_str(), owner.full_name(), owner.first_name.as_str())];
    for c in contacts.iter().filter(|c| c.email != owner.email) {
        addresses.push((c.email.as_str(), c.full_name(), c.first_name.as_str()));
    }
    addresses
}

/// Queues the email `template` to the account's owner and to every contact who receives
/// its billing email, each greeted by their own first name (`first_name`).
pub async fn send_billing_email(
    state: &AppState,
    txn: &impl ConnectionTrait,
    owner: &client::Model,
    template: &str,
    extra: minijinja::Value,
) -> anyhow::Result<()> {
    let contacts = billing_recipients(txn, owner.id).await?;
    for (address, name, first_name) in billing_addresses(owner, &contacts) {
        let ctx = minijinja::context! { first_name => first_name, ..extra.clone() };
        outbox::enqueue(txn, Email::compose(state, template, address, &name, ctx)?.for_client(owner.id)).await?;
    }
    Ok(())
}

/// The sub-user who signs in with `email`, if any (there is at most one).
pub async fn sub_user_by_address(db: &impl ConnectionTrait, email: &str) -> Result<Option<contact::Model>, DbErr> {
    contact::Entity::find()
        .filter(contact::Column::Email.eq(email))
        .filter(contact::Column::LoginEnabled.eq(true))
        .one(db)
        .await
}

/// Whether a sub-user signs in with `email` (an account owner may not then take it).
pub async fn is_sub_user_address(db: &impl ConnectionTrait, email: &str) -> Result<bool, DbErr> {
    Ok(sub_user_by_address(db, email).await?.is_some())
}

/// Sign-in addresses must lead to one person: a sub-user's email may not be an account
/// owner's, nor another sub-user's (the database enforces the latter too).
async fn check_sign_in_address(
    db: &impl ConnectionTrait,
    email: &str,
    except: Option<ContactId>,
) -> Result<Option<&'static str>, DbErr> {
    if store::find_by_email(db, email).await?.is_some() {
        return Ok(Some("This address signs in to a client account already; use another for the sub-user."));
    }
    let other = sub_user_by_address(db, email).await?.filter(|c| Some(c.id) != except);
    Ok(other.is_some().then_some("Another sub-user signs in with this address."))
}

/// Adds a contact; a sub-user is emailed a link to choose their password.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    owner: &client::Model,
    form: &ContactForm,
    grantable: &(dyn Fn(&str) -> bool + Sync),
) -> Result<ContactId, ContactError> {
    if owner.anonymised_at.is_some() {
        return Err(ContactError::NotAllowed("This client's personal data was erased; their account is closed."));
    }
    let valid = validate(form, grantable).map_err(ContactError::Invalid)?;
    if valid.login_enabled
        && let Some(message) = check_sign_in_address(&state.db, valid.email.as_str(), None).await?
    {
        let mut errors = FormErrors::new();
        errors.add("email", message);
        return Err(ContactError::Invalid(errors));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let inserted = contact::ActiveModel {
        client_id: Set(owner.id),
        first_name: Set(valid.first_name),
        last_name: Set(valid.last_name),
        email: Set(valid.email.as_str().to_owned()),
        phone: Set(valid.phone),
        receives_billing: Set(valid.receives_billing),
        receives_technical: Set(valid.receives_technical),
        receives_general: Set(valid.receives_general),
        login_enabled: Set(valid.login_enabled),
        permissions: Set(valid.permissions),
        password_hash: Set(None),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        last_login_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let created = match inserted {
        Ok(created) => created,
        Err(err) if is_unique_violation(&err) => {
            let mut errors = FormErrors::new();
            errors.add("email", "Another sub-user signs in with this address.");
            return Err(ContactError::Invalid(errors));
        }
        Err(err) => return Err(err.into()),
    };
    if created.login_enabled {
        invite(state, &txn, owner, &created).await?;
    }
    audit::record(
        &txn,
        actor,
        "client.contact_added",
        Some(("client", owner.id.0)),
        format!("Added {} {}", if created.login_enabled { "sub-user" } else { "contact" }, created.email),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(created.id)
}

/// Nobody changes or removes a sub-user who holds a permission they do not: a sub-user who
/// may manage contacts cannot take over one who may do more.
fn ensure_may_manage(current: &contact::Model, grantable: &(dyn Fn(&str) -> bool + Sync)) -> Result<(), ContactError> {
    if current.login_enabled && current.permissions.split(',').filter(|p| !p.is_empty()).any(|p| !grantable(p)) {
        return Err(ContactError::NotAllowed(
            "This sub-user holds permissions you do not; only the account owner can change them.",
        ));
    }
    Ok(())
}

/// Changes a contact. Turning sign-in off, or changing a sub-user's address or permissions,
/// ends their sessions; turning it on for someone without a password sends the invitation.
/// A new address is a new person: the password and second factor set for the old one are
/// cleared, and the new address is invited to choose its own.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    owner: &client::Model,
    id: ContactId,
    form: &ContactForm,
    grantable: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(), ContactError> {
    if owner.anonymised_at.is_some() {
        return Err(ContactError::NotAllowed("This client's personal data was erased; their account is closed."));
    }
    let current = find(&state.db, owner.id, id).await?.ok_or(ContactError::NotFound)?;
    ensure_may_manage(&current, grantable)?;
    // Permissions the editor cannot grant stay as they were rather than being refused.
    let kept = |key: &str| grantable(key) || current.may(key);
    let valid = validate(form, &kept).map_err(ContactError::Invalid)?;
    if valid.login_enabled
        && let Some(message) = check_sign_in_address(&state.db, valid.email.as_str(), Some(id)).await?
    {
        let mut errors = FormErrors::new();
        errors.add("email", message);
        return Err(ContactError::Invalid(errors));
    }
    let address_changed = valid.email.as_str() != current.email;
    let forget_credentials =
        address_changed && (current.password_hash.is_some() || current.totp_secret.is_some() || current.login_enabled);
    let access_changed =
        current.login_enabled && (!valid.login_enabled || address_changed || valid.permissions != current.permissions);
    let newly_invited =
        valid.login_enabled && ((current.password_hash.is_none() && !current.login_enabled) || forget_credentials);
    let txn = state.db.begin().await?;
    let mut active: contact::ActiveModel = current.clone().into();
    active.first_name = Set(valid.first_name);
    active.last_name = Set(valid.last_name);
    active.email = Set(valid.email.as_str().to_owned());
    active.phone = Set(valid.phone);
    active.receives_billing = Set(valid.receives_billing);
    active.receives_technical = Set(valid.receives_technical);
    active.receives_general = Set(valid.receives_general);
    active.login_enabled = Set(valid.login_enabled);
    active.permissions = Set(valid.permissions);
    active.updated_at = Set(Utc::now());
    if forget_credentials {
        active.password_hash = Set(None);
        active.totp_secret = Set(None);
        active.totp_enabled_at = Set(None);
        active.totp_last_step = Set(None);
    }
    let updated = match active.update(&txn).await {
        Ok(updated) => updated,
        Err(err) if is_unique_violation(&err) => {
            let mut errors = FormErrors::new();
            errors.add("email", "Another sub-user signs in with this address.");
            return Err(ContactError::Invalid(errors));
        }
        Err(err) => return Err(err.into()),
    };
    if access_changed || forget_credentials {
        session::delete_all_for(&txn, PrincipalKind::Contact, id.0, None).await?;
    }
    if forget_credentials {
        tokens::revoke_all(&txn, Purpose::PasswordReset, PrincipalKind::Contact, id.0).await?;
        crate::auth::recovery::remove_all(&txn, PrincipalKind::Contact, id.0).await?;
    }
    if newly_invited {
        invite(state, &txn, owner, &updated).await?;
    }
    audit::record(
        &txn,
        actor,
        "client.contact_updated",
        Some(("client", owner.id.0)),
        format!(
            "Updated contact {}{}",
            updated.email,
            if forget_credentials {
                "; the address changed, so their password and 2FA were cleared and the new address invited"
            } else if access_changed {
                "; their sessions were ended"
            } else {
                ""
            }
        ),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

/// Removes a contact; a sub-user's sessions and links end with it.
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    owner: &client::Model,
    id: ContactId,
    grantable: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(), ContactError> {
    let current = find(&state.db, owner.id, id).await?.ok_or(ContactError::NotFound)?;
    ensure_may_manage(&current, grantable)?;
    let txn = state.db.begin().await?;
    session::delete_all_for(&txn, PrincipalKind::Contact, id.0, None).await?;
    tokens::revoke_all(&txn, Purpose::PasswordReset, PrincipalKind::Contact, id.0).await?;
    crate::auth::recovery::remove_all(&txn, PrincipalKind::Contact, id.0).await?;
    contact::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "client.contact_removed",
        Some(("client", owner.id.0)),
        format!("Removed contact {}", current.email),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Emails a new sub-user a link to choose their password (it also proves the address).
async fn invite(
    state: &AppState,
    txn: &impl ConnectionTrait,
    owner: &client::Model,
    c: &contact::Model,
) -> Result<(), ContactError> {
    tokens::revoke_all(txn, Purpose::PasswordReset, PrincipalKind::Contact, c.id.0).await?;
    let token = tokens::issue(
        txn,
        Purpose::PasswordReset,
        Some((PrincipalKind::Contact, c.id.0)),
        Some(Duration::days(INVITE_DAYS)),
    )
    .await?;
    let link = state.settings.url(&format!("/password/reset/{token}"));
    let invite = ContactInviteEmail {
        days: INVITE_DAYS,
        account: if owner.company_name.is_empty() { owner.full_name() } else { owner.company_name.clone() },
        first_name: c.first_name.clone(),
    };
    let email = Email::from_view_with_link(state, &c.email, &c.full_name(), &link, &invite)?.for_client(owner.id);
    outbox::enqueue(txn, email).await?;
    Ok(())
}
