//! Custom client fields (decision 0010): staff define text, dropdown and checkbox fields;
//! "registration" fields are asked at sign-up and the client sees and edits them on their
//! profile, "admin" fields are for staff only. Each client's values live in
//! `client_field_values`, one row per value that is set.

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, DbErr, QueryOrder, QuerySelect, TransactionTrait};

use super::model::{field, field_value};
use crate::audit::{self, Actor};
use crate::ids::{ClientFieldId, ClientId};
use crate::state::AppState;
use crate::web::forms::{is_unique_violation, optional_text, required_text};
use crate::web::{AppError, FormErrors};

/// The longest text value a client or staff may enter.
pub const TEXT_MAX: usize = 500;
/// What a ticked checkbox stores (an unticked one stores nothing).
pub const CHECKED: &str = "yes";
/// How many choices a dropdown may have, and how long each may be.
const MAX_CHOICES: usize = 100;
const CHOICE_MAX: usize = 100;

/// What kind of input a field is; chosen at creation and never changed, so stored values
/// always fit their field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Dropdown,
    Checkbox,
}

impl FieldType {
    pub const ALL: [FieldType; 3] = [Self::Text, Self::Dropdown, Self::Checkbox];

    pub fn key(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Dropdown => "dropdown",
            Self::Checkbox => "checkbox",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Text => "Text",
            Self::Dropdown => "Dropdown",
            Self::Checkbox => "Checkbox",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.key() == key)
    }

    /// Every type as [key, label], for a select.
    pub fn options() -> Vec<(&'static str, &'static str)> {
        Self::ALL.iter().map(|t| (t.key(), t.label())).collect()
    }
}

/// Who sees a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Asked at registration; the client sees and edits it on their profile.
    Registration,
    /// Staff only; never shown to the client (it is in their data export).
    Admin,
}

impl Visibility {
    pub const ALL: [Visibility; 2] = [Self::Registration, Self::Admin];

    pub fn key(self) -> &'static str {
        match self {
            Self::Registration => "registration",
            Self::Admin => "admin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Registration => "Registration and client profile",
            Self::Admin => "Staff only",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.key() == key)
    }

    /// Every visibility as [key, label], for a select.
    pub fn options() -> Vec<(&'static str, &'static str)> {
        Self::ALL.iter().map(|v| (v.key(), v.label())).collect()
    }
}

/// Which form the values come from; decides which fields are in it and how "required"
/// applies to a checkbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A visitor signing up: registration fields; a required checkbox must be ticked.
    Registration,
    /// A client editing their profile: registration fields.
    Client,
    /// Staff: every field.
    Staff,
}

impl Audience {
    pub fn sees(self, f: &field::Model) -> bool {
        self == Audience::Staff || f.visibility == Visibility::Registration.key()
    }

    /// Whether `f` must be filled in on this form. A required checkbox means "must be
    /// ticked" at registration only (terms, consent): later, an unticked box is a fact to
    /// record, not a form error.
    pub fn requires(self, f: &field::Model) -> bool {
        f.required && (f.field_type != FieldType::Checkbox.key() || self == Audience::Registration)
    }
}

/// A client's values by field; an empty string means "not set".
pub type Values = BTreeMap<ClientFieldId, String>;

/// The form input name of a field.
pub fn input_name(id: ClientFieldId) -> String {
    format!("cf_{id}")
}

/// Every field, in the order forms show them.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<field::Model>, DbErr> {
    field::Entity::find().order_by_asc(field::Column::SortOrder).order_by_asc(field::Column::Id).all(db).await
}

/// The fields a form for `audience` shows, in order.
pub async fn for_audience(db: &impl ConnectionTrait, audience: Audience) -> Result<Vec<field::Model>, DbErr> {
    Ok(list(db).await?.into_iter().filter(|f| audience.sees(f)).collect())
}

pub async fn find(db: &impl ConnectionTrait, id: ClientFieldId) -> Result<Option<field::Model>, DbErr> {
    field::Entity::find_by_id(id).one(db).await
}

