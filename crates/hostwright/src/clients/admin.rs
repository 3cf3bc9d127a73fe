//! What staff do with client records: search, create, edit, notes, groups, GDPR export and
//! anonymisation. Each change is one transaction with its audit record.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, Condition, DbErr, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::{Value, json};

use super::fields::{self, Audience};
use super::model::{client, field, group, note};
use super::service::search_text;
use super::store::{self, ACTIVE, CLOSED};
use super::views::ClientWelcomeEmail;
use super::{countries, service::ClientError};
use crate::audit::{self, Actor};
use crate::auth::tokens::{self, Purpose};
use crate::auth::{PrincipalKind, recovery, session};
use crate::ids::{ClientGroupId, ClientId};
use crate::mail::{Email, outbox};
use crate::state::AppState;
use crate::web::FormErrors;
use crate::web::forms::{EmailAddress, optional_text, required_text};

pub const INACTIVE: &str = "inactive";
pub const STATUSES: [&str; 3] = [ACTIVE, INACTIVE, CLOSED];
pub const PER_PAGE: u64 = 50;

/// How the list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Newest,
    Oldest,
    Name,
    Company,
}

impl Sort {
    pub fn parse(text: &str) -> Sort {
        match text {
            "oldest" => Sort::Oldest,
            "name" => Sort::Name,
            "company" => Sort::Company,
            _ => Sort::Newest,
        }
    }
}

/// The admin list's filters.
#[derive(Debug, Clone)]
pub struct ClientQuery {
    pub search: String,
    pub status: Option<String>,
    pub group: Option<ClientGroupId>,
    pub sort: Sort,
    pub page: u64,
}

/// One page of clients and the number of matches.
pub async fn search(db: &impl ConnectionTrait, query: &ClientQuery) -> Result<(Vec<client::Model>, u64), DbErr> {
    let mut condition = Condition::all();
    let term = query.search.trim().to_lowercase();
    if !term.is_empty() {
        // "#123" or "123" finds the client number too.
        let id = term.trim_start_matches('#').parse::<i64>().ok();
        let mut any = Condition::any().add(client::Column::SearchText.contains(&term));
        if let Some(id) = id {
            any = any.add(client::Column::Id.eq(ClientId(id)));
        }
        condition = condition.add(any);
    }
    if let Some(status) = &query.status {
        condition = condition.add(client::Column::Status.eq(status.as_str()));
    }
    if let Some(group) = query.group {
        condition = condition.add(client::Column::GroupId.eq(group));
    }
    let base = client::Entity::find().filter(condition);
    let total = base.clone().count(db).await?;
    let ordered = match query.sort {
        Sort::Newest => base.order_by_desc(client::Column::Id),
        Sort::Oldest => base.order_by_asc(client::Column::Id),
        Sort::Name => base
            .order_by_asc(client::Column::LastName)
            .order_by_asc(client::Column::FirstName)
            .order_by_asc(client::Column::Id),
        Sort::Company => base.order_by_asc(client::Column::CompanyName).order_by_asc(client::Column::Id),
    };
    let rows = ordered.offset(crate::web::forms::page_offset(query.page, PER_PAGE)).limit(PER_PAGE).all(db).await?;
    Ok((rows, total))
}

/// Contact and billing details, as staff enter them.
#[derive(Debug, Clone, Default)]
pub struct Details {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: String,
    pub phone: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub region: String,
    pub postcode: String,
    pub country: String,
    pub tax_id: String,
    pub currency_code: String,
    pub language: String,
    pub payment_method: String,
    pub group_id: String,
    pub status: String,
    pub tax_exempt: bool,
    /// The custom fields as sent, by input name (`fields::input_name`).
    pub custom: BTreeMap<String, String>,
}

/// How a client may prefer to pay; payment gateways add theirs.
pub const PAYMENT_METHODS: [(&str, &str); 3] =
    [("", "No preference"), ("bank_transfer", "Bank transfer"), ("account_credit", "Account credit")];

