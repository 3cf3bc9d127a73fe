//! What the staff pages show: one view per page (its fields are the template's variables),
//! each with the samples the template test renders.

use serde::Serialize;

use super::current::StaffBadge;
use crate::audit::history::AuditRow;
use crate::ids::{RoleId, StaffId};
use crate::site_settings::SiteSettings;
use crate::web::{FormErrors, PageView};

/// The first-run page that creates the first administrator.
#[derive(Debug, Serialize)]
pub struct SetupPage {
    /// Whether the link still works (no staff yet, token unused).
    pub open: bool,
    pub name: String,
    pub email: String,
    pub errors: FormErrors,
}

impl PageView for SetupPage {
    const TEMPLATE: &'static str = "admin/setup.html";
}

/// Where an invited member chooses their password.
#[derive(Debug, Serialize)]
pub struct InvitePage {
    pub valid: bool,
    pub errors: FormErrors,
}

impl PageView for InvitePage {
    const TEMPLATE: &'static str = "admin/invite.html";
}

/// A member in the staff list.
#[derive(Debug, Serialize)]
pub struct MemberRow {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub role: String,
    pub status: String,
    pub invited: bool,
    pub twofa: bool,
    pub last_login_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StaffListPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub members: Vec<MemberRow>,
    pub can_manage: bool,
}

impl PageView for StaffListPage {
    const TEMPLATE: &'static str = "admin/staff/list.html";
}

/// The new-member form as typed.
#[derive(Debug, Serialize)]
pub struct StaffFormValues {
    pub name: String,
    pub email: String,
    pub role_id: String,
    /// `invite` or `password`.
    pub mode: String,
}

#[derive(Debug, Serialize)]
pub struct NewStaffPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    /// (id, name) of every role.
    pub roles: Vec<(String, String)>,
    pub form: StaffFormValues,
    pub errors: FormErrors,
}

impl PageView for NewStaffPage {
    const TEMPLATE: &'static str = "admin/staff/new.html";
}

/// One member's record.
#[derive(Debug, Serialize)]
pub struct MemberDetail {
    pub id: StaffId,
    pub name: String,
    pub email: String,
    pub role_id: String,
    pub status: String,
    pub invited: bool,
    pub twofa: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
    pub sessions: usize,
    /// Whether the viewer is looking at themselves (who cannot disable or demote themselves).
    pub is_me: bool,
}

#[derive(Debug, Serialize)]
pub struct StaffPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub member: MemberDetail,
    pub roles: Vec<(String, String)>,
    pub can_manage: bool,
    pub history: Vec<AuditRow>,
}

impl PageView for StaffPage {
    const TEMPLATE: &'static str = "admin/staff/show.html";
}

/// A role in the roles list, with the labels of the permissions it grants.
#[derive(Debug, Serialize)]
pub struct RoleRow {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub all: bool,
    pub permissions: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct RolesPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub roles: Vec<RoleRow>,
    pub can_manage: bool,
}

impl PageView for RolesPage {
    const TEMPLATE: &'static str = "admin/roles/list.html";
}

#[derive(Debug, Serialize)]
pub struct RoleDetail {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    pub all: bool,
}

/// A permission's box on the role form.
#[derive(Debug, Serialize)]
pub struct PermissionChoice {
    pub key: &'static str,
    pub label: &'static str,
    pub granted: bool,
}

#[derive(Debug, Serialize)]
pub struct RolePage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub role: RoleDetail,
    pub permissions: Vec<PermissionChoice>,
}

impl PageView for RolePage {
    const TEMPLATE: &'static str = "admin/roles/edit.html";
}

/// The business settings staff edit.
#[derive(Debug, Serialize)]
pub struct SettingsPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub settings: SiteSettings,
}

impl PageView for SettingsPage {
    const TEMPLATE: &'static str = "admin/settings.html";
}

/// The invitation a new member gets (the link to choose a password is added when sent).
#[derive(Debug, Serialize)]
pub struct StaffInviteEmail {
    pub role: String,
    pub inviter: String,
}

impl crate::mail::EmailView for StaffInviteEmail {
    const TEMPLATE: &'static str = "staff_invite";
}

#[cfg(test)]
pub use samples::all as samples;

#[cfg(test)]
mod samples {
    use super::*;
    use crate::audit::history::sample_rows;
    use crate::permissions::Permission;
    use crate::web::view::{SCRIPT, Sample, TIME, form_errors};

    fn role_options() -> Vec<(String, String)> {
        vec![("1".into(), "Administrator".into()), ("2".into(), SCRIPT.into())]
    }

    impl SetupPage {
        fn samples() -> Vec<Self> {
            vec![
                SetupPage { open: true, name: String::new(), email: String::new(), errors: FormErrors::new() },
                SetupPage { open: true, name: SCRIPT.into(), email: SCRIPT.into(), errors: form_errors("email") },
                SetupPage { open: false, name: String::new(), email: String::new(), errors: FormErrors::new() },
            ]
        }
    }

    impl InvitePage {
        fn samples() -> Vec<Self> {
            vec![
                InvitePage { valid: true, errors: FormErrors::new() },
                InvitePage { valid: true, errors: form_errors("password") },
                InvitePage { valid: false, errors: FormErrors::new() },
            ]
        }
    }