/// The values a client has.
pub async fn values_of(db: &impl ConnectionTrait, client: ClientId) -> Result<Values, DbErr> {
    Ok(field_value::Entity::find()
        .filter(field_value::Column::ClientId.eq(client))
        .all(db)
        .await?
        .into_iter()
        .map(|v| (v.field_id, v.value))
        .collect())
}

/// What the form sent for each field `audience` sees, trimmed, unchecked: to show again
/// when the form comes back with errors.
pub fn typed(fields: &[field::Model], audience: Audience, form: &BTreeMap<String, String>) -> Values {
    fields
        .iter()
        .filter(|f| audience.sees(f))
        .map(|f| {
            let sent = form.get(&input_name(f.id)).map(|v| v.trim()).unwrap_or_default();
            let value = if f.field_type == FieldType::Checkbox.key() {
                if sent.is_empty() { "" } else { CHECKED }
            } else {
                sent
            };
            (f.id, value.to_owned())
        })
        .collect()
}

/// Checks the values sent for every field `audience` sees; errors are keyed by input name.
/// The result holds every such field (empty = not set). A dropdown accepts one of its
/// choices, or the client's `stored` value when a choice it held was since removed.
pub fn validate(
    fields: &[field::Model],
    audience: Audience,
    form: &BTreeMap<String, String>,
    stored: &Values,
    errors: &mut FormErrors,
) -> Values {
    let mut valid = Values::new();
    let sent = typed(fields, audience, form);
    for f in fields.iter().filter(|f| audience.sees(f)) {
        let name = input_name(f.id);
        let value = sent.get(&f.id).cloned().unwrap_or_default();
        let required = audience.requires(f);
        let value = match FieldType::parse(&f.field_type) {
            Some(FieldType::Text) => {
                let value = optional_text(errors, &name, &value, TEXT_MAX);
                if required && value.is_empty() {
                    errors.add(&name, format!("Fill in “{}”.", f.name));
                }
                value
            }
            Some(FieldType::Dropdown) => {
                if value.is_empty() {
                    if required {
                        errors.add(&name, format!("Choose an option for “{}”.", f.name));
                    }
                    value
                } else if f.choices().contains(&value.as_str()) || stored.get(&f.id) == Some(&value) {
                    value
                } else {
                    errors.add(&name, "Choose an option from the list.");
                    String::new()
                }
            }
            Some(FieldType::Checkbox) => {
                if required && value.is_empty() {
                    errors.add(&name, format!("Tick “{}” to continue.", f.name));
                }
                value
            }
            // A type this version does not know: keep what is stored.
            None => stored.get(&f.id).cloned().unwrap_or_default(),
        };
        valid.insert(f.id, value);
    }
    valid
}

/// Saves `values` (from `validate`) for a client inside the caller's transaction; an empty
/// value removes the row. Fields not in `values` are left alone. Returns the names of the
/// fields that changed, for the audit record.
pub async fn save_values(
    db: &impl ConnectionTrait,
    client: ClientId,
    fields: &[field::Model],
    values: &Values,
) -> Result<Vec<String>, DbErr> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    let stored = values_of(db, client).await?;
    let now = Utc::now();
    let mut changed = Vec::new();
    for f in fields {
        let Some(new) = values.get(&f.id) else { continue };
        let old = stored.get(&f.id);
        if old.map(String::as_str).unwrap_or_default() == new.as_str() {
            continue;
        }
        match (old, new.is_empty()) {
            (Some(_), true) => {
                field_value::Entity::delete_by_id((client, f.id)).exec(db).await?;
            }
            (Some(_), false) => {
                field_value::ActiveModel {
                    client_id: Set(client),
                    field_id: Set(f.id),
                    value: Set(new.clone()),
                    updated_at: Set(now),
                }
                .update(db)
                .await?;
            }
            (None, _) => {
                field_value::ActiveModel {
                    client_id: Set(client),
                    field_id: Set(f.id),
                    value: Set(new.clone()),
                    updated_at: Set(now),
                }
                .insert(db)
                .await?;
            }
        }
        changed.push(f.name.clone());
    }
    Ok(changed)
}

