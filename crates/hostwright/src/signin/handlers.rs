//! Sign-in, second factor, sign-out, password reset and the security page, written once
//! and mounted in both areas: `Admin` under `/admin`, `ClientArea` at the root.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use minijinja::Value;
use serde::Deserialize;

use super::account::{self, Account};
use super::flows::{self, NewSession, Origin};
use super::views::{
    AreaView, ForgotPage, LoginPage, RecoveryCodesPage, ResetPage, SecondFactorPage, SecurityPage, SessionRow,
    SignedIn, TwofaPage,
};
use crate::auth::session::{self, PendingSecondFactor, Stage};
use crate::auth::{AuthError, PrincipalKind, recovery, throttle, totp};
use crate::clients::current::CurrentClient;
use crate::staff::current::CurrentStaff;
use crate::state::AppState;
use crate::web::forms::EmailAddress;
use crate::web::retry::keyed;
use crate::web::{AppError, AppResult, FormErrors, Page, csrf, flash};

/// A signed-in person as the shared pages need them.
pub trait Signed: FromRequestParts<AppState, Rejection = AppError> + Send + Sync + 'static {
    fn kind(&self) -> PrincipalKind;
    fn id(&self) -> i64;
    fn session_token(&self) -> &str;
    /// Who is signed in, as the area's layout shows them.
    fn signed_in(&self) -> SignedIn;
}

impl Signed for CurrentStaff {
    fn kind(&self) -> PrincipalKind {
        PrincipalKind::Staff
    }
    fn id(&self) -> i64 {
        self.staff.id.0
    }
    fn session_token(&self) -> &str {
        &self.session_token
    }
    fn signed_in(&self) -> SignedIn {
        SignedIn::Staff { current_staff: self.badge() }
    }
}

impl Signed for CurrentClient {
    fn kind(&self) -> PrincipalKind {
        if self.contact.is_some() { PrincipalKind::Contact } else { PrincipalKind::Client }
    }
    fn id(&self) -> i64 {
        self.contact.as_ref().map_or(self.client.id.0, |c| c.id.0)
    }
    fn session_token(&self) -> &str {
        &self.session_token
    }
    fn signed_in(&self) -> SignedIn {
        SignedIn::Client { current_client: self.badge() }
    }
}

/// One of the two areas people sign in to.
pub trait Area: Send + Sync + 'static {
    const KIND: PrincipalKind;
    /// Prefix of the area's addresses: `/admin` or empty.
    const BASE: &'static str;
    /// Where a signed-in person lands.
    const HOME: &'static str;
    /// The security page (password, 2FA, sessions).
    const SECURITY: &'static str;
    const LAYOUT: &'static str;
    const SECURITY_NAV: &'static str;
    type Current: Signed;

    fn path(rest: &str) -> String {
        format!("{}{rest}", Self::BASE)
    }

    fn view() -> AreaView {
        AreaView {
            base: Self::BASE,
            home: Self::HOME,
            security: Self::SECURITY,
            layout: Self::LAYOUT,
            kind: Self::KIND.as_str(),
        }
    }
}

pub struct Admin;
impl Area for Admin {
    const KIND: PrincipalKind = PrincipalKind::Staff;
    const BASE: &'static str = "/admin";
    const HOME: &'static str = "/admin";
    const SECURITY: &'static str = "/admin/account";
    const LAYOUT: &'static str = "layout/admin.html";
    const SECURITY_NAV: &'static str = "account";
    type Current = CurrentStaff;
}

pub struct ClientArea;
impl Area for ClientArea {
    const KIND: PrincipalKind = PrincipalKind::Client;
    const BASE: &'static str = "";
    const HOME: &'static str = "/account";
    const SECURITY: &'static str = "/account/security";
    const LAYOUT: &'static str = "layout/client.html";
    const SECURITY_NAV: &'static str = "security";
    type Current = CurrentClient;
}

