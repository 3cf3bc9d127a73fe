//! Contact and sub-user pages, for the account's owner (or a sub-user allowed to manage
//! contacts) in the client area, and for staff on the client's admin page.

use super::contacts::{self, ContactError, ContactForm, PERMISSIONS};
use super::current::{ClientAllowed, client_perm};
use super::model::{client, contact};
use super::store;
use super::views::{AdminContactPage, ClientRef, ContactPage, ContactPermission, ContactRow, ContactsPage};
use crate::ids::{ClientId, ContactId};
use crate::permissions::perm;
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppError, AppResult, FormErrors, Page, flash};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

/// A contact for the lists.
pub fn contact_row(c: &contact::Model) -> ContactRow {
    ContactRow {
        id: c.id,
        name: c.full_name(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        receives_billing: c.receives_billing,
        receives_technical: c.receives_technical,
        receives_general: c.receives_general,
        login_enabled: c.login_enabled,
        invited: c.login_enabled && c.password_hash.is_none(),
        twofa: c.totp_enabled_at.is_some(),
        last_login_at: c.last_login_at.map(|t| t.to_rfc3339()),
        permissions: PERMISSIONS.iter().filter(|(k, _)| c.may(k)).map(|(_, label)| *label).collect(),
    }
}

pub async fn contact_rows(state: &AppState, client_id: ClientId) -> AppResult<Vec<ContactRow>> {
    Ok(contacts::list(&state.db, client_id).await?.iter().map(contact_row).collect())
}

/// Where a contact form posts and returns to, in one area.
struct FormPlace {
    /// The page of the list.
    back: String,
    /// Where the form posts.
    action: String,
    /// The delete action of an existing contact.
    delete: Option<String>,
}

fn permissions_for(grantable: &(dyn Fn(&str) -> bool + Sync)) -> Vec<ContactPermission> {
    PERMISSIONS.iter().map(|(key, label)| ContactPermission { key, label, grantable: grantable(key) }).collect()
}

// --- client area ------------------------------------------------------------------------

pub async fn client_contacts(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
) -> AppResult<Response> {
    let view = ContactsPage {
        current_client: current.badge(),
        nav: "contacts",
        contacts: contact_rows(&state, current.client.id).await?,
    };
    state.render_view(&page, &view).await
}

async fn render_client_form(
    state: &AppState,
    page: &Page,
    current: &ClientAllowed<client_perm::Contacts>,
    place: FormPlace,
    form: &ContactForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let grantable = |key: &str| current.may(key);
    let view = ContactPage {
        current_client: current.badge(),
        nav: "contacts",
        form: form.values(),
        permissions: permissions_for(&grantable),
        back: place.back,
        action: place.action,
        delete: place.delete,
        errors,
    };
    state.render_view_status(status, page, &view).await
}

fn client_place(id: Option<ContactId>) -> FormPlace {
    FormPlace {
        back: "/account/contacts".into(),
        action: id.map_or_else(|| "/account/contacts".to_owned(), |id| format!("/account/contacts/{id}")),
        delete: id.map(|id| format!("/account/contacts/{id}/delete")),
    }
}

pub async fn new_client_contact_form(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
) -> AppResult<Response> {
    let form = ContactForm::default();
    render_client_form(&state, &page, &current, client_place(None), &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn create_client_contact(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = ContactForm::from_pairs(pairs);
    let grantable = |key: &str| current.may(key);
    let actor = current.actor(&page.ip);
    match contacts::create(&state, &actor, &current.client, &form, &grantable).await {
        Ok(_) => Ok(flash::redirect(&state, "/account/contacts", "success", saved_message(&form))),
        Err(ContactError::Invalid(errors)) => {
            let place = client_place(None);
            render_client_form(&state, &page, &current, place, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn edit_client_contact_form(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
    Path(id): Path<ContactId>,
) -> AppResult<Response> {
    let c = contacts::find(&state.db, current.client.id, id).await?.ok_or(AppError::NotFound)?;
    let form = ContactForm::from_contact(&c);
    render_client_form(&state, &page, &current, client_place(Some(id)), &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn update_client_contact(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
    Path(id): Path<ContactId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let form = ContactForm::from_pairs(pairs);
    let grantable = |key: &str| current.may(key);
    let actor = current.actor(&page.ip);
    match contacts::update(&state, &actor, &current.client, id, &form, &grantable).await {
        Ok(()) => Ok(flash::redirect(&state, "/account/contacts", "success", "Contact saved.")),
        Err(ContactError::Invalid(errors)) => {
            let place = client_place(Some(id));
            render_client_form(&state, &page, &current, place, &form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_client_contact(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Contacts>,
    Path(id): Path<ContactId>,
) -> AppResult<Response> {
    let actor = current.actor(&page.ip);
    let grantable = |key: &str| current.may(key);
    contacts::delete(&state, &actor, &current.client, id, &grantable).await?;
    Ok(flash::redirect(&state, "/account/contacts", "success", "Contact removed."))
}

fn saved_message(form: &ContactForm) -> &'static str {
    if form.login_enabled.is_some() {
        "Sub-user added. They were emailed a link to choose their password."
    } else {
        "Contact added."
    }
}

// --- admin ------------------------------------------------------------------------------

fn admin_place(owner: &client::Model, id: Option<ContactId>) -> FormPlace {
    let client_id = owner.id;
    let base = format!("/admin/clients/{client_id}/contacts");
    FormPlace {
        back: format!("/admin/clients/{client_id}?tab=contacts"),
        action: id.map_or_else(|| base.clone(), |id| format!("{base}/{id}")),
        delete: id.map(|id| format!("{base}/{id}/delete")),
    }
}

/// The admin contact form of `owner`'s contact.
struct AdminForm<'a> {
    owner: &'a client::Model,
    place: FormPlace,
    form: &'a ContactForm,
}

async fn render_admin_form(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::ClientsManage>,
    AdminForm { owner, place, form }: AdminForm<'_>,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let view = AdminContactPage {
        current_staff: current.badge(),
        nav: "clients",
        client: ClientRef { id: owner.id, name: owner.full_name() },
        form: form.values(),
        permissions: permissions_for(&|_: &str| true),
        back: place.back,
        action: place.action,
        delete: place.delete,
        errors,
    };
    state.render_view_status(status, page, &view).await
}

async fn owner(state: &AppState, id: ClientId) -> AppResult<client::Model> {
    store::find(&state.db, id).await?.ok_or(AppError::NotFound)
}

pub async fn new_contact_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(client_id): Path<ClientId>,
) -> AppResult<Response> {
    let owner = owner(&state, client_id).await?;
    let place = admin_place(&owner, None);
    let form = ContactForm::default();
    render_admin_form(
        &state,
        &page,
        &current,
        AdminForm { owner: &owner, place, form: &form },
        FormErrors::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn create_contact(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path(client_id): Path<ClientId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let owner = owner(&state, client_id).await?;
    let form = ContactForm::from_pairs(pairs);
    match contacts::create(&state, &current.actor(&page.ip), &owner, &form, &|_: &str| true).await {
        Ok(_) => Ok(flash::redirect(
            &state,
            &format!("/admin/clients/{client_id}?tab=contacts"),
            "success",
            saved_message(&form),
        )),
        Err(ContactError::Invalid(errors)) => {
            let place = admin_place(&owner, None);
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_admin_form(&state, &page, &current, AdminForm { owner: &owner, place, form: &form }, errors, status)
                .await
        }
        Err(ContactError::NotAllowed(message)) => {
            Ok(flash::redirect(&state, &format!("/admin/clients/{client_id}?tab=contacts"), "error", message))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn edit_contact_form(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path((client_id, id)): Path<(ClientId, ContactId)>,
) -> AppResult<Response> {
    let owner = owner(&state, client_id).await?;
    let c = contacts::find(&state.db, client_id, id).await?.ok_or(AppError::NotFound)?;
    let place = admin_place(&owner, Some(id));
    let form = ContactForm::from_contact(&c);
    render_admin_form(
        &state,
        &page,
        &current,
        AdminForm { owner: &owner, place, form: &form },
        FormErrors::new(),
        StatusCode::OK,
    )
    .await
}

pub async fn update_contact(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path((client_id, id)): Path<(ClientId, ContactId)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let owner = owner(&state, client_id).await?;
    let form = ContactForm::from_pairs(pairs);
    let back = format!("/admin/clients/{client_id}?tab=contacts");
    match contacts::update(&state, &current.actor(&page.ip), &owner, id, &form, &|_: &str| true).await {
        Ok(()) => Ok(flash::redirect(&state, &back, "success", "Contact saved.")),
        Err(ContactError::Invalid(errors)) => {
            let place = admin_place(&owner, Some(id));
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render_admin_form(&state, &page, &current, AdminForm { owner: &owner, place, form: &form }, errors, status)
                .await
        }
        Err(ContactError::NotAllowed(message)) => Ok(flash::redirect(&state, &back, "error", message)),
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn delete_contact(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::ClientsManage>,
    Path((client_id, id)): Path<(ClientId, ContactId)>,
) -> AppResult<Response> {
    let owner = owner(&state, client_id).await?;
    contacts::delete(&state, &current.actor(&page.ip), &owner, id, &|_: &str| true).await?;
    Ok(flash::redirect(&state, &format!("/admin/clients/{client_id}?tab=contacts"), "success", "Contact removed."))
}
