//! Contacts and sub-users: the owner adds a sub-user who chooses a password from an emailed
//! link, signs in to the same account with only the permissions given, and loses access the
//! moment sign-in is turned off; billing contacts receive invoice emails; staff manage
//! contacts from the client's page.

use crate::on_both_backends;
use crate::support::{TestApp, fixtures, snapshot};

const OWNER: (&str, &str) = ("grace@example.com", "compass meadow 31");

async fn a_sub_user_signs_in_with_only_the_permissions_given(mut app: TestApp) {
    app.register_client(OWNER.0, OWNER.1).await;
    let added = app
        .post_form(
            "/account/contacts",
            &[
                ("first_name", "Ana"),
                ("last_name", "Lima"),
                ("email", "Ana@Example.com"),
                ("receives_billing", "on"),
                ("login_enabled", "on"),
                ("permissions", "invoices"),
            ],
        )
        .await;
    added.assert_redirect_to("/account/contacts");
    app.get("/account/contacts").await.assert_contains("ana@example.com");

    // The sub-user chooses a password from the emailed link and signs in at the usual page.
    let mut ana = app.second_node().await;
    let path = app.emailed_path("ana@example.com", "/password/reset/").await;
    let invitation = app.smtp.to("ana@example.com").pop().expect("the invitation");
    crate::assert_redacted_snapshot!("contact_invite_email", snapshot::email(&invitation));
    ana.post_form(&path, &[("password", "saffron harbour 77"), ("password_confirm", "saffron harbour 77")])
        .await
        .assert_redirect_to("/login");
    ana.post_client_login("ana@example.com", "saffron harbour 77").await.assert_redirect_to("/account");
    let home = ana.get("/account").await;
    home.assert_contains("Ana Lima");
    assert_eq!(ana.get("/account/invoices").await.status, 200);
    assert_eq!(ana.get("/account/profile").await.status, 403, "no profile permission");
    assert_eq!(ana.get("/account/contacts").await.status, 403, "no contacts permission");
    assert_eq!(ana.get("/account/export").await.status, 403, "the export is the owner's");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions WHERE principal_kind = 'contact'").await,
        1,
        "the session is the sub-user's own"
    );
    // Their own security page changes their password, not the owner's.
    let changed = ana
        .post_form(
            "/account/security/password",
            &[
                ("current_password", "saffron harbour 77"),
                ("new_password", "amber lighthouse 12"),
                ("new_password_confirm", "amber lighthouse 12"),
            ],
        )
        .await;
    assert!(changed.status.is_redirection(), "{}", changed.body);
    let mut owner = app.second_node().await;
    owner.post_client_login(OWNER.0, OWNER.1).await.assert_redirect_to("/account");
    let mut again = app.second_node().await;
    again.post_client_login("ana@example.com", "amber lighthouse 12").await.assert_redirect_to("/account");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'contact.password_changed'").await, 1);

    // Turning sign-in off ends their session at once.
    let contact = app.scalar("SELECT id FROM client_contacts").await;
    app.post_form(
        &format!("/account/contacts/{contact}"),
        &[("first_name", "Ana"), ("last_name", "Lima"), ("email", "ana@example.com"), ("receives_billing", "on")],
    )
    .await
    .assert_redirect_to("/account/contacts");
    assert!(ana.get("/account/invoices").await.status.is_redirection(), "signed out");
    assert!(again.get("/account/invoices").await.status.is_redirection(), "signed out everywhere");
    assert_eq!(ana.post_client_login("ana@example.com", "amber lighthouse 12").await.status, 422);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions WHERE principal_kind = 'contact'").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.contact_updated'").await, 1);
}

