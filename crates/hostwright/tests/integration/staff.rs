//! The staff area: first-run setup, sign-in, 2FA, throttling, permissions.

use hostwright::auth::totp;

use crate::on_both_backends;
use crate::support::{TestApp, extract_between, snapshot};

async fn the_setup_link_creates_the_first_administrator_only_once(mut app: TestApp) {
    let link = hostwright::staff::service::setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    app.get(&path).await.assert_contains("Create administrator");
    let form = [
        ("name", "Ada"),
        ("email", "ada@hostwright.test"),
        ("password", "orchid lantern 42"),
        ("password_confirm", "orchid lantern 42"),
    ];
    app.post_form(&path, &form).await.assert_redirect_to("/admin/login");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff").await, 1);
    // The same link, or any other setup link, no longer works once an administrator exists.
    let again = app
        .post_form(
            &path,
            &[
                ("name", "Eve"),
                ("email", "eve@hostwright.test"),
                ("password", "orchid lantern 42"),
                ("password_confirm", "orchid lantern 42"),
            ],
        )
        .await;
    assert_eq!(again.status, 410);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff").await, 1);
    assert!(hostwright::staff::service::setup_link_if_needed(&app.state).await.unwrap().is_none());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.created'").await, 1);
}

async fn setup_form_errors_keep_what_was_typed_and_change_nothing(mut app: TestApp) {
    let link = hostwright::staff::service::setup_link_if_needed(&app.state).await.unwrap().unwrap();
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    let response = app
        .post_form(
            &path,
            &[
                ("name", "Ada Lovelace"),
                ("email", "not-an-email"),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(response.status, 422);
    response.assert_contains("value=\"Ada Lovelace\"");
    response.assert_contains("Enter an email address like name@example.com.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff").await, 0);
}

async fn a_wrong_password_is_refused_and_audited(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    let response = app.post_staff_login("ada@hostwright.test", "wrong password 1").await;
    assert_eq!(response.status, 422);
    response.assert_contains("do not match an account");
    assert!(!app.cookies.contains_key("hw_admin"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.login_failed'").await, 1);
    app.get("/admin").await.assert_redirect_to("/admin/login?next=%2Fadmin");
}

async fn repeated_failures_slow_that_address_down_with_a_clear_message(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    for _ in 0..5 {
        assert_eq!(app.post_staff_login("ada@hostwright.test", "wrong password 1").await.status, 422);
    }
    let locked = app.post_staff_login("ada@hostwright.test", "orchid lantern 42").await;
    assert_eq!(locked.status, 429);
    locked.assert_contains("Too many attempts. Try again in 1 minute.");
    // The delay is in the database: another node refuses that address too.
    let mut other = app.second_node().await;
    assert_eq!(other.post_staff_login("ada@hostwright.test", "orchid lantern 42").await.status, 429);
}

async fn two_factor_sign_in_needs_a_fresh_code_that_cannot_be_replayed(mut app: TestApp) {
    let (email, password) = app.signed_in_admin().await;
    let page = app.get("/admin/account/2fa").await;
    page.assert_contains("<svg");
    let secret = extract_between(&page.body, "id=\"totp-secret\">", "<");
    let seed = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let enrol_code = totp::code_at_step(&seed, totp::step_at(now));
    let codes_page = app.post_form("/admin/account/2fa", &[("code", &enrol_code)]).await;
    assert_eq!(codes_page.status, 200, "{}", codes_page.body);
    codes_page.assert_contains("Save your recovery codes");
    let recovery = extract_between(&codes_page.body, "<li><code>", "<");

    app.post_form("/admin/logout", &[]).await.assert_redirect_to("/admin/login");
    app.post_staff_login(&email, &password).await.assert_redirect_to("/admin/login/2fa?next=");
    // The password alone does not open the admin area.
    app.get("/admin").await.assert_redirect_to("/admin/login?next=%2Fadmin");
    // The enrolment code was used already (same step): refused.
    let replay = app.post_form("/admin/login/2fa", &[("code", &enrol_code), ("next", "")]).await;
    assert_eq!(replay.status, 422);
    let next_code = totp::code_at_step(&seed, totp::step_at(now) + 1);
    app.post_form("/admin/login/2fa", &[("code", &next_code), ("next", "")]).await.assert_redirect_to("/admin");
    assert_eq!(app.get("/admin").await.status, 200);

    // A recovery code works once.
    app.post_form("/admin/logout", &[]).await;
    app.post_staff_login(&email, &password).await;
    app.post_form("/admin/login/2fa", &[("code", &recovery), ("next", "")]).await.assert_redirect_to("/admin");
    app.post_form("/admin/logout", &[]).await;
    app.post_staff_login(&email, &password).await;
    assert_eq!(app.post_form("/admin/login/2fa", &[("code", &recovery), ("next", "")]).await.status, 422);
    assert!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'staff.2fa_enabled'").await == 1);
}

async fn every_admin_page_requires_sign_in(mut app: TestApp) {
    for path in [
        "/admin",
        "/admin/staff",
        "/admin/staff/new",
        "/admin/staff/1",
        "/admin/roles",
        "/admin/roles/2",
        "/admin/audit",
        "/admin/settings",
        "/admin/outbox",
        "/admin/account",
        "/admin/account/2fa",
        "/admin/clients",
        "/admin/clients/new",
        "/admin/clients/1",
        "/admin/clients/1/export",
        "/admin/client-groups",
        "/admin/catalog",
        "/admin/catalog/products/new",
        "/admin/currencies",
        "/admin/invoices",
        "/admin/invoices/new",
        "/admin/settings/billing",
    ] {
        let response = app.get(path).await;
        assert!(response.status.is_redirection(), "{path} answered {}", response.status);
        assert!(response.location().starts_with("/admin/login?next="), "{path} → {}", response.location());
    }
}

async fn roles_limit_what_staff_may_do(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    app.post_staff_login("sam@hostwright.test", "harbour crane 77").await.assert_redirect_to("/admin");
    assert_eq!(app.get("/admin").await.status, 200);
    for path in ["/admin/staff", "/admin/staff/new", "/admin/audit", "/admin/settings", "/admin/outbox"] {
        assert_eq!(app.get(path).await.status, 403, "{path}");
    }
    let response = app
        .post_form(
            "/admin/staff",
            &[
                ("name", "Mallory"),
                ("email", "m@hostwright.test"),
                ("role_id", "1"),
                ("mode", "password"),
                ("password", "orchid lantern 42"),
            ],
        )
        .await;
    assert_eq!(response.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff").await, 2);
}

async fn an_administrator_invites_staff_who_choose_their_password(mut app: TestApp) {
    app.signed_in_admin().await;
    let response = app
        .post_form(
            "/admin/staff",
            &[
                ("name", "Bea Billing"),
                ("email", "bea@hostwright.test"),
                ("role_id", "2"),
                ("mode", "invite"),
                ("password", ""),
            ],
        )
        .await;
    assert!(response.location().starts_with("/admin/staff/"), "{}", response.body);
    app.deliver_email().await;
    let invite = app.smtp.wait_for("bea@hostwright.test").await;
    crate::assert_redacted_snapshot!("staff_invite_email", snapshot::email(&invite));
    let link = invite.link("http://hostwright.test/admin/invite/").expect("invitation link");
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    let mut bea = app.second_node().await;
    bea.post_form(&path, &[("password", "maple kettle 909"), ("password_confirm", "maple kettle 909")])
        .await
        .assert_redirect_to("/admin/login");
    bea.post_staff_login("bea@hostwright.test", "maple kettle 909").await.assert_redirect_to("/admin");
    // A duplicate email is a field error, not a failure.
    let duplicate = app
        .post_form(
            "/admin/staff",
            &[
                ("name", "Bea Again"),
                ("email", "BEA@hostwright.test"),
                ("role_id", "2"),
                ("mode", "invite"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(duplicate.status, 422);
    duplicate.assert_contains("already exists");
}

async fn disabling_a_member_ends_their_sessions_and_the_last_admin_stays(mut app: TestApp) {
    app.signed_in_admin().await;
    let sam = app.create_staff("sam@hostwright.test", "Support", "harbour crane 77").await;
    let mut sam_browser = app.second_node().await;
    sam_browser.post_staff_login("sam@hostwright.test", "harbour crane 77").await.assert_redirect_to("/admin");
    app.post_form(&format!("/admin/staff/{sam}/disable"), &[]).await;
    assert!(sam_browser.get("/admin").await.status.is_redirection());
    assert_eq!(sam_browser.post_staff_login("sam@hostwright.test", "harbour crane 77").await.status, 422);
    // The only administrator cannot be disabled or demoted.
    let response = app.post_form("/admin/staff/1/role", &[("role_id", "3")]).await;
    assert!(response.status.is_redirection());
    assert_eq!(app.scalar("SELECT role_id FROM staff WHERE id = 1").await, 1);
}

async fn requiring_staff_2fa_sends_members_without_it_to_enrolment(mut app: TestApp) {
    app.signed_in_admin().await;
    app.post_form("/admin/settings", &[("registration_open", "on"), ("require_staff_2fa", "on")]).await;
    app.get("/admin").await.assert_redirect_to("/admin/account/2fa");
    assert_eq!(app.get("/admin/account/2fa").await.status, 200);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'settings.updated'").await, 1);
}

async fn the_audit_log_can_be_filtered(mut app: TestApp) {
    app.signed_in_admin().await;
    app.post_staff_login("nobody@hostwright.test", "wrong password 1").await;
    let page = app.get("/admin/audit?action=staff.login_failed").await;
    page.assert_contains("nobody@hostwright.test");
    assert!(!page.body.contains("Created the first administrator"));
    app.get("/admin/audit?actor=ada").await.assert_contains("Created the first administrator");
}

on_both_backends!(
    the_setup_link_creates_the_first_administrator_only_once,
    setup_form_errors_keep_what_was_typed_and_change_nothing,
    a_wrong_password_is_refused_and_audited,
    repeated_failures_slow_that_address_down_with_a_clear_message,
    two_factor_sign_in_needs_a_fresh_code_that_cannot_be_replayed,
    every_admin_page_requires_sign_in,
    roles_limit_what_staff_may_do,
    an_administrator_invites_staff_who_choose_their_password,
    disabling_a_member_ends_their_sessions_and_the_last_admin_stays,
    requiring_staff_2fa_sends_members_without_it_to_enrolment,
    the_audit_log_can_be_filtered,
);
