//! Admin pages for staff, roles and the first-run setup.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::current::{Authorized, CurrentStaff};
use super::service::{self, NewStaff, StaffError};
use super::store;
use super::views::{
    InvitePage, MemberDetail, MemberRow, NewStaffPage, PermissionChoice, RoleDetail, RolePage, RoleRow, RolesPage,
    SetupPage, StaffFormValues, StaffListPage, StaffPage,
};
use crate::auth::tokens::{self, Purpose};
use crate::auth::{PrincipalKind, session};
use crate::ids::{RoleId, StaffId};
use crate::permissions::{Permission, perm};
use crate::state::AppState;
use crate::web::forms::{EmailAddress, required_text};
use crate::web::{AppError, AppResult, FormErrors, Page, flash};

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn setup_open(state: &AppState, token: &str) -> AppResult<bool> {
    Ok(store::count(&state.db).await? == 0 && tokens::peek(&state.db, Purpose::Setup, token).await?.is_some())
}

pub async fn setup_form(State(state): State<AppState>, page: Page, Path(token): Path<String>) -> AppResult<Response> {
    let open = setup_open(&state, &token).await?;
    let view = SetupPage { open, name: String::new(), email: String::new(), errors: FormErrors::new() };
    state.render_view(&page, &view).await
}

pub async fn setup(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    if !setup_open(&state, &token).await? {
        let view = SetupPage { open: false, name: String::new(), email: String::new(), errors: FormErrors::new() };
        return state.render_view_status(StatusCode::GONE, &page, &view).await;
    }
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &form.name, "your name", 100);
    let email = EmailAddress::parse(&form.email).map_err(|m| errors.add("email", m)).ok();
    if form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords are not the same.");
    }
    if let (true, Some(email)) = (errors.is_empty(), &email) {
        match service::setup_first_admin(&state, &token, &name, email, &form.password, &page.ip).await {
            Ok(_) => {
                return Ok(flash::redirect(
                    &state,
                    "/admin/login",
                    "success",
                    "Your administrator account is ready. Sign in to continue.",
                ));
            }
            Err(StaffError::WeakPassword(message)) => errors.add("password", message),
            Err(StaffError::SetupClosed) => errors.add("_form", "This setup link has already been used."),
            Err(err) => return Err(AppError::from(err)),
        }
    }
    let view = SetupPage { open: true, name, email: form.email.trim().to_owned(), errors };
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
}

pub async fn list_staff(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffView>,
) -> AppResult<Response> {
    let members = store::list(&state.db)
        .await?
        .into_iter()
        .map(|(member, role)| MemberRow {
            id: member.id,
            name: member.name,
            email: member.email,
            role: role.map(|r| r.name).unwrap_or_default(),
            status: member.status,
            invited: member.password_hash.is_none(),
            twofa: member.totp_enabled_at.is_some(),
            last_login_at: member.last_login_at.map(|t| t.to_rfc3339()),
        })
        .collect();
    let view = StaffListPage {
        current_staff: current.badge(),
        nav: "staff",
        members,
        can_manage: current.can(Permission::StaffManage),
    };
    state.render_view(&page, &view).await
}

async fn role_options(state: &AppState) -> AppResult<Vec<(String, String)>> {
    Ok(store::roles(&state.db).await?.into_iter().map(|r| (r.id.to_string(), r.name)).collect())
}

#[derive(Deserialize, Default)]
pub struct StaffForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role_id: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    password: String,
}

async fn render_staff_form(
    state: &AppState,
    page: &Page,
    current: &CurrentStaff,
    form: &StaffForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let view = NewStaffPage {
        current_staff: current.badge(),
        nav: "staff",
        roles: role_options(state).await?,
        form: StaffFormValues {
            name: form.name.trim().to_owned(),
            email: form.email.trim().to_owned(),
            role_id: form.role_id.clone(),
            mode: if form.mode.is_empty() { "invite".to_owned() } else { form.mode.clone() },
        },
        errors,
    };
    state.render_view_status(status, page, &view).await
}