async fn a_sub_user_cannot_give_more_than_they_hold(mut app: TestApp) {
    app.register_client(OWNER.0, OWNER.1).await;
    app.post_form(
        "/account/contacts",
        &[
            ("first_name", "Ana"),
            ("last_name", "Lima"),
            ("email", "ana@example.com"),
            ("login_enabled", "on"),
            ("permissions", "contacts"),
        ],
    )
    .await;
    let mut ana = app.second_node().await;
    let path = app.emailed_path("ana@example.com", "/password/reset/").await;
    ana.post_form(&path, &[("password", "saffron harbour 77"), ("password_confirm", "saffron harbour 77")]).await;
    ana.post_client_login("ana@example.com", "saffron harbour 77").await;
    let refused = ana
        .post_form(
            "/account/contacts",
            &[
                ("first_name", "Bo"),
                ("last_name", "Berg"),
                ("email", "bo@example.com"),
                ("login_enabled", "on"),
                ("permissions", "invoices"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422);
    refused.assert_contains("You can only give permissions you hold yourself.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_contacts").await, 1);

    // Bad input is refused per field and saves nothing.
    for (fields, message) in [
        (vec![("first_name", ""), ("last_name", "Berg"), ("email", "bo@example.com")], "Enter the first name"),
        (vec![("first_name", "Bo"), ("last_name", "Berg"), ("email", "bo@")], "Enter an email address like"),
        (
            vec![("first_name", "Bo"), ("last_name", "Berg"), ("email", "bo@example.com"), ("login_enabled", "on")],
            "A sub-user needs at least one permission.",
        ),
        (
            vec![
                ("first_name", "Bo"),
                ("last_name", "Berg"),
                ("email", OWNER.0),
                ("login_enabled", "on"),
                ("permissions", "contacts"),
            ],
            "This address signs in to a client account already",
        ),
        (
            vec![
                ("first_name", "Bo"),
                ("last_name", "Berg"),
                ("email", "ana@example.com"),
                ("login_enabled", "on"),
                ("permissions", "contacts"),
            ],
            "Another sub-user signs in with this address.",
        ),
    ] {
        let response = ana.post_form("/account/contacts", &fields).await;
        assert_eq!(response.status, 422, "{fields:?}");
        response.assert_contains(message);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_contacts").await, 1);
    // Nobody registers an account with a sub-user's sign-in address.
    let mut visitor = app.second_node().await;
    visitor.sign_up("ana@example.com", "quiet orchard 55").await.assert_redirect_to("/register/check-email");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE email = 'ana@example.com'").await, 0);
    // A contact of another account is not found.
    let mut other = app.second_node().await;
    other.register_client("other@example.com", "quiet orchard 55").await;
    let contact = app.scalar("SELECT id FROM client_contacts").await;
    assert_eq!(other.get(&format!("/account/contacts/{contact}")).await.status, 404);
}

async fn billing_contacts_receive_invoices_and_staff_manage_contacts(mut app: TestApp) {
    app.register_client(OWNER.0, OWNER.1).await;
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    fixtures::billing(&mut staff).set_up().await;
    let added = staff
        .post_form(
            "/admin/clients/1/contacts",
            &[
                ("first_name", "Carla"),
                ("last_name", "Count"),
                ("email", "accounts@example.com"),
                ("receives_billing", "on"),
            ],
        )
        .await;
    added.assert_redirect_to("/admin/clients/1?tab=contacts");
    staff.get("/admin/clients/1?tab=contacts").await.assert_contains("accounts@example.com");
    let invoice =
        fixtures::invoice(&mut staff, hostwright::ids::ClientId(1)).taxed("Hosting", "1", "10.00").draft().await.path;
    staff.post_form(&format!("{invoice}/issue"), &[]).await;
    app.deliver_email().await;
    let copy = app.smtp.wait_for("accounts@example.com").await;
    // Greeted by name, the invoice's own email.
    crate::assert_redacted_snapshot!("invoice_issued_to_a_billing_contact_email", snapshot::email(&copy));
    assert!(app.smtp.to(OWNER.0).iter().any(|m| m.subject().contains("-00001")), "the owner too");

    let contact = app.scalar("SELECT id FROM client_contacts").await;
    staff.post_form(&format!("/admin/clients/1/contacts/{contact}/delete"), &[]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_contacts").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'client.contact_removed'").await, 1);
}

on_both_backends!(
    a_sub_user_signs_in_with_only_the_permissions_given,
    a_sub_user_cannot_give_more_than_they_hold,
    billing_contacts_receive_invoices_and_staff_manage_contacts,
);