/// Details that passed validation.
pub struct ValidDetails {
    pub first_name: String,
    pub last_name: String,
    pub company_name: String,
    pub email: EmailAddress,
    pub phone: String,
    pub address1: String,
    pub address2: String,
    pub city: String,
    pub region: String,
    pub postcode: String,
    pub country: String,
    pub tax_id: String,
    pub currency_code: String,
    pub language: String,
    pub payment_method: String,
    pub group_id: Option<ClientGroupId>,
    pub status: String,
    pub tax_exempt: bool,
    /// A value for every custom field the form showed (empty = not set).
    pub custom: fields::Values,
}

impl Details {
    /// Checks every field; on failure the form shows each message next to its field.
    pub fn validate(&self) -> Result<ValidDetails, FormErrors> {
        self.validate_with(&[], &fields::Values::new())
    }

    /// Checks every field including the custom `custom_fields` (staff see them all);
    /// `stored` holds the client's current values (none for a new client).
    pub fn validate_with(
        &self,
        custom_fields: &[field::Model],
        stored: &fields::Values,
    ) -> Result<ValidDetails, FormErrors> {
        let mut errors = FormErrors::new();
        let first_name = required_text(&mut errors, "first_name", &self.first_name, "a first name", 100);
        let last_name = required_text(&mut errors, "last_name", &self.last_name, "a last name", 100);
        let company_name = optional_text(&mut errors, "company_name", &self.company_name, 150);
        let email = EmailAddress::parse(&self.email).map_err(|m| errors.add("email", m)).ok();
        let phone = optional_text(&mut errors, "phone", &self.phone, 40);
        if !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            errors.add("phone", "Use digits, spaces and + - ( ) only.");
        }
        let address1 = optional_text(&mut errors, "address1", &self.address1, 200);
        let address2 = optional_text(&mut errors, "address2", &self.address2, 200);
        let city = optional_text(&mut errors, "city", &self.city, 100);
        let region = optional_text(&mut errors, "region", &self.region, 100);
        let postcode = optional_text(&mut errors, "postcode", &self.postcode, 20);
        let country = match self.country.trim() {
            "" => String::new(),
            code => countries::parse(code).map(str::to_owned).unwrap_or_else(|| {
                errors.add("country", "Choose a country from the list.");
                String::new()
            }),
        };
        let tax_id = optional_text(&mut errors, "tax_id", &self.tax_id, 40).to_uppercase();
        let currency_code = self.currency_code.trim().to_uppercase();
        let currency_ok = currency_code.is_empty()
            || (currency_code.len() == 3 && currency_code.chars().all(|c| c.is_ascii_uppercase()));
        if !currency_ok {
            errors.add("currency_code", "Use a three-letter ISO currency code such as EUR or USD.");
        }
        let language = match self.language.trim() {
            "" => "en".to_owned(),
            code if code.len() == 2 && code.chars().all(|c| c.is_ascii_lowercase()) => code.to_owned(),
            _ => {
                errors.add("language", "Use a two-letter language code such as en or de.");
                String::new()
            }
        };
        let payment_method = match PAYMENT_METHODS.iter().find(|(key, _)| *key == self.payment_method.trim()) {
            Some((key, _)) => (*key).to_owned(),
            None => {
                errors.add("payment_method", "Choose a payment method from the list.");
                String::new()
            }
        };
        let group_id = match self.group_id.trim() {
            "" => None,
            text => text.parse::<ClientGroupId>().map_err(|_| errors.add("group_id", "Choose a group.")).ok(),
        };
        let status = match self.status.trim() {
            "" => ACTIVE.to_owned(),
            s if STATUSES.contains(&s) => s.to_owned(),
            _ => {
                errors.add("status", "Choose a status.");
                String::new()
            }
        };
        let custom = fields::validate(custom_fields, Audience::Staff, &self.custom, stored, &mut errors);
        match (errors.is_empty(), email) {
            (true, Some(email)) => Ok(ValidDetails {
                first_name,
                last_name,
                company_name,
                email,
                phone,
                address1,
                address2,
                city,
                region,
                postcode,
                country,
                tax_id,
                currency_code,
                language,
                payment_method,
                group_id,
                status,
                tax_exempt: self.tax_exempt,
                custom,
            }),
            _ => Err(errors),
        }
    }
}

