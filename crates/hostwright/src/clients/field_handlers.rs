//! Custom client fields (decision 0010): the settings pages where staff define them, and
//! `inputs`, which every client form (registration, profile, the staff's client pages) uses
//! to show them.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::fields::{self, Audience, CHECKED, FieldError, FieldInput, FieldType, TEXT_MAX, Values, Visibility};
use super::model::field;
use super::views::{CustomFieldInput, FieldPage, FieldRow, FieldSummary, FieldValues, FieldsPage};
use crate::ids::ClientFieldId;
use crate::permissions::perm;
use crate::staff::current::{Authorized, CurrentStaff};
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

const LIST: &str = "/admin/settings/client-fields";

/// The inputs of the custom fields `audience` sees, for `macros/clients.html`
/// `custom_fields`: `shown` holds the values to show (stored, or as typed), `stored` the
/// client's saved values (a dropdown keeps offering a stored choice that was since removed).
pub fn inputs(fields: &[field::Model], audience: Audience, shown: &Values, stored: &Values) -> Vec<CustomFieldInput> {
    fields
        .iter()
        .filter(|f| audience.sees(f))
        .map(|f| {
            let value = shown.get(&f.id).cloned().unwrap_or_default();
            let required = audience.requires(f);
            let mut options: Vec<(String, String)> = Vec::new();
            if f.field_type == FieldType::Dropdown.key() {
                options.push((String::new(), if required { "Choose…".into() } else { "—".into() }));
                options.extend(f.choices().into_iter().map(|c| (c.to_owned(), c.to_owned())));
                if let Some(old) = stored.get(&f.id).filter(|v| !v.is_empty() && !f.choices().contains(&v.as_str())) {
                    options.push((old.clone(), format!("{old} (no longer offered)")));
                }
            }
            CustomFieldInput {
                name: fields::input_name(f.id),
                label: f.name.clone(),
                kind: f.field_type.clone(),
                checked: value == CHECKED,
                value,
                required,
                help: f.description.clone(),
                admin_only: f.visibility == Visibility::Admin.key(),
                options,
                max_length: TEXT_MAX,
            }
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct FieldForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    options: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    visibility: String,
    required: Option<String>,
}

impl FieldForm {
    fn input(&self) -> FieldInput {
        FieldInput {
            name: self.name.clone(),
            field_type: self.field_type.clone(),
            options: self.options.clone(),
            description: self.description.clone(),
            visibility: self.visibility.clone(),
            required: self.required.is_some(),
        }
    }

    /// A new field starts as a staff-only text field, so nothing is asked of clients by accident.
    fn new_field() -> Self {
        FieldForm {
            field_type: FieldType::Text.key().into(),
            visibility: Visibility::Admin.key().into(),
            ..FieldForm::default()
        }
    }

    fn from_field(f: &field::Model) -> Self {
        FieldForm {
            name: f.name.clone(),
            field_type: f.field_type.clone(),
            options: f.options.clone(),
            description: f.description.clone(),
            visibility: f.visibility.clone(),
            required: f.required.then(|| "on".to_owned()),
        }
    }

    fn values(&self) -> FieldValues {
        FieldValues {
            name: self.name.trim().to_owned(),
            field_type: self.field_type.trim().to_owned(),
            options: self.options.trim().to_owned(),
            description: self.description.trim().to_owned(),
            visibility: self.visibility.trim().to_owned(),
            required: self.required.is_some(),
        }
    }
}

fn type_label(key: &str) -> &'static str {
    FieldType::parse(key).map(FieldType::label).unwrap_or_default()
}

fn visibility_label(key: &str) -> &'static str {
    Visibility::parse(key).map(Visibility::label).unwrap_or_default()
}

async fn render_list(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &FieldForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let all = fields::list(&state.db).await?;
    let counts = fields::value_counts(&state.db).await?;
    let last = all.len().saturating_sub(1);
    let rows = all
        .iter()
        .enumerate()
        .map(|(i, f)| FieldRow {
            id: f.id,
            name: f.name.clone(),
            kind_label: type_label(&f.field_type),
            visibility: f.visibility.clone(),
            visibility_label: visibility_label(&f.visibility),
            required: f.required,
            choices: f.choices().len(),
            values: counts.get(&f.id).copied().unwrap_or(0),
            first: i == 0,
            last: i == last,
        })
        .collect();
    let view = FieldsPage {
        current_staff: current.badge(),
        nav: "settings",
        fields: rows,
        form: form.values(),
        types: FieldType::options(),
        visibilities: Visibility::options(),
        errors,
    };
    state.render_view_status(status, page, &view).await
}

pub async fn list_client_fields(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
) -> AppResult<Response> {
    render_list(&state, &page, &current, &FieldForm::new_field(), FormErrors::new(), StatusCode::OK).await
}

pub async fn create_client_field(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<FieldForm>,
) -> AppResult<Response> {
    match fields::create(&state, &current.actor(&page.ip), &form.input()).await {
        Ok(created) => Ok(flash::redirect(&state, LIST, "success", format!("Added the field {}.", created.name))),
        Err(FieldError::Invalid(errors)) => {
            render_list(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

async fn render_field(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    f: &field::Model,
    form: &FieldForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let values = fields::value_counts(&state.db).await?.get(&f.id).copied().unwrap_or(0);
    let view = FieldPage {
        current_staff: current.badge(),
        nav: "settings",
        field: FieldSummary {
            id: f.id,
            name: f.name.clone(),
            kind: f.field_type.clone(),
            kind_label: type_label(&f.field_type),
            values,
        },
        form: form.values(),
        types: FieldType::options(),
        visibilities: Visibility::options(),
        history: crate::audit::history::for_entity(&state.db, "client_field", f.id.0, 20).await?,
        errors,
    };
    state.render_view_status(status, page, &view).await
}

async fn load(state: &AppState, id: ClientFieldId) -> AppResult<field::Model> {
    fields::find(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn edit_client_field_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ClientFieldId>,
) -> AppResult<Response> {
    let f = load(&state, id).await?;
    render_field(&state, &page, &current, &f, &FieldForm::from_field(&f), FormErrors::new(), StatusCode::OK).await
}

pub async fn update_client_field(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ClientFieldId>,
    Form(form): Form<FieldForm>,
) -> AppResult<Response> {
    let f = load(&state, id).await?;
    match fields::update(&state, &current.actor(&page.ip), id, &form.input()).await {
        Ok(()) => Ok(flash::redirect(&state, LIST, "success", "Field saved.")),
        Err(FieldError::Invalid(errors)) => {
            let form = FieldForm { field_type: f.field_type.clone(), ..form };
            render_field(&state, &page, &current, &f, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

#[derive(Deserialize)]
pub struct MoveForm {
    #[serde(default)]
    direction: String,
}

pub async fn move_client_field(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ClientFieldId>,
    Form(form): Form<MoveForm>,
) -> AppResult<Response> {
    let up = match form.direction.as_str() {
        "up" => true,
        "down" => false,
        _ => return Err(AppError::BadRequest("move a field up or down".into())),
    };
    fields::move_field(&state, &current.actor(&page.ip), id, up).await?;
    Ok(flash::redirect(&state, LIST, "success", "Order saved."))
}

pub async fn delete_client_field(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Path(id): Path<ClientFieldId>,
) -> AppResult<Response> {
    let (name, removed) = fields::delete(&state, &current.actor(&page.ip), id).await?;
    let message =
        format!("Deleted the field {name} and {removed} client value{}.", if removed == 1 { "" } else { "s" });
    Ok(flash::redirect(&state, LIST, "success", message))
}