/// Removes every value of a client (anonymisation).
pub async fn delete_values_of(db: &impl ConnectionTrait, client: ClientId) -> Result<u64, DbErr> {
    Ok(field_value::Entity::delete_many()
        .filter(field_value::Column::ClientId.eq(client))
        .exec(db)
        .await?
        .rows_affected)
}

/// How many clients have a value, per field.
pub async fn value_counts(db: &impl ConnectionTrait) -> Result<BTreeMap<ClientFieldId, u64>, DbErr> {
    let mut counts = BTreeMap::new();
    let ids: Vec<ClientFieldId> =
        field_value::Entity::find().select_only().column(field_value::Column::FieldId).into_tuple().all(db).await?;
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    Ok(counts)
}

// --- defining fields --------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("no such client field")]
    NotFound,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<FieldError> for AppError {
    fn from(err: FieldError) -> Self {
        match err {
            FieldError::NotFound => AppError::NotFound,
            FieldError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            FieldError::Internal(err) => AppError::Internal(err),
        }
    }
}

impl From<DbErr> for FieldError {
    fn from(err: DbErr) -> Self {
        if is_unique_violation(&err) {
            let mut errors = FormErrors::new();
            errors.add("name", "A field with this name already exists.");
            return FieldError::Invalid(errors);
        }
        FieldError::Internal(anyhow::Error::new(err).context("database"))
    }
}

/// A field as staff enter it.
#[derive(Debug, Clone, Default)]
pub struct FieldInput {
    pub name: String,
    /// Ignored when editing: the type never changes.
    pub field_type: String,
    pub options: String,
    pub description: String,
    pub visibility: String,
    pub required: bool,
}

struct ValidField {
    name: String,
    field_type: FieldType,
    options: String,
    description: String,
    visibility: Visibility,
    required: bool,
}

fn check(input: &FieldInput, fixed_type: Option<FieldType>) -> Result<ValidField, FieldError> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &input.name, "a name", 100);
    let description = optional_text(&mut errors, "description", &input.description, 500);
    let field_type = fixed_type.or_else(|| FieldType::parse(input.field_type.trim()));
    if field_type.is_none() {
        errors.add("field_type", "Choose a field type.");
    }
    let visibility = Visibility::parse(input.visibility.trim());
    if visibility.is_none() {
        errors.add("visibility", "Choose who sees the field.");
    }
    let options =
        if field_type == Some(FieldType::Dropdown) { choices(&mut errors, &input.options) } else { Vec::new() };
    match (errors.is_empty(), field_type, visibility) {
        (true, Some(field_type), Some(visibility)) => Ok(ValidField {
            name,
            field_type,
            options: options.join("\n"),
            description,
            visibility,
            required: input.required,
        }),
        _ => Err(FieldError::Invalid(errors)),
    }
}

/// The choices of a dropdown: one per line, blank lines ignored, no duplicates.
fn choices(errors: &mut FormErrors, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        errors.add("options", "Enter the choices, one per line.");
    } else if lines.len() > MAX_CHOICES {
        errors.add("options", format!("Offer at most {MAX_CHOICES} choices."));
    } else if lines.iter().any(|l| l.chars().count() > CHOICE_MAX) {
        errors.add("options", format!("Keep each choice to {CHOICE_MAX} characters."));
    } else if lines.iter().any(|l| l.chars().any(char::is_control)) {
        errors.add("options", "Remove the special characters.");
    } else if lines.iter().enumerate().any(|(i, l)| lines[..i].contains(l)) {
        errors.add("options", "Each choice may appear only once.");
    }
    lines.into_iter().map(str::to_owned).collect()
}

fn describe(f: &ValidField) -> String {
    format!(
        "{} ({}, {}{})",
        f.name,
        f.field_type.label().to_lowercase(),
        f.visibility.label().to_lowercase(),
        if f.required { ", required" } else { "" }
    )
}

