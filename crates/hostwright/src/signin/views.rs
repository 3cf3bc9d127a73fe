//! What the sign-in and account security pages show, in both areas: one view per page (its
//! fields are the template's variables), each with the samples the template test renders.

use minijinja::Value;
use serde::Serialize;

use crate::clients::current::ClientBadge;
use crate::staff::current::StaffBadge;
use crate::web::{FormErrors, PageView};

/// The area a shared page is shown in (`area` in the `auth/` templates).
#[derive(Debug, Clone, Serialize)]
pub struct AreaView {
    /// Prefix of the area's addresses: `/admin` or empty.
    pub base: &'static str,
    pub home: &'static str,
    pub security: &'static str,
    /// The layout the page extends.
    pub layout: &'static str,
    pub kind: &'static str,
}

/// Who is signed in, as the area's layout expects them.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SignedIn {
    Staff { current_staff: StaffBadge },
    Client { current_client: ClientBadge },
}

#[derive(Debug, Serialize)]
pub struct LoginPage {
    pub area: AreaView,
    pub email: String,
    /// Where to go once signed in.
    pub next: String,
    pub errors: FormErrors,
}

impl PageView for LoginPage {
    const TEMPLATE: &'static str = "auth/login.html";
}

/// The second step of signing in: a code from the app or a recovery code.
#[derive(Debug, Serialize)]
pub struct SecondFactorPage {
    pub area: AreaView,
    pub next: String,
    pub errors: FormErrors,
}

impl PageView for SecondFactorPage {
    const TEMPLATE: &'static str = "auth/login_2fa.html";
}

#[derive(Debug, Serialize)]
pub struct ForgotPage {
    pub area: AreaView,
    pub email: String,
    /// Whether the request was taken (the page then says to check the inbox).
    pub sent: bool,
    pub errors: FormErrors,
}

impl PageView for ForgotPage {
    const TEMPLATE: &'static str = "auth/forgot.html";
}

#[derive(Debug, Serialize)]
pub struct ResetPage {
    pub area: AreaView,
    /// Whether the link still works.
    pub valid: bool,
    pub errors: FormErrors,
}

impl PageView for ResetPage {
    const TEMPLATE: &'static str = "auth/reset.html";
}

/// A session of the signed-in person.
#[derive(Debug, Serialize)]
pub struct SessionRow {
    pub ip: String,
    pub user_agent: String,
    pub created_at: String,
    pub last_seen_at: String,
    /// Whether it is the session showing the page.
    pub current: bool,
}

/// Password, second factor and sessions.
#[derive(Debug, Serialize)]
pub struct SecurityPage {
    #[serde(flatten)]
    pub signed_in: SignedIn,
    pub area: AreaView,
    pub nav: &'static str,
    pub twofa_enabled: bool,
    pub twofa_required: bool,
    pub twofa_path: String,
    pub recovery_remaining: u64,
    pub sessions: Vec<SessionRow>,
    pub errors: FormErrors,
}

impl PageView for SecurityPage {
    const TEMPLATE: &'static str = "auth/security.html";
}

/// Turning the second factor on (with the QR code of a new secret) or off.
#[derive(Debug, Serialize)]
pub struct TwofaPage {
    #[serde(flatten)]
    pub signed_in: SignedIn,
    pub area: AreaView,
    pub nav: &'static str,
    pub enabled: bool,
    /// Whether staff must keep it on.
    pub required: bool,
    /// The QR code as SVG markup the page embeds as is (a safe string).
    pub qr_svg: Value,
    pub secret: String,
    pub twofa_path: String,
    pub recovery_remaining: u64,
    pub errors: FormErrors,
}

impl PageView for TwofaPage {
    const TEMPLATE: &'static str = "auth/twofa.html";
}

/// New recovery codes, shown once.
#[derive(Debug, Serialize)]
pub struct RecoveryCodesPage {
    #[serde(flatten)]
    pub signed_in: SignedIn,
    pub area: AreaView,
    pub nav: &'static str,
    pub codes: Vec<String>,
}

impl PageView for RecoveryCodesPage {
    const TEMPLATE: &'static str = "auth/recovery_codes.html";
}

/// The password reset link (added when sent) and how long it works.
#[derive(Debug, Serialize)]
pub struct PasswordResetEmail {
    pub minutes: i64,
}

impl crate::mail::EmailView for PasswordResetEmail {
    const TEMPLATE: &'static str = "password_reset";
}

#[cfg(test)]
pub use samples::all as samples;