fn apply(active: &mut client::ActiveModel, d: &ValidDetails) {
    active.first_name = Set(d.first_name.clone());
    active.last_name = Set(d.last_name.clone());
    active.company_name = Set(d.company_name.clone());
    active.email = Set(d.email.as_str().to_owned());
    active.phone = Set(d.phone.clone());
    active.address1 = Set(d.address1.clone());
    active.address2 = Set(d.address2.clone());
    active.city = Set(d.city.clone());
    active.region = Set(d.region.clone());
    active.postcode = Set(d.postcode.clone());
    active.country = Set(d.country.clone());
    active.tax_id = Set(d.tax_id.clone());
    active.currency_code = Set(d.currency_code.clone());
    active.language = Set(d.language.clone());
    active.payment_method = Set(d.payment_method.clone());
    active.group_id = Set(d.group_id);
    active.status = Set(d.status.clone());
    active.tax_exempt = Set(d.tax_exempt);
    active.search_text = Set(search_text(&d.first_name, &d.last_name, &d.company_name, d.email.as_str(), &d.phone));
    active.updated_at = Set(Utc::now());
}

async fn check_group(db: &impl ConnectionTrait, id: Option<ClientGroupId>) -> Result<(), ClientError> {
    if let Some(id) = id
        && group::Entity::find_by_id(id).one(db).await?.is_none()
    {
        return Err(ClientError::Internal(anyhow::anyhow!("client group {id} does not exist")));
    }
    Ok(())
}

