//! The client area: registration, email verification over real SMTP, password reset.

use crate::on_both_backends;
use crate::support::{TestApp, snapshot};

async fn a_client_registers_verifies_the_email_and_signs_in(mut app: TestApp) {
    let response = app.sign_up("grace@example.com", "compass meadow 31").await;
    response.assert_redirect_to("/register/check-email");
    app.get("/register/check-email").await.assert_contains("Check your inbox");
    app.get("/account").await.assert_redirect_to("/login?next=%2Faccount");
    assert_eq!(app.deliver_email().await, 1);
    let email = app.smtp.wait_for("grace@example.com").await;
    crate::assert_redacted_snapshot!("sign_up_confirmation_email", snapshot::email(&email));
    let link = email.link("http://hostwright.test/verify-email/").expect("verification link");
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    // The link confirms the address and signs the new client in.
    app.get(&path).await.assert_redirect_to("/account");
    app.get("/account").await.assert_contains("Hello, Grace Hopper");
    assert!(!app.get("/account").await.body.contains("Please confirm your email address"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE email_verified_at IS NOT NULL").await, 1);
    // The link works once.
    app.get(&path).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.email_verified'").await, 1);

    app.post_form("/logout", &[]).await.assert_redirect_to("/login");
    app.post_client_login("GRACE@example.com", "compass meadow 31").await.assert_redirect_to("/account");
    app.get("/account").await.assert_contains("Hello, Grace Hopper");
}

async fn registration_errors_are_shown_per_field_and_nothing_is_saved(mut app: TestApp) {
    let response = app
        .post_form(
            "/register",
            &[
                ("first_name", ""),
                ("last_name", "Hopper"),
                ("email", "grace@"),
                ("password", "compass meadow 31"),
                ("password_confirm", "different"),
            ],
        )
        .await;
    assert_eq!(response.status, 422);
    response.assert_contains("Enter your first name.");
    response.assert_contains("The two passwords are not the same.");
    response.assert_contains("value=\"Hopper\"");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 0);
    app.register_client("grace@example.com", "compass meadow 31").await;
    let mut other = app.second_node().await;
    // A known address gets the same answer as a new one; its owner is told by email.
    other.sign_up("Grace@Example.com", "compass meadow 31").await.assert_redirect_to("/register/check-email");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'registration_attempt' AND to_address = 'grace@example.com'")
            .await,
        1
    );
}

async fn closed_registration_refuses_new_accounts(mut app: TestApp) {
    app.signed_in_admin().await;
    app.post_form("/admin/settings", &[]).await;
    let mut visitor = app.second_node().await;
    assert!(!visitor.get("/register").await.body.contains("name=\"email\""));
    assert_eq!(visitor.sign_up("grace@example.com", "compass meadow 31").await.status, 403);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients").await, 0);
}

async fn password_reset_says_the_same_for_unknown_addresses_and_links_work_once(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    app.post_form("/logout", &[]).await;
    app.deliver_email().await;
    let before = app.smtp.messages().len();
    let unknown = app.post_form("/password/forgot", &[("email", "nobody@example.com")]).await;
    let known = app.post_form("/password/forgot", &[("email", "grace@example.com")]).await;
    assert_eq!(unknown.status, known.status);
    unknown.assert_contains("If an account exists for nobody@example.com");
    known.assert_contains("If an account exists for grace@example.com");
    app.deliver_email().await;
    assert_eq!(app.smtp.messages().len(), before + 1);
    let email =
        app.smtp.to("grace@example.com").into_iter().find(|m| m.subject().contains("Reset")).expect("reset email");
    crate::assert_redacted_snapshot!("password_reset_email", snapshot::email(&email));
    let link = email.link("http://hostwright.test/password/reset/").expect("reset link");
    let path = link.trim_start_matches("http://hostwright.test").to_owned();
    let weak = app.post_form(&path, &[("password", "short"), ("password_confirm", "short")]).await;
    assert_eq!(weak.status, 422);
    app.post_form(&path, &[("password", "velvet thunder 8"), ("password_confirm", "velvet thunder 8")])
        .await
        .assert_redirect_to("/login");
    let again =
        app.post_form(&path, &[("password", "another secret 9"), ("password_confirm", "another secret 9")]).await;
    again.assert_contains("invalid, has expired or was already used");
    app.post_client_login("grace@example.com", "velvet thunder 8").await.assert_redirect_to("/account");
    assert_eq!(app.post_client_login("grace@example.com", "another secret 9").await.status, 422);
}

async fn a_client_edits_the_profile_with_field_errors_on_bad_input(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let bad = app
        .post_form("/account/profile", &[("first_name", ""), ("last_name", "Hopper"), ("company_name", "Navy")])
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("value=\"Navy\"");
    app.post_form("/account/profile", &[("first_name", "Grace B."), ("last_name", "Hopper"), ("company_name", "Navy")])
        .await
        .assert_redirect_to("/account/profile");
    app.get("/account/profile").await.assert_contains("value=\"Grace B.\"");
    // Names with markup characters are escaped exactly once, in the heading too.
    app.post_form("/account/profile", &[("first_name", "Seán"), ("last_name", "O'Brien <b>"), ("company_name", "")])
        .await;
    let page = app.get("/account").await;
    page.assert_contains("Hello, Seán O&#x27;Brien &lt;b&gt;");
    assert!(!page.body.contains("&amp;"), "double-escaped: {}", page.body);
}

on_both_backends!(
    a_client_registers_verifies_the_email_and_signs_in,
    registration_errors_are_shown_per_field_and_nothing_is_saved,
    closed_registration_refuses_new_accounts,
    password_reset_says_the_same_for_unknown_addresses_and_links_work_once,
    a_client_edits_the_profile_with_field_errors_on_bad_input,
);