#[cfg(test)]
mod samples {
    use super::*;
    use crate::signin::handlers::{Admin, Area, ClientArea};
    use crate::web::view::{SCRIPT, Sample, TIME, form_errors};

    /// The pages of signing in, for both areas, and the client's with sign-ups closed.
    fn signing_in() -> Vec<Sample> {
        let (admin, client) = (Admin::view(), ClientArea::view());
        let mut out = Vec::new();
        for (area, open) in [(&admin, true), (&client, true), (&client, false)] {
            let empty =
                LoginPage { area: area.clone(), email: String::new(), next: String::new(), errors: FormErrors::new() };
            let typed = LoginPage {
                area: area.clone(),
                email: SCRIPT.into(),
                next: SCRIPT.into(),
                errors: form_errors("email"),
            };
            out.push(Sample::page_with_registration(&empty, open));
            out.push(Sample::page_with_registration(&typed, open));
        }
        for area in [&admin, &client] {
            let area = || area.clone();
            out.push(Sample::page(&SecondFactorPage { area: area(), next: String::new(), errors: FormErrors::new() }));
            out.push(Sample::page(&SecondFactorPage {
                area: area(),
                next: SCRIPT.into(),
                errors: form_errors("code"),
            }));
            for (email, sent, errors) in [
                ("", false, FormErrors::new()),
                (SCRIPT, false, form_errors("email")),
                (SCRIPT, true, FormErrors::new()),
            ] {
                out.push(Sample::page(&ForgotPage { area: area(), email: email.into(), sent, errors }));
            }
            out.push(Sample::page(&ResetPage { area: area(), valid: false, errors: FormErrors::new() }));
            out.push(Sample::page(&ResetPage { area: area(), valid: true, errors: form_errors("password") }));
        }
        out
    }

    /// The security pages of a member who must use 2FA, one who need not, and a client.
    fn security() -> Vec<Sample> {
        let sessions = || {
            vec![
                SessionRow {
                    ip: "192.0.2.1".into(),
                    user_agent: SCRIPT.into(),
                    created_at: TIME.into(),
                    last_seen_at: TIME.into(),
                    current: true,
                },
                SessionRow {
                    ip: String::new(),
                    user_agent: String::new(),
                    created_at: TIME.into(),
                    last_seen_at: TIME.into(),
                    current: false,
                },
            ]
        };
        // (area, who is signed in, nav, 2FA path, whether staff must use 2FA)
        let signed_in = [
            (
                Admin::view(),
                SignedIn::Staff { current_staff: StaffBadge::sample_all() },
                "account",
                "/admin/account/2fa",
                true,
            ),
            (
                Admin::view(),
                SignedIn::Staff { current_staff: StaffBadge::sample(&[]) },
                "account",
                "/admin/account/2fa",
                false,
            ),
            (
                ClientArea::view(),
                SignedIn::Client { current_client: ClientBadge::sample_owner(true) },
                "security",
                "/account/2fa",
                false,
            ),
        ];
        let mut out = Vec::new();
        for (area, who, nav, twofa_path, twofa_required) in signed_in {
            for (twofa_enabled, recovery_remaining, errors) in
                [(true, 1, FormErrors::new()), (false, 0, form_errors("current_password"))]
            {
                out.push(Sample::page(&SecurityPage {
                    signed_in: who.clone(),
                    area: area.clone(),
                    nav,
                    twofa_enabled,
                    twofa_required,
                    twofa_path: twofa_path.into(),
                    recovery_remaining,
                    sessions: sessions(),
                    errors,
                }));
            }
            for (enabled, errors) in [(true, form_errors("current_password")), (false, form_errors("code"))] {
                out.push(Sample::page(&TwofaPage {
                    signed_in: who.clone(),
                    area: area.clone(),
                    nav,
                    enabled,
                    required: twofa_required,
                    qr_svg: Value::from_safe_string(if enabled { String::new() } else { "<svg></svg>".into() }),
                    secret: if enabled { "" } else { "JBSWY3DPEHPK3PXP" }.into(),
                    twofa_path: twofa_path.into(),
                    recovery_remaining: 3,
                    errors,
                }));
            }
            out.push(Sample::page(&RecoveryCodesPage {
                signed_in: who,
                area,
                nav,
                codes: vec!["abcd-efgh".into(), "ijkl-mnop".into()],
            }));
        }
        out
    }

    /// Every sign-in page and email, in its sample states.
    pub fn all() -> Vec<Sample> {
        let mut out = signing_in();
        out.extend(security());
        out.extend(crate::mail::samples_with_link(&PasswordResetEmail { minutes: 60 }));
        out
    }
}