/// The routes of sign-in and account security for one area.
pub fn router<A: Area>() -> Router<AppState> {
    Router::new()
        .route(&A::path("/login"), keyed(get(login_form::<A>).post(login::<A>)))
        .route(&A::path("/login/2fa"), get(second_factor_form::<A>).post(second_factor::<A>))
        .route(&A::path("/logout"), post(logout::<A>))
        .route(&A::path("/password/forgot"), get(forgot_form::<A>).post(forgot::<A>))
        .route(&A::path("/password/reset/{token}"), get(reset_form::<A>).post(reset::<A>))
        .route(A::SECURITY, get(security_page::<A>))
        .route(&format!("{}/password", A::SECURITY), post(change_password::<A>))
        .route(&format!("{}/sessions/revoke", A::SECURITY), post(revoke_sessions::<A>))
        .route(&twofa_path::<A>(""), get(twofa_page::<A>).post(enable_twofa::<A>))
        .route(&twofa_path::<A>("/disable"), post(disable_twofa::<A>))
        .route(&twofa_path::<A>("/recovery-codes"), post(regenerate_codes::<A>))
}

fn twofa_path<A: Area>(rest: &str) -> String {
    match A::KIND {
        PrincipalKind::Staff => format!("/admin/account/2fa{rest}"),
        PrincipalKind::Client | PrincipalKind::Contact => format!("/account/2fa{rest}"),
    }
}

fn origin(page: &Page) -> Origin {
    Origin { ip: page.ip.clone(), user_agent: page.user_agent.clone() }
}

/// Where to go on after signing in to area `A` (see `web::redirects::safe_next`).
pub(crate) fn safe_next<A: Area>(base_url: &url::Url, next: Option<&str>) -> String {
    crate::web::redirects::safe_next(base_url, next, A::BASE, A::HOME)
}

/// A response that sets a session cookie (and a fresh CSRF cookie) and redirects.
fn with_session(state: &AppState, kind: PrincipalKind, token: String, to: &str) -> Response {
    let jar = CookieJar::new().add(session::cookie(&state.settings, kind, token)).add(csrf::new_cookie(state));
    (jar, Redirect::to(to)).into_response()
}

fn with_session_flash(state: &AppState, kind: PrincipalKind, token: String, to: &str, message: &str) -> Response {
    let mut response = flash::redirect(state, to, "success", message);
    let cookie = session::cookie(&state.settings, kind, token);
    if let Ok(value) = cookie.to_string().parse() {
        response.headers_mut().append(axum::http::header::SET_COOKIE, value);
    }
    response
}

fn locked_message(minutes: i64) -> String {
    format!("Too many attempts. Try again in {minutes} minute{}.", if minutes == 1 { "" } else { "s" })
}

