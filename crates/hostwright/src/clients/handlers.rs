//! The client area's own pages: home, registration, email verification, dashboard, profile.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::current::{ClientAllowed, CurrentClient, client_perm};
use super::field_handlers::inputs;
use super::fields::{self, Audience, Values};
use super::service::{self, ClientError, Profile, Registration};
use super::views::{
    DashboardPage, HomePage, ProfilePage, ProfileValues, RegisterPage, RegisterSentPage, RegistrationForm,
    RegistrationValues,
};
use crate::auth::AuthError;
use crate::auth::throttle;
use crate::auth::{PrincipalKind, session};
use crate::state::AppState;
use crate::web::forms::{EmailAddress, optional_text, required_text};
use crate::web::{AppError, AppResult, FormErrors, Page, csrf, flash};

/// Where a new client goes on to: `next` when it is a safe address in the client area, else
/// the account's home.
fn safe_next(state: &AppState, next: &str) -> String {
    crate::web::redirects::safe_next(&state.settings.base_url, Some(next), "", "/account")
}

pub async fn home(State(state): State<AppState>, page: Page, jar: CookieJar) -> AppResult<Response> {
    let signed_in = jar.get(session::CLIENT_COOKIE).is_some();
    state.render_view(&page, &HomePage { nav: "home", signed_in }).await
}

#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
    /// Where to go once registered (a path of the client area, e.g. back to checkout).
    #[serde(default)]
    pub(crate) next: String,
    /// The registration fields (`cf_<id>`).
    #[serde(flatten)]
    custom: BTreeMap<String, String>,
}

/// What the registration form shows: whether sign-ups are open, the registration fields and
/// what was typed. The sign-up page and checkout's inline form both render it.
pub(crate) async fn registration_form(state: &AppState, form: &RegisterForm) -> AppResult<RegistrationForm> {
    let open = crate::site_settings::load(&state.db).await?.registration_open;
    let asked = fields::for_audience(&state.db, Audience::Registration).await?;
    let typed = fields::typed(&asked, Audience::Registration, &form.custom);
    Ok(RegistrationForm {
        open,
        custom_fields: inputs(&asked, Audience::Registration, &typed, &Values::new()),
        form: RegistrationValues {
            first_name: form.first_name.trim().to_owned(),
            last_name: form.last_name.trim().to_owned(),
            company_name: form.company_name.trim().to_owned(),
            email: form.email.trim().to_owned(),
        },
    })
}

/// [`registration_form`] as a template value, for checkout's page.
pub(crate) async fn registration_context(state: &AppState, form: &RegisterForm) -> AppResult<minijinja::Value> {
    Ok(minijinja::Value::from_serialize(registration_form(state, form).await?))
}