pub async fn new_staff_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
) -> AppResult<Response> {
    render_staff_form(&state, &page, &current, &StaffForm::default(), FormErrors::new(), StatusCode::OK).await
}

pub async fn create_staff(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Form(form): Form<StaffForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let name = required_text(&mut errors, "name", &form.name, "a name", 100);
    let email = EmailAddress::parse(&form.email).map_err(|m| errors.add("email", m)).ok();
    let role_id = form.role_id.parse::<RoleId>().map_err(|_| errors.add("role_id", "Choose a role.")).ok();
    let password = match form.mode.as_str() {
        "password" => Some(form.password.clone()),
        "invite" => None,
        _ => {
            errors.add("mode", "Choose how the new member gets a password.");
            None
        }
    };
    if let (true, Some(email), Some(role_id)) = (errors.is_empty(), email, role_id) {
        let new = NewStaff { name, email, role_id, password };
        match service::create(&state, &current.actor(&page.ip), new).await {
            Ok(member) => {
                let message = if member.password_hash.is_some() {
                    format!("{} can now sign in.", member.name)
                } else {
                    format!("An invitation was sent to {}.", member.email)
                };
                return Ok(flash::redirect(&state, &format!("/admin/staff/{}", member.id), "success", message));
            }
            Err(StaffError::EmailTaken) => {
                errors.add("email", "A staff member with this email address already exists.")
            }
            Err(StaffError::WeakPassword(message)) => errors.add("password", message),
            Err(StaffError::UnknownRole) => errors.add("role_id", "Choose a role."),
            Err(StaffError::NotAllowed(message)) => errors.add("role_id", message),
            Err(err) => return Err(AppError::from(err)),
        }
    }
    render_staff_form(&state, &page, &current, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
}

pub async fn show_staff(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffView>,
    Path(id): Path<StaffId>,
) -> AppResult<Response> {
    let member = store::find(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let sessions = session::list_for(&state.db, &state.settings, PrincipalKind::Staff, id.0).await?.len();
    let view = StaffPage {
        current_staff: current.badge(),
        nav: "staff",
        member: MemberDetail {
            id: member.id,
            is_me: member.id == current.staff.id,
            name: member.name,
            email: member.email,
            role_id: member.role_id.to_string(),
            status: member.status,
            invited: member.password_hash.is_none(),
            twofa: member.totp_enabled_at.is_some(),
            created_at: member.created_at.to_rfc3339(),
            last_login_at: member.last_login_at.map(|t| t.to_rfc3339()),
            sessions,
        },
        roles: role_options(&state).await?,
        can_manage: current.can(Permission::StaffManage),
        history: crate::audit::history::for_entity(&state.db, "staff", id.0, 20).await?,
    };
    state.render_view(&page, &view).await
}

#[derive(Deserialize)]
pub struct RoleChoice {
    #[serde(default)]
    role_id: String,
}

fn back_to(state: &AppState, id: StaffId, result: Result<(), StaffError>, done: &str) -> AppResult<Response> {
    let to = format!("/admin/staff/{id}");
    match result {
        Ok(()) => Ok(flash::redirect(state, &to, "success", done)),
        Err(StaffError::Internal(err)) => Err(AppError::Internal(err)),
        Err(other) => Ok(flash::redirect(state, &to, "error", other.to_string())),
    }
}

pub async fn change_role(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<StaffId>,
    Form(form): Form<RoleChoice>,
) -> AppResult<Response> {
    let Ok(role_id) = form.role_id.parse::<RoleId>() else {
        return back_to(&state, id, Err(StaffError::UnknownRole), "");
    };
    let result = service::change_role(&state, &current.actor(&page.ip), id, role_id).await;
    back_to(&state, id, result, "The role was changed; their sessions were ended.")
}

pub async fn disable_staff(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<StaffId>,
) -> AppResult<Response> {
    let result = service::set_enabled(&state, &current.actor(&page.ip), id, false).await;
    back_to(&state, id, result, "The account is disabled and signed out everywhere.")
}

pub async fn enable_staff(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<StaffId>,
) -> AppResult<Response> {
    let result = service::set_enabled(&state, &current.actor(&page.ip), id, true).await;
    back_to(&state, id, result, "The account is enabled again.")
}

pub async fn reset_twofa(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<StaffId>,
) -> AppResult<Response> {
    let result = service::reset_twofa(&state, &current.actor(&page.ip), id).await;
    back_to(&state, id, result, "Two-factor authentication was reset; they will set it up again.")
}

pub async fn list_roles(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffView>,
) -> AppResult<Response> {
    let mut roles = Vec::new();
    for role in store::roles(&state.db).await? {
        let granted = store::role_permissions(&state.db, &role).await?;
        let permissions = Permission::ALL.iter().filter(|p| granted.contains(p.key())).map(|p| p.label()).collect();
        roles.push(RoleRow {
            id: role.id,
            name: role.name,
            description: role.description,
            all: role.all_permissions,
            permissions,
        });
    }
    let view = RolesPage {
        current_staff: current.badge(),
        nav: "roles",
        roles,
        can_manage: current.can(Permission::StaffManage),
    };
    state.render_view(&page, &view).await
}

pub async fn edit_role_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<RoleId>,
) -> AppResult<Response> {
    let role = store::find_role(&state.db, id).await?.ok_or(AppError::NotFound)?;
    let granted = store::role_permissions(&state.db, &role).await?;
    let permissions = Permission::ALL
        .iter()
        .map(|p| PermissionChoice { key: p.key(), label: p.label(), granted: granted.contains(p.key()) })
        .collect();
    let view = RolePage {
        current_staff: current.badge(),
        nav: "roles",
        role: RoleDetail { id: role.id, name: role.name, description: role.description, all: role.all_permissions },
        permissions,
    };
    state.render_view(&page, &view).await
}

pub async fn update_role(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::StaffManage>,
    Path(id): Path<RoleId>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let chosen: Vec<Permission> =
        fields.iter().filter(|(k, _)| k == "permission").filter_map(|(_, v)| Permission::from_key(v)).collect();
    let to = format!("/admin/roles/{id}");
    match service::update_role(&state, &current.actor(&page.ip), id, &chosen).await {
        Ok(()) => Ok(flash::redirect(&state, "/admin/roles", "success", "The role's permissions were saved.")),
        Err(StaffError::UnknownRole) => Err(AppError::NotFound),
        Err(StaffError::Internal(err)) => Err(AppError::Internal(err)),
        Err(other) => Ok(flash::redirect(&state, &to, "error", other.to_string())),
    }
}

#[derive(Deserialize)]
pub struct InviteForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn invite_form(State(state): State<AppState>, page: Page, Path(token): Path<String>) -> AppResult<Response> {
    let valid = tokens::peek(&state.db, Purpose::StaffInvite, &token).await?.is_some();
    state.render_view(&page, &InvitePage { valid, errors: FormErrors::new() }).await
}

pub async fn accept_invite(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    if form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords are not the same.");
    }
    if errors.is_empty() {
        match service::accept_invite(&state, &token, &form.password, &page.ip).await {
            Ok(_) => {
                return Ok(flash::redirect(
                    &state,
                    "/admin/login",
                    "success",
                    "Your password is set. Sign in to continue.",
                ));
            }
            Err(StaffError::WeakPassword(message)) => errors.add("password", message),
            Err(StaffError::SetupClosed) => errors.add("_form", "This invitation is invalid, expired or already used."),
            Err(err) => return Err(AppError::from(err)),
        }
    }
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &InvitePage { valid: true, errors }).await
}

impl IntoResponse for StaffError {
    fn into_response(self) -> Response {
        AppError::from(self).into_response()
    }
}