async fn current_account<A: Area>(state: &AppState, current: &A::Current) -> AppResult<Account> {
    account::find(&state.db, current.kind(), current.id()).await?.ok_or(AppError::NotFound)
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login_form<A: Area>(
    State(state): State<AppState>,
    page: Page,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    let view = LoginPage {
        area: A::view(),
        email: String::new(),
        next: q.next.unwrap_or_default(),
        errors: FormErrors::new(),
    };
    state.render_view(&page, &view).await
}

async fn login<A: Area>(State(state): State<AppState>, page: Page, Form(form): Form<LoginForm>) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    if form.email.trim().is_empty() {
        errors.add("email", "Enter your email address.");
    }
    if form.password.is_empty() {
        errors.add("password", "Enter your password.");
    }
    let status = if errors.is_empty() {
        match flows::sign_in(&state, A::KIND, &form.email, &form.password, &origin(&page)).await {
            Ok(NewSession { token, stage: Stage::Authenticated, .. }) => {
                return Ok(with_session(
                    &state,
                    A::KIND,
                    token,
                    &safe_next::<A>(&state.settings.base_url, Some(&form.next)),
                ));
            }
            Ok(NewSession { token, .. }) => {
                let to = format!("{}?next={}", A::path("/login/2fa"), urlencode(&form.next));
                return Ok(with_session(&state, A::KIND, token, &to));
            }
            Err(AuthError::Locked(locked)) => {
                errors.add("_form", locked_message(locked.minutes_left()));
                StatusCode::TOO_MANY_REQUESTS
            }
            Err(AuthError::InvalidCredentials) => {
                errors.add("_form", "That email address and password do not match an account.");
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Err(err) => return Err(internal(err)),
        }
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = LoginPage { area: A::view(), email: form.email.trim().to_owned(), next: form.next, errors };
    state.render_view_status(status, &page, &view).await
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn internal(err: AuthError) -> AppError {
    match err {
        AuthError::Internal(err) => AppError::Internal(err),
        other => AppError::Internal(anyhow::Error::new(other)),
    }
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

async fn second_factor_form<A: Area>(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> AppResult<Response> {
    if PendingSecondFactor::load(&state, &headers, A::KIND).await.is_none() {
        return Ok(Redirect::to(&A::path("/login")).into_response());
    }
    let view = SecondFactorPage { area: A::view(), next: q.next.unwrap_or_default(), errors: FormErrors::new() };
    state.render_view(&page, &view).await
}

async fn second_factor<A: Area>(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(pending) = PendingSecondFactor::load(&state, &headers, A::KIND).await else {
        return Ok(flash::redirect(
            &state,
            &A::path("/login"),
            "error",
            "Your sign-in took too long. Please start again.",
        ));
    };
    let mut errors = FormErrors::new();
    let status = if form.code.trim().is_empty() {
        errors.add("code", "Enter the code from your authenticator app, or a recovery code.");
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        match flows::second_factor(&state, &pending.session, &pending.token, &form.code, &origin(&page)).await {
            Ok(new) => {
                return Ok(with_session(
                    &state,
                    A::KIND,
                    new.token,
                    &safe_next::<A>(&state.settings.base_url, Some(&form.next)),
                ));
            }
            Err(AuthError::Locked(locked)) => {
                errors.add("_form", locked_message(locked.minutes_left()));
                StatusCode::TOO_MANY_REQUESTS
            }
            Err(AuthError::InvalidCode) => {
                errors.add("code", "That code is not valid. Codes change every 30 seconds and work once.");
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Err(err) => return Err(internal(err)),
        }
    };
    let view = SecondFactorPage { area: A::view(), next: form.next, errors };
    state.render_view_status(status, &page, &view).await
}

async fn logout<A: Area>(State(state): State<AppState>, page: Page, current: A::Current) -> AppResult<Response> {
    let account = current_account::<A>(&state, &current).await?;
    flows::sign_out(&state, &account, current.session_token(), &page.ip).await.map_err(internal)?;
    let mut response = flash::redirect(&state, &A::path("/login"), "info", "You have signed out.");
    for cookie in [session::removal_cookie(&state.settings, A::KIND), csrf::new_cookie(&state)] {
        if let Ok(value) = cookie.to_string().parse() {
            response.headers_mut().append(axum::http::header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot_form<A: Area>(State(state): State<AppState>, page: Page) -> AppResult<Response> {
    let view = ForgotPage { area: A::view(), email: String::new(), sent: false, errors: FormErrors::new() };
    state.render_view(&page, &view).await
}

async fn forgot<A: Area>(
    State(state): State<AppState>,
    page: Page,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    let email = match EmailAddress::parse(&form.email) {
        Ok(email) => Some(email),
        Err(message) => {
            errors.add("email", message);
            None
        }
    };
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let Some(email) = email {
        match flows::request_password_reset(
            &state,
            A::KIND,
            email.as_str(),
            &A::path("/password/reset"),
            &origin(&page),
        )
        .await
        {
            Ok(()) => {
                let view = ForgotPage { area: A::view(), email: email.as_str().to_owned(), sent: true, errors };
                return state.render_view(&page, &view).await;
            }
            Err(AuthError::Locked(locked)) => {
                errors.add("_form", locked_message(locked.minutes_left()));
                status = StatusCode::TOO_MANY_REQUESTS;
            }
            Err(err) => return Err(internal(err)),
        }
    }
    let view = ForgotPage { area: A::view(), email: form.email.trim().to_owned(), sent: false, errors };
    state.render_view_status(status, &page, &view).await
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

async fn reset_form<A: Area>(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let valid =
        crate::auth::tokens::peek(&state.db, crate::auth::tokens::Purpose::PasswordReset, &token).await?.is_some();
    state.render_view(&page, &ResetPage { area: A::view(), valid, errors: FormErrors::new() }).await
}

async fn reset<A: Area>(
    State(state): State<AppState>,
    page: Page,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    let mut errors = FormErrors::new();
    if form.password != form.password_confirm {
        errors.add("password_confirm", "The two passwords are not the same.");
    }
    if let Err(AuthError::Locked(locked)) = throttle::limit_requests(&state, "reset-submit", &page.ip).await {
        errors.add("_form", locked_message(locked.minutes_left()));
    }
    if errors.is_empty() {
        match flows::reset_password(&state, A::KIND, &token, &form.password, &origin(&page)).await {
            Ok(_) => {
                return Ok(flash::redirect(
                    &state,
                    &A::path("/login"),
                    "success",
                    "Your password has been changed. Sign in with the new one.",
                ));
            }
            Err(AuthError::WeakPassword(message)) => errors.add("password", message),
            Err(AuthError::InvalidLink) => {
                errors.add("_form", "This link is invalid, has expired or was already used. Ask for a new one.")
            }
            Err(err) => return Err(internal(err)),
        }
    }
    let view = ResetPage { area: A::view(), valid: true, errors };
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
}

async fn security_view<A: Area>(state: &AppState, current: &A::Current, errors: FormErrors) -> AppResult<SecurityPage> {
    let account = current_account::<A>(state, current).await?;
    let sessions = session::list_for(&state.db, &state.settings, A::KIND, account.id).await?;
    let this_session = crate::crypto::token_hash(current.session_token());
    let sessions = sessions
        .iter()
        .map(|s| SessionRow {
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            created_at: s.created_at.to_rfc3339(),
            last_seen_at: s.last_seen_at.to_rfc3339(),
            current: s.id == this_session,
        })
        .collect();
    let remaining = recovery::remaining(&state.db, A::KIND, account.id).await?;
    let policy = crate::site_settings::load(&state.db).await?;
    let twofa_required = A::KIND == PrincipalKind::Staff && policy.require_staff_2fa;
    Ok(SecurityPage {
        signed_in: current.signed_in(),
        area: A::view(),
        nav: A::SECURITY_NAV,
        twofa_enabled: account.totp_enabled,
        twofa_required,
        twofa_path: twofa_path::<A>(""),
        recovery_remaining: remaining,
        sessions,
        errors,
    })
}

async fn security_page<A: Area>(State(state): State<AppState>, page: Page, current: A::Current) -> AppResult<Response> {
    let view = security_view::<A>(&state, &current, FormErrors::new()).await?;
    state.render_view(&page, &view).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_confirm: String,
}

async fn change_password<A: Area>(
    State(state): State<AppState>,
    page: Page,
    current: A::Current,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let account = current_account::<A>(&state, &current).await?;
    let mut errors = FormErrors::new();
    if form.new_password != form.new_password_confirm {
        errors.add("new_password_confirm", "The two new passwords are not the same.");
    }
    if errors.is_empty() {
        match flows::change_password(&state, &account, &form.current_password, &form.new_password, &origin(&page)).await
        {
            Ok(token) => {
                return Ok(with_session_flash(
                    &state,
                    A::KIND,
                    token,
                    A::SECURITY,
                    "Your password has been changed. Other sessions were signed out.",
                ));
            }
            Err(AuthError::InvalidCredentials) => errors.add("current_password", "That is not your current password."),
            Err(AuthError::WeakPassword(message)) => errors.add("new_password", message),
            Err(err) => return Err(internal(err)),
        }
    }
    let view = security_view::<A>(&state, &current, errors).await?;
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
}

async fn revoke_sessions<A: Area>(
    State(state): State<AppState>,
    page: Page,
    current: A::Current,
) -> AppResult<Response> {
    let account = current_account::<A>(&state, &current).await?;
    let token = flows::sign_out_everywhere(&state, &account, &origin(&page)).await.map_err(internal)?;
    Ok(with_session_flash(&state, A::KIND, token, A::SECURITY, "You have been signed out everywhere else."))
}

async fn twofa_view<A: Area>(state: &AppState, current: &A::Current, errors: FormErrors) -> AppResult<TwofaPage> {
    let account = current_account::<A>(state, current).await?;
    let secret = if account.totp_enabled {
        None
    } else {
        Some(flows::pending_totp_secret(state, &account).await.map_err(internal)?)
    };
    let (qr, secret_text) = match &secret {
        Some(secret) => {
            let uri = totp::provisioning_uri(secret, &state.settings.site_name, &account.email);
            (totp::qr_svg(&uri), totp::secret_base32(secret))
        }
        None => (String::new(), String::new()),
    };
    let policy = crate::site_settings::load(&state.db).await?;
    Ok(TwofaPage {
        signed_in: current.signed_in(),
        area: A::view(),
        nav: A::SECURITY_NAV,
        enabled: account.totp_enabled,
        required: A::KIND == PrincipalKind::Staff && policy.require_staff_2fa,
        qr_svg: Value::from_safe_string(qr),
        secret: secret_text,
        twofa_path: twofa_path::<A>(""),
        recovery_remaining: recovery::remaining(&state.db, A::KIND, account.id).await?,
        errors,
    })
}

fn recovery_codes_view<A: Area>(current: &A::Current, codes: Vec<String>) -> RecoveryCodesPage {
    RecoveryCodesPage { signed_in: current.signed_in(), area: A::view(), nav: A::SECURITY_NAV, codes }
}

async fn twofa_page<A: Area>(State(state): State<AppState>, page: Page, current: A::Current) -> AppResult<Response> {
    let view = twofa_view::<A>(&state, &current, FormErrors::new()).await?;
    state.render_view(&page, &view).await
}

async fn enable_twofa<A: Area>(
    State(state): State<AppState>,
    page: Page,
    current: A::Current,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let account = current_account::<A>(&state, &current).await?;
    match flows::enable_totp(&state, &account, &form.code, &origin(&page)).await {
        Ok((codes, token)) => {
            let view = recovery_codes_view::<A>(&current, codes);
            // The session was renewed with the new factor: the page's forms go with the new one.
            let page = page.with_session(&state, A::KIND, &token);
            let mut response = state.render_view(&page, &view).await?;
            let cookie = session::cookie(&state.settings, A::KIND, token);
            if let Ok(value) = cookie.to_string().parse() {
                response.headers_mut().append(axum::http::header::SET_COOKIE, value);
            }
            Ok(response)
        }
        Err(AuthError::InvalidCode) => {
            let mut errors = FormErrors::new();
            errors.add("code", "That code is not valid. Check the time on your phone and try the current code.");
            let view = twofa_view::<A>(&state, &current, errors).await?;
            state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
        }
        Err(err) => Err(internal(err)),
    }
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    code: String,
}

async fn disable_twofa<A: Area>(
    State(state): State<AppState>,
    page: Page,
    current: A::Current,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let policy = crate::site_settings::load(&state.db).await?;
    if A::KIND == PrincipalKind::Staff && policy.require_staff_2fa {
        return Ok(flash::redirect(
            &state,
            &twofa_path::<A>(""),
            "error",
            "Two-factor authentication is required for all staff and cannot be turned off.",
        ));
    }
    let account = current_account::<A>(&state, &current).await?;
    let keep = current.session_token().to_owned();
    let mut errors = FormErrors::new();
    match flows::disable_totp(&state, &account, &form.current_password, &form.code, &keep, &origin(&page)).await {
        Ok(()) => {
            return Ok(flash::redirect(
                &state,
                A::SECURITY,
                "success",
                "Two-factor authentication is now off; you were signed out everywhere else.",
            ));
        }
        Err(AuthError::InvalidCredentials) => errors.add("current_password", "That is not your current password."),
        Err(AuthError::InvalidCode) => {
            errors.add("code", "That code is not right. Enter the current code from your app, or a recovery code.")
        }
        Err(err) => return Err(internal(err)),
    }
    let view = twofa_view::<A>(&state, &current, errors).await?;
    state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
}

async fn regenerate_codes<A: Area>(
    State(state): State<AppState>,
    page: Page,
    current: A::Current,
    Form(form): Form<ConfirmForm>,
) -> AppResult<Response> {
    let account = current_account::<A>(&state, &current).await?;
    match flows::regenerate_recovery_codes(&state, &account, &form.current_password, &origin(&page)).await {
        Ok(codes) => state.render_view(&page, &recovery_codes_view::<A>(&current, codes)).await,
        Err(AuthError::InvalidCredentials) => {
            let mut errors = FormErrors::new();
            errors.add("current_password", "That is not your current password.");
            let view = twofa_view::<A>(&state, &current, errors).await?;
            state.render_view_status(StatusCode::UNPROCESSABLE_ENTITY, &page, &view).await
        }
        Err(err) => Err(internal(err)),
    }
}