async fn render_register(
    state: &AppState,
    page: &Page,
    form: &RegisterForm,
    errors: FormErrors,
    status: StatusCode,
) -> AppResult<Response> {
    let view = RegisterPage {
        nav: "register",
        next: form.next.trim().to_owned(),
        errors,
        registration: registration_form(state, form).await?,
    };
    state.render_view_status(status, page, &view).await
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn register_form(
    State(state): State<AppState>,
    page: Page,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> AppResult<Response> {
    let form = RegisterForm { next: q.next, ..RegisterForm::default() };
    render_register(&state, &page, &form, FormErrors::new(), StatusCode::OK).await
}

pub async fn register(
    State(state): State<AppState>,
    page: Page,
    Form(form): Form<RegisterForm>,
) -> AppResult<Response> {
    match attempt_registration(&state, &page, &form).await? {
        Ok(signed_up) => Ok(signed_up.response),
        Err((errors, status)) => render_register(&state, &page, &form, errors, status).await,
    }
}

/// Signs a visitor up from `form`: the answer sends them to "check your inbox" whether or not
/// the address had an account, and the emailed link signs them in and goes on to the form's
/// `next`. Refused input comes back as the form's errors and the status to render them with;
/// nothing is created then.
pub(crate) async fn attempt_registration(
    state: &AppState,
    page: &Page,
    form: &RegisterForm,
) -> AppResult<Result<SignedUp, (FormErrors, StatusCode)>> {
    let mut errors = FormErrors::new();
    if !crate::site_settings::load(&state.db).await?.registration_open {
        errors.add("_form", "New accounts cannot be created online at the moment. Please contact us.");
        return Ok(Err((errors, StatusCode::FORBIDDEN)));
    }
    let first_name = required_text(&mut errors, "first_name", &form.first_name, "your first name", 100);
    let last_name = required_text(&mut errors, "last_name", &form.last_name, "your last name", 100);
    let company_name = optional_text(&mut errors, "company_name", &form.company_name, 150);
    let email = EmailAddress::parse(&form.email).map_err(|m| errors.add("email", m)).ok();
    if form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords are not the same.");
    }
    let asked = fields::for_audience(&state.db, Audience::Registration).await?;
    let custom = fields::validate(&asked, Audience::Registration, &form.custom, &Values::new(), &mut errors);
    let (true, Some(email)) = (errors.is_empty(), email) else {
        return Ok(Err((errors, StatusCode::UNPROCESSABLE_ENTITY)));
    };
    match throttle::limit_requests(state, "register", &page.ip).await {
        Err(AuthError::Locked(locked)) => {
            errors.add(
                "_form",
                format!("Too many sign-ups from your address. Try again in {} minutes.", locked.minutes_left()),
            );
            return Ok(Err((errors, StatusCode::TOO_MANY_REQUESTS)));
        }
        Err(err) => return Err(AppError::Internal(anyhow::Error::new(err))),
        Ok(()) => {}
    }
    let registration =
        Registration { first_name, last_name, company_name, email, password: form.password.clone(), custom };
    let next = safe_next(state, form.next.trim());
    // A new address and one that has an account get the same answer: check your inbox.
    match service::sign_up(state, registration, &next, &page.ip).await {
        Ok(signed_up) => Ok(Ok(SignedUp { response: check_your_inbox(), account: signed_up })),
        Err(ClientError::WeakPassword(message)) => {
            errors.add("password", message);
            Ok(Err((errors, StatusCode::UNPROCESSABLE_ENTITY)))
        }
        Err(err) => Err(AppError::from(err)),
    }
}

/// A sign-up's answer (the same whatever the address), and what it did, for the caller.
pub(crate) struct SignedUp {
    pub response: Response,
    pub account: service::SignUp,
}

fn check_your_inbox() -> Response {
    axum::response::IntoResponse::into_response(axum::response::Redirect::to("/register/check-email"))
}

/// `GET /register/check-email`: where every sign-up lands.
pub async fn check_email_page(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    state.render_view(&page, &RegisterSentPage { nav: "register" }).await
}

#[derive(Deserialize, Default)]
pub struct VerifyQuery {
    #[serde(default)]
    next: String,
}

pub async fn verify_email(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    axum::extract::Query(q): axum::extract::Query<VerifyQuery>,
) -> AppResult<Response> {
    match service::verify_email(&state, &token, &page.ip, &page.user_agent).await {
        Ok(service::Confirmed { session: Some(token), .. }) => {
            // The link finished a sign-up: the client is signed in and goes on where they were.
            let to = safe_next(&state, q.next.trim());
            let mut response = flash::redirect(
                &state,
                &to,
                "success",
                "Welcome! You are signed in and your email address is confirmed.",
            );
            for cookie in [session::cookie(&state.settings, PrincipalKind::Client, token), csrf::new_cookie(&state)] {
                if let Ok(value) = cookie.to_string().parse() {
                    response.headers_mut().append(axum::http::header::SET_COOKIE, value);
                }
            }
            Ok(response)
        }
        Ok(_) => Ok(flash::redirect(&state, "/account", "success", "Thank you: your email address is confirmed.")),
        Err(ClientError::InvalidLink) => Ok(flash::redirect(
            &state,
            "/account",
            "error",
            "That confirmation link is invalid, expired or already used. Sign in to get a new one.",
        )),
        Err(err) => Err(AppError::from(err)),
    }
}

pub async fn resend_verification(
    State(state): State<AppState>,
    page: Page,
    current: CurrentClient,
) -> AppResult<Response> {
    if let Err(AuthError::Locked(locked)) = throttle::limit_requests(&state, "verify-resend", &page.ip).await {
        return Ok(flash::redirect(
            &state,
            "/account",
            "error",
            format!("Too many requests. Try again in {} minutes.", locked.minutes_left()),
        ));
    }
    service::resend_verification(&state, &current.client).await?;
    Ok(flash::redirect(&state, "/account", "success", "We sent a new confirmation link to your email address."))
}

pub async fn dashboard(State(state): State<AppState>, page: Page, current: CurrentClient) -> AppResult<Response> {
    state.render_view(&page, &DashboardPage { current_client: current.badge(), nav: "dashboard" }).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    company_name: String,
    /// The registration fields (`cf_<id>`); staff-only fields are never read from here.
    #[serde(flatten)]
    custom: BTreeMap<String, String>,
}

pub async fn profile_form(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Profile>,
) -> AppResult<Response> {
    let c = &current.client;
    let editable = fields::for_audience(&state.db, Audience::Client).await?;
    let stored = fields::values_of(&state.db, c.id).await?;
    let view = ProfilePage {
        current_client: current.badge(),
        nav: "profile",
        form: ProfileValues {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            company_name: c.company_name.clone(),
            email: c.email.clone(),
        },
        custom_fields: inputs(&editable, Audience::Client, &stored, &stored),
        errors: FormErrors::new(),
    };
    state.render_view(&page, &view).await
}

pub async fn update_profile(
    State(state): State<AppState>,
    page: Page,
    current: ClientAllowed<client_perm::Profile>,
    Form(form): Form<ProfileForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let first_name = required_text(&mut errors, "first_name", &form.first_name, "your first name", 100);
    let last_name = required_text(&mut errors, "last_name", &form.last_name, "your last name", 100);
    let company_name = optional_text(&mut errors, "company_name", &form.company_name, 150);
    let editable = fields::for_audience(&state.db, Audience::Client).await?;
    let stored = fields::values_of(&state.db, current.client.id).await?;
    let custom = fields::validate(&editable, Audience::Client, &form.custom, &stored, &mut errors);
    if errors.is_empty() {
        let profile = Profile { first_name, last_name, company_name, custom };
        service::update_profile(&state, &current.client, profile, &current.actor(&page.ip)).await?;
        return Ok(flash::redirect(&state, "/account/profile", "success", "Your profile was saved."));
    }
    let typed = fields::typed(&editable, Audience::Client, &form.custom);
    let view = ProfilePage {
        current_client: current.badge(),
        nav: "profile",
        form: ProfileValues {
            first_name: form.first_name.trim().to_owned(),
            last_name: form.last_name.trim().to_owned(),
            company_name: form.company_name.trim().to_owned(),
            email: current.client.email.clone(),
        },
        custom_fields: inputs(&editable, Audience::Client, &typed, &stored),
        errors,
    };
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
}