/// Staff open an account for a client; with `invite`, the client gets a link to choose a
/// password (the same one-time link as a password reset, valid for three days).
pub async fn create(
    state: &AppState,
    actor: &Actor,
    details: ValidDetails,
    invite: bool,
) -> Result<client::Model, ClientError> {
    check_group(&state.db, details.group_id).await?;
    if super::contacts::is_sub_user_address(&state.db, details.email.as_str()).await? {
        return Err(ClientError::EmailTaken);
    }
    let txn = state.db.begin().await?;
    let now = Utc::now();
    let mut active = client::ActiveModel {
        password_hash: Set(None),
        email_verified_at: Set(None),
        totp_secret: Set(None),
        totp_enabled_at: Set(None),
        totp_last_step: Set(None),
        last_login_at: Set(None),
        anonymised_at: Set(None),
        created_at: Set(now),
        ..Default::default()
    };
    apply(&mut active, &details);
    let created = active.insert(&txn).await?;
    fields::save_values(&txn, created.id, &fields::list(&txn).await?, &details.custom).await?;
    if invite {
        let token = tokens::issue(
            &txn,
            Purpose::PasswordReset,
            Some((PrincipalKind::Client, created.id.0)),
            Some(Duration::days(3)),
        )
        .await?;
        let link = state.settings.url(&format!("/password/reset/{token}"));
        let welcome = ClientWelcomeEmail { first_name: created.first_name.clone() };
        let email = Email::from_view_with_link(state, &created.email, &created.full_name(), &link, &welcome)?
            .for_client(created.id);
        outbox::enqueue(&txn, email).await?;
    }
    audit::record(
        &txn,
        actor,
        "client.created",
        Some(("client", created.id.0)),
        format!(
            "Opened the account of {} <{}>{}",
            created.full_name(),
            created.email,
            if invite { " and sent a welcome link" } else { "" }
        ),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(created)
}

/// Saves staff changes to a client's details, recording which fields changed.
pub async fn update(state: &AppState, actor: &Actor, id: ClientId, details: ValidDetails) -> Result<(), ClientError> {
    check_group(&state.db, details.group_id).await?;
    let txn = state.db.begin().await?;
    let current = store::find(&txn, id).await?.ok_or(ClientError::InvalidLink)?;
    if current.anonymised_at.is_some() {
        return Err(ClientError::Anonymised);
    }
    if current.email != details.email.as_str()
        && super::contacts::is_sub_user_address(&txn, details.email.as_str()).await?
    {
        return Err(ClientError::EmailTaken);
    }
    let mut active: client::ActiveModel = current.clone().into();
    apply(&mut active, &details);
    let updated = active.update(&txn).await?;
    let mut changed: Vec<String> = changed_fields(&current, &updated).into_iter().map(str::to_owned).collect();
    changed.extend(fields::save_values(&txn, id, &fields::list(&txn).await?, &details.custom).await?);
    if updated.email != current.email {
        // A new address is unverified until the client confirms it.
        let update = Query::update()
            .table(client::Entity)
            .value(client::Column::EmailVerifiedAt, Option::<chrono::DateTime<Utc>>::None)
            .and_where(Expr::col(client::Column::Id).eq(id))
            .to_owned();
        txn.execute(&update).await?;
    }
    if updated.status == CLOSED && current.status != CLOSED {
        session::delete_all_for(&txn, PrincipalKind::Client, id.0, None).await?;
    }
    if !changed.is_empty() {
        audit::record(&txn, actor, "client.updated", Some(("client", id.0)), format!("Changed {}", changed.join(", ")))
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

fn changed_fields(before: &client::Model, after: &client::Model) -> Vec<&'static str> {
    let pairs: [(&'static str, bool); 17] = [
        ("first name", before.first_name != after.first_name),
        ("last name", before.last_name != after.last_name),
        ("company", before.company_name != after.company_name),
        ("email", before.email != after.email),
        ("phone", before.phone != after.phone),
        ("address", before.address1 != after.address1 || before.address2 != after.address2),
        ("city", before.city != after.city),
        ("region", before.region != after.region),
        ("postcode", before.postcode != after.postcode),
        ("country", before.country != after.country),
        ("tax id", before.tax_id != after.tax_id),
        ("currency", before.currency_code != after.currency_code),
        ("language", before.language != after.language),
        ("payment method", before.payment_method != after.payment_method),
        ("group", before.group_id != after.group_id),
        ("status", before.status != after.status),
        ("tax exemption", before.tax_exempt != after.tax_exempt),
    ];
    pairs.into_iter().filter(|(_, changed)| *changed).map(|(name, _)| name).collect()
}

pub async fn add_note(
    state: &AppState,
    actor: &Actor,
    id: ClientId,
    body: &str,
    pinned: bool,
) -> Result<(), ClientError> {
    let txn = state.db.begin().await?;
    let client = store::find(&txn, id).await?.ok_or(ClientError::InvalidLink)?;
    if client.anonymised_at.is_some() {
        return Err(ClientError::Anonymised);
    }
    note::ActiveModel {
        client_id: Set(id),
        staff_id: Set(actor.id),
        staff_name: Set(actor.label.clone()),
        body: Set(body.to_owned()),
        pinned: Set(pinned),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(&txn, actor, "client.note_added", Some(("client", id.0)), "Added a note").await?;
    txn.commit().await?;
    Ok(())
}

pub async fn notes(db: &impl ConnectionTrait, id: ClientId) -> Result<Vec<note::Model>, DbErr> {
    note::Entity::find()
        .filter(note::Column::ClientId.eq(id))
        .order_by_desc(note::Column::Pinned)
        .order_by_desc(note::Column::Id)
        .all(db)
        .await
}

pub async fn groups(db: &impl ConnectionTrait) -> Result<Vec<group::Model>, DbErr> {
    group::Entity::find().order_by_asc(group::Column::Name).all(db).await
}

/// Creates a client group; the discount is a percentage between 0 and 100.
pub async fn create_group(
    state: &AppState,
    actor: &Actor,
    name: &str,
    discount_percent: &str,
    exempt_from_fees: bool,
) -> Result<group::Model, FormErrors> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", name, "a name", 100);
    let discount = discount_percent.trim();
    let discount = if discount.is_empty() { "0" } else { discount };
    if !is_percentage(discount) {
        errors.add("discount_percent", "Enter a percentage between 0 and 100, e.g. 10 or 12.5.");
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let result = async {
        let txn = state.db.begin().await?;
        let now = Utc::now();
        let created = group::ActiveModel {
            name: Set(name.clone()),
            discount_percent: Set(discount.to_owned()),
            exempt_from_fees: Set(exempt_from_fees),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        audit::record(
            &txn,
            actor,
            "client_group.created",
            Some(("client_group", created.id.0)),
            format!("Created the client group {name} ({discount}% discount)"),
        )
        .await?;
        txn.commit().await?;
        Ok::<_, DbErr>(created)
    }
    .await;
    result.map_err(|err| {
        if crate::web::forms::is_unique_violation(&err) {
            let mut errors = FormErrors::new();
            errors.add("name", "A group with this name already exists.");
            errors
        } else {
            tracing::error!(error = %err, "creating a client group failed");
            FormErrors::form("The group could not be saved. Please try again.")
        }
    })
}

/// What the clients domain stores about a client, for a GDPR access request (the whole
/// export, with invoices and credit, is `overviews::client_export`).
pub async fn export(db: &impl ConnectionTrait, id: ClientId) -> Result<Option<Value>, DbErr> {
    let Some(c) = store::find(db, id).await? else {
        return Ok(None);
    };
    let sessions = session::list_all_for(db, PrincipalKind::Client, id.0).await?;
    let emails =
        outbox::Entity::find().filter(outbox::Column::ClientId.eq(id)).order_by_asc(outbox::Column::Id).all(db).await?;
    let activity = audit::Entity::find()
        .filter(
            Condition::any()
                .add(Condition::all().add(audit::Column::EntityType.eq("client")).add(audit::Column::EntityId.eq(id.0)))
                .add(Condition::all().add(audit::Column::ActorKind.eq("client")).add(audit::Column::ActorId.eq(id.0))),
        )
        .order_by_asc(audit::Column::Id)
        .all(db)
        .await?;
    let notes = notes(db, id).await?;
    let contacts = super::contacts::list(db, id).await?;
    // Staff-only fields too: an access request covers everything stored about the person.
    let custom_values = fields::values_of(db, id).await?;
    let custom_fields: Vec<Value> = fields::list(db)
        .await?
        .into_iter()
        .filter_map(|f| {
            let value = custom_values.get(&f.id)?;
            let visible_to_client = f.visibility == fields::Visibility::Registration.key();
            Some(json!({ "field": f.name, "visible_to_client": visible_to_client, "value": value }))
        })
        .collect();
    Ok(Some(json!({
        "exported_at": Utc::now().to_rfc3339(),
        "client": {
            "id": c.id, "email": c.email, "email_verified_at": c.email_verified_at,
            "first_name": c.first_name, "last_name": c.last_name, "company_name": c.company_name,
            "phone": c.phone, "address1": c.address1, "address2": c.address2, "city": c.city,
            "region": c.region, "postcode": c.postcode, "country": c.country, "tax_id": c.tax_id,
            "currency": c.currency_code, "language": c.language, "status": c.status,
            "two_factor_enabled": c.totp_enabled_at.is_some(),
            "created_at": c.created_at, "last_login_at": c.last_login_at,
        },
        "custom_fields": custom_fields,
        "sessions": sessions.iter().map(|s| json!({
            "ip": s.ip, "user_agent": s.user_agent, "created_at": s.created_at, "last_seen_at": s.last_seen_at,
        })).collect::<Vec<_>>(),
        "emails": emails.iter().map(|e| json!({
            "to": e.to_address, "subject": e.subject, "status": e.status, "created_at": e.created_at,
            "sent_at": e.sent_at, "body": e.readable_text(),
        })).collect::<Vec<_>>(),
        "notes": notes.iter().map(|n| json!({ "by": n.staff_name, "at": n.created_at, "text": n.body })).collect::<Vec<_>>(),
        "contacts": contacts.iter().map(|c| json!({
            "first_name": c.first_name, "last_name": c.last_name, "email": c.email, "phone": c.phone,
            "receives_billing": c.receives_billing, "receives_technical": c.receives_technical,
            "receives_general": c.receives_general, "sub_user": c.login_enabled, "permissions": c.permissions,
            "last_login_at": c.last_login_at,
        })).collect::<Vec<_>>(),
        "activity": activity.iter().map(|a| json!({
            "at": a.occurred_at, "action": a.action, "summary": a.summary, "ip": a.ip,
        })).collect::<Vec<_>>(),
    })))
}

/// Closes the account and replaces personal data, keeping the record (and, once they
/// exist, its invoices) for legal retention. Cannot be undone.
pub async fn anonymise(state: &AppState, actor: &Actor, id: ClientId) -> Result<(), ClientError> {
    let txn = state.db.begin().await?;
    let current = store::find(&txn, id).await?.ok_or(ClientError::InvalidLink)?;
    if current.anonymised_at.is_some() {
        return Err(ClientError::Anonymised);
    }
    let now = Utc::now();
    let placeholder_email = format!("anonymised-{}@invalid", id.0);
    let mut active: client::ActiveModel = current.clone().into();
    active.first_name = Set("Anonymised".into());
    active.last_name = Set(format!("client #{}", id.0));
    active.company_name = Set(String::new());
    active.email = Set(placeholder_email.clone());
    active.phone = Set(String::new());
    active.address1 = Set(String::new());
    active.address2 = Set(String::new());
    active.city = Set(String::new());
    active.region = Set(String::new());
    active.postcode = Set(String::new());
    active.tax_id = Set(String::new());
    active.password_hash = Set(None);
    active.totp_secret = Set(None);
    active.totp_enabled_at = Set(None);
    active.totp_last_step = Set(None);
    active.status = Set(CLOSED.into());
    active.search_text = Set(format!("anonymised client #{}", id.0));
    active.anonymised_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    session::delete_all_for(&txn, PrincipalKind::Client, id.0, None).await?;
    recovery::remove_all(&txn, PrincipalKind::Client, id.0).await?;
    tokens::revoke_all(&txn, Purpose::PasswordReset, PrincipalKind::Client, id.0).await?;
    tokens::revoke_all(&txn, Purpose::VerifyEmail, PrincipalKind::Client, id.0).await?;
    note::Entity::delete_many().filter(note::Column::ClientId.eq(id)).exec(&txn).await?;
    fields::delete_values_of(&txn, id).await?;
    // Contacts are people too: their details, sign-ins and links go with the account's.
    for c in super::contacts::list(&txn, id).await? {
        session::delete_all_for(&txn, PrincipalKind::Contact, c.id.0, None).await?;
        recovery::remove_all(&txn, PrincipalKind::Contact, c.id.0).await?;
        tokens::revoke_all(&txn, Purpose::PasswordReset, PrincipalKind::Contact, c.id.0).await?;
    }
    super::model::contact::Entity::delete_many()
        .filter(super::model::contact::Column::ClientId.eq(id))
        .exec(&txn)
        .await?;
    let redact_email = Query::update()
        .table(outbox::Entity)
        .value(outbox::Column::ToAddress, placeholder_email.clone())
        .value(outbox::Column::ToName, "")
        .value(outbox::Column::BodyText, "[removed: client anonymised]")
        .value(outbox::Column::BodyHtml, "")
        .and_where(Expr::col(outbox::Column::ClientId).eq(id))
        .to_owned();
    txn.execute(&redact_email).await?;
    // The audit log is append-only except for this: the erased person's name and address
    // leave it too, while what happened and when stays.
    let redact_audit = Query::update()
        .table(audit::Entity)
        .value(audit::Column::ActorLabel, format!("anonymised client #{}", id.0))
        .value(audit::Column::Ip, "")
        .and_where(Expr::col(audit::Column::ActorLabel).eq(current.email.clone()))
        .to_owned();
    txn.execute(&redact_audit).await?;
    scrub_audit_summaries(&txn, id, &current).await?;
    audit::record(
        &txn,
        actor,
        "client.anonymised",
        Some(("client", id.0)),
        "Closed the account and erased personal data",
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Replaces the erased person's name and email in the summaries of the audit entries about
/// them or written by them.
async fn scrub_audit_summaries(db: &impl ConnectionTrait, id: ClientId, erased: &client::Model) -> Result<(), DbErr> {
    let placeholder = format!("anonymised client #{}", id.0);
    let entries = audit::Entity::find()
        .filter(
            Condition::any()
                .add(Condition::all().add(audit::Column::EntityType.eq("client")).add(audit::Column::EntityId.eq(id.0)))
                .add(Condition::all().add(audit::Column::ActorKind.eq("client")).add(audit::Column::ActorId.eq(id.0)))
                .add(audit::Column::Summary.contains(&erased.email)),
        )
        .all(db)
        .await?;
    let full_name = erased.full_name();
    let personal: Vec<&str> = [erased.email.as_str(), full_name.as_str(), erased.company_name.as_str()]
        .into_iter()
        .filter(|s| s.chars().count() >= 3)
        .collect();
    for entry in entries {
        let scrubbed = personal.iter().fold(entry.summary.clone(), |text, value| text.replace(value, &placeholder));
        if scrubbed != entry.summary {
            let update = Query::update()
                .table(audit::Entity)
                .value(audit::Column::Summary, scrubbed)
                .and_where(Expr::col(audit::Column::Id).eq(entry.id))
                .to_owned();
            db.execute(&update).await?;
        }
    }
    Ok(())
}

/// The emails sent to a client, newest first.
pub async fn email_log(db: &impl ConnectionTrait, id: ClientId) -> Result<Vec<outbox::Model>, DbErr> {
    outbox::Entity::find()
        .filter(outbox::Column::ClientId.eq(id))
        .order_by_desc(outbox::Column::Id)
        .limit(100)
        .all(db)
        .await
}

/// A percentage from 0 to 100 with at most two decimals ("10", "12.5").
fn is_percentage(text: &str) -> bool {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    !whole.is_empty()
        && whole.len() <= 3
        && digits(whole)
        && fraction.len() <= 2
        && digits(fraction)
        && (whole.parse::<u32>().is_ok_and(|w| w < 100) || (whole == "100" && fraction.chars().all(|c| c == '0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_discounts_are_percentages_up_to_one_hundred() {
        for good in ["0", "10", "12.5", "99.99", "100", "100.00"] {
            assert!(is_percentage(good), "{good}");
        }
        for bad in ["", "-5", "100.5", "101", "1e2", "12.345", "abc", ".5"] {
            assert!(!is_percentage(bad), "{bad}");
        }
    }

    #[test]
    fn client_details_are_checked_field_by_field() {
        let details = Details {
            first_name: "Ada".into(),
            last_name: "".into(),
            email: "ada@".into(),
            country: "XX".into(),
            currency_code: "euro".into(),
            phone: "call me".into(),
            ..Details::default()
        };
        let errors = details.validate().err().unwrap_or_default();
        for field in ["last_name", "email", "country", "currency_code", "phone"] {
            assert!(errors.has(field), "{field} should be refused");
        }
        let ok =
            Details { last_name: "Lovelace".into(), email: "ada@example.com".into(), country: "gb".into(), ..details };
        let ok = Details { currency_code: "gbp".into(), phone: "+44 20 7946 0000".into(), ..ok };
        let valid = ok.validate().map_err(|_| ()).unwrap_or_else(|_| panic!("valid details refused"));
        assert_eq!((valid.country.as_str(), valid.currency_code.as_str()), ("GB", "GBP"));
    }
}