    impl StaffListPage {
        fn samples() -> Vec<Self> {
            let member = |id: i64, name: &str, email: &str, role: &str, status: &str, invited, twofa, last| MemberRow {
                id: StaffId(id),
                name: name.into(),
                email: email.into(),
                role: role.into(),
                status: status.into(),
                invited,
                twofa,
                last_login_at: last,
            };
            let members = vec![
                member(1, SCRIPT, SCRIPT, "Administrator", "active", false, true, Some(TIME.to_owned())),
                member(2, "Sam", "sam@example.com", "", "disabled", true, false, None),
                member(3, "Kim", "kim@example.com", "Support", "odd", false, false, None),
            ];
            [(members, true), (Vec::new(), false)]
                .into_iter()
                .map(|(members, can_manage)| StaffListPage {
                    current_staff: StaffBadge::sample_all(),
                    nav: "staff",
                    members,
                    can_manage,
                })
                .collect()
        }
    }

    impl NewStaffPage {
        fn samples() -> Vec<Self> {
            let empty = StaffFormValues {
                name: String::new(),
                email: String::new(),
                role_id: String::new(),
                mode: "invite".into(),
            };
            let filled = StaffFormValues {
                name: SCRIPT.into(),
                email: SCRIPT.into(),
                role_id: "2".into(),
                mode: "password".into(),
            };
            let mut mode_errors = form_errors("email");
            mode_errors.add("mode", SCRIPT);
            mode_errors.add("role_id", SCRIPT);
            [(empty, FormErrors::new()), (filled, mode_errors)]
                .into_iter()
                .map(|(form, errors)| NewStaffPage {
                    current_staff: StaffBadge::sample_all(),
                    nav: "staff",
                    roles: role_options(),
                    form,
                    errors,
                })
                .collect()
        }
    }

    impl StaffPage {
        fn samples() -> Vec<Self> {
            let all = || StaffBadge::sample_all();
            // (status, invited, 2FA, last sign-in, is me, can manage, viewer, history)
            let shown = [
                ("active", false, true, Some(TIME), false, true, all(), sample_rows()),
                ("disabled", true, false, None, false, true, all(), Vec::new()),
                ("active", false, false, Some(TIME), true, true, all(), sample_rows()),
                ("active", false, false, None, false, false, StaffBadge::sample(&["staff.view"]), sample_rows()),
            ];
            shown
                .into_iter()
                .map(|(status, invited, twofa, last_login_at, is_me, can_manage, viewer, history)| StaffPage {
                    current_staff: viewer,
                    nav: "staff",
                    member: MemberDetail {
                        id: StaffId(2),
                        name: SCRIPT.into(),
                        email: SCRIPT.into(),
                        role_id: if is_me { "9" } else { "2" }.into(),
                        status: status.into(),
                        invited,
                        twofa,
                        created_at: TIME.into(),
                        last_login_at: last_login_at.map(str::to_owned),
                        sessions: 2,
                        is_me,
                    },
                    roles: role_options(),
                    can_manage,
                    history,
                })
                .collect()
        }
    }

    impl RolesPage {
        fn samples() -> Vec<Self> {
            let role = |id: i64, name: &str, description: &str, all: bool, permissions: Vec<&'static str>| RoleRow {
                id: RoleId(id),
                name: name.into(),
                description: description.into(),
                all,
                permissions,
            };
            let roles = vec![
                role(1, "Administrator", SCRIPT, true, Vec::new()),
                role(2, SCRIPT, "", false, Permission::ALL.iter().map(|p| p.label()).collect()),
                role(3, "Nobody", "", false, Vec::new()),
            ];
            [(roles, true), (Vec::new(), false)]
                .into_iter()
                .map(|(roles, can_manage)| RolesPage {
                    current_staff: StaffBadge::sample_all(),
                    nav: "roles",
                    roles,
                    can_manage,
                })
                .collect()
        }
    }

    impl RolePage {
        fn samples() -> Vec<Self> {
            [(false, SCRIPT), (true, "")]
                .into_iter()
                .map(|(all, description)| RolePage {
                    current_staff: StaffBadge::sample_all(),
                    nav: "roles",
                    role: RoleDetail { id: RoleId(2), name: SCRIPT.into(), description: description.into(), all },
                    permissions: Permission::ALL
                        .iter()
                        .enumerate()
                        .map(|(i, p)| PermissionChoice { key: p.key(), label: p.label(), granted: i % 2 == 0 })
                        .collect(),
                })
                .collect()
        }
    }

    impl SettingsPage {
        fn samples() -> Vec<Self> {
            [
                SiteSettings { registration_open: true, require_staff_2fa: false },
                SiteSettings { registration_open: false, require_staff_2fa: true },
            ]
            .into_iter()
            .map(|settings| SettingsPage { current_staff: StaffBadge::sample_all(), nav: "settings", settings })
            .collect()
        }
    }

    /// Every staff page and email, in its sample states.
    pub fn all() -> Vec<Sample> {
        let mut out = Vec::new();
        out.extend(SetupPage::samples().iter().map(Sample::page));
        out.extend(InvitePage::samples().iter().map(Sample::page));
        out.extend(StaffListPage::samples().iter().map(Sample::page));
        out.extend(NewStaffPage::samples().iter().map(Sample::page));
        out.extend(StaffPage::samples().iter().map(Sample::page));
        out.extend(RolesPage::samples().iter().map(Sample::page));
        out.extend(RolePage::samples().iter().map(Sample::page));
        out.extend(SettingsPage::samples().iter().map(Sample::page));
        out.extend(crate::mail::samples_with_link(&StaffInviteEmail { role: SCRIPT.into(), inviter: SCRIPT.into() }));
        out
    }
}