/// Adds a field at the end of the list.
pub async fn create(state: &AppState, actor: &Actor, input: &FieldInput) -> Result<field::Model, FieldError> {
    let valid = check(input, None)?;
    let txn = state.db.begin().await?;
    let last = list(&txn).await?.last().map_or(0, |f| f.sort_order);
    let now = Utc::now();
    let created = field::ActiveModel {
        name: Set(valid.name.clone()),
        field_type: Set(valid.field_type.key().to_owned()),
        options: Set(valid.options.clone()),
        description: Set(valid.description.clone()),
        visibility: Set(valid.visibility.key().to_owned()),
        required: Set(valid.required),
        sort_order: Set(last.saturating_add(1)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        actor,
        "client_field.created",
        Some(("client_field", created.id.0)),
        format!("Created the client field {}", describe(&valid)),
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Saves a field's name, choices, help, visibility and "required"; its type stays.
pub async fn update(state: &AppState, actor: &Actor, id: ClientFieldId, input: &FieldInput) -> Result<(), FieldError> {
    let txn = state.db.begin().await?;
    let current = find(&txn, id).await?.ok_or(FieldError::NotFound)?;
    let fixed = FieldType::parse(&current.field_type)
        .ok_or_else(|| FieldError::Internal(anyhow::anyhow!("client field {id} has an unknown type")))?;
    let valid = check(input, Some(fixed))?;
    let mut active: field::ActiveModel = current.clone().into();
    active.name = Set(valid.name.clone());
    active.options = Set(valid.options.clone());
    active.description = Set(valid.description.clone());
    active.visibility = Set(valid.visibility.key().to_owned());
    active.required = Set(valid.required);
    active.updated_at = Set(Utc::now());
    active.update(&txn).await?;
    audit::record(
        &txn,
        actor,
        "client_field.updated",
        Some(("client_field", id.0)),
        format!("Saved the client field {}", describe(&valid)),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Moves a field one place up or down in the forms.
pub async fn move_field(state: &AppState, actor: &Actor, id: ClientFieldId, up: bool) -> Result<(), FieldError> {
    let txn = state.db.begin().await?;
    let mut fields = list(&txn).await?;
    let index = fields.iter().position(|f| f.id == id).ok_or(FieldError::NotFound)?;
    let other = if up { index.checked_sub(1) } else { Some(index + 1).filter(|i| *i < fields.len()) };
    let Some(other) = other else {
        return Ok(());
    };
    fields.swap(index, other);
    // Renumber the whole list, so equal or sparse sort orders never make a move a no-op.
    for (position, f) in fields.iter().enumerate() {
        let order = i32::try_from(position + 1).unwrap_or(i32::MAX);
        if f.sort_order != order {
            let mut active: field::ActiveModel = f.clone().into();
            active.sort_order = Set(order);
            active.update(&txn).await?;
        }
    }
    let name = fields.get(other).map(|f| f.name.clone()).unwrap_or_default();
    audit::record(
        &txn,
        actor,
        "client_field.moved",
        Some(("client_field", id.0)),
        format!("Moved the client field {name} {}", if up { "up" } else { "down" }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Deletes a field with every client's value of it; returns its name and how many values
/// went with it.
pub async fn delete(state: &AppState, actor: &Actor, id: ClientFieldId) -> Result<(String, u64), FieldError> {
    let txn = state.db.begin().await?;
    let current = find(&txn, id).await?.ok_or(FieldError::NotFound)?;
    let removed =
        field_value::Entity::delete_many().filter(field_value::Column::FieldId.eq(id)).exec(&txn).await?.rows_affected;
    field::Entity::delete_by_id(id).exec(&txn).await?;
    audit::record(
        &txn,
        actor,
        "client_field.deleted",
        Some(("client_field", id.0)),
        format!(
            "Deleted the client field {} and {removed} client value{}",
            current.name,
            if removed == 1 { "" } else { "s" }
        ),
    )
    .await?;
    txn.commit().await?;
    Ok((current.name, removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(id: i64, field_type: FieldType, visibility: Visibility, required: bool) -> field::Model {
        field::Model {
            id: ClientFieldId(id),
            name: format!("Field {id}"),
            field_type: field_type.key().into(),
            options: "Small\nLarge".into(),
            description: String::new(),
            visibility: visibility.key().into(),
            required,
            sort_order: 0,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn clients_never_get_staff_only_fields_and_required_checkboxes_bind_at_registration_only() {
        let fields = [
            field(1, FieldType::Text, Visibility::Registration, true),
            field(2, FieldType::Checkbox, Visibility::Registration, true),
            field(3, FieldType::Text, Visibility::Admin, true),
        ];
        let mut errors = FormErrors::new();
        let values =
            validate(&fields, Audience::Registration, &form(&[("cf_3", "sneaky")]), &Values::new(), &mut errors);
        assert!(errors.has("cf_1") && errors.has("cf_2") && !errors.has("cf_3"));
        assert!(!values.contains_key(&ClientFieldId(3)), "a client cannot set a staff-only field");
        let mut errors = FormErrors::new();
        validate(&fields, Audience::Client, &form(&[("cf_1", "x")]), &Values::new(), &mut errors);
        assert!(errors.is_empty(), "{errors}");
        let mut errors = FormErrors::new();
        let values =
            validate(&fields, Audience::Staff, &form(&[("cf_1", " x "), ("cf_2", "on")]), &Values::new(), &mut errors);
        assert!(errors.has("cf_3") && !errors.has("cf_2"));
        assert_eq!(values.get(&ClientFieldId(1)).map(String::as_str), Some("x"));
        assert_eq!(values.get(&ClientFieldId(2)).map(String::as_str), Some(CHECKED));
    }

    #[test]
    fn dropdowns_take_a_listed_choice_or_the_value_already_stored() {
        let fields = [field(1, FieldType::Dropdown, Visibility::Admin, false)];
        let mut errors = FormErrors::new();
        validate(&fields, Audience::Staff, &form(&[("cf_1", "Huge")]), &Values::new(), &mut errors);
        assert!(errors.has("cf_1"));
        let stored = Values::from([(ClientFieldId(1), "Huge".to_owned())]);
        let mut errors = FormErrors::new();
        validate(&fields, Audience::Staff, &form(&[("cf_1", "Huge")]), &stored, &mut errors);
        assert!(errors.is_empty());
        let mut errors = FormErrors::new();
        let values = validate(&fields, Audience::Staff, &form(&[("cf_1", "Large")]), &Values::new(), &mut errors);
        assert_eq!(values.get(&ClientFieldId(1)).map(String::as_str), Some("Large"));
    }

    #[test]
    fn text_values_are_trimmed_and_limited() {
        let fields = [field(1, FieldType::Text, Visibility::Admin, false)];
        let long = "x".repeat(TEXT_MAX + 1);
        let mut errors = FormErrors::new();
        validate(&fields, Audience::Staff, &form(&[("cf_1", &long)]), &Values::new(), &mut errors);
        assert!(errors.has("cf_1"));
        let exact = format!("  {}  ", "y".repeat(TEXT_MAX));
        let mut errors = FormErrors::new();
        validate(&fields, Audience::Staff, &form(&[("cf_1", &exact)]), &Values::new(), &mut errors);
        assert!(errors.is_empty());
    }

    #[test]
    fn dropdown_choices_are_one_per_line_without_duplicates() {
        let mut errors = FormErrors::new();
        assert_eq!(choices(&mut errors, " Small \n\nLarge\r\n"), vec!["Small", "Large"]);
        assert!(errors.is_empty());
        for bad in ["", "  \n ", "A\nB\nA"] {
            let mut errors = FormErrors::new();
            choices(&mut errors, bad);
            assert!(errors.has("options"), "{bad:?}");
        }
    }
}
