//! Regression tests for the security review's findings: each drives the real routes as the
//! attacker would (a staff member of a lesser role, a client, a sub-user, a stranger).

use crate::on_both_backends;
use crate::support::{TestApp, fixtures, snapshot};

/// `next` values a browser would follow to another site, or that leave the area.
const FOREIGN_NEXT: [&str; 9] = [
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0a/evil.example",
    "/\\evil.example",
    "/%5cevil.example",
    "//evil.example",
    "/%2f/evil.example",
    "https://evil.example/",
];

async fn sign_in_and_registration_never_redirect_to_another_site(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    for next in FOREIGN_NEXT {
        app.post_form("/logout", &[]).await;
        let response = app
            .post_form("/login", &[("email", "grace@example.com"), ("password", "compass meadow 31"), ("next", next)])
            .await;
        response.assert_redirect_to("/account");
    }
    // A local path inside the area is kept, with its query.
    app.post_form("/logout", &[]).await;
    app.post_form(
        "/login",
        &[("email", "grace@example.com"), ("password", "compass meadow 31"), ("next", "/account/invoices?page=2")],
    )
    .await
    .assert_redirect_to("/account/invoices?page=2");

    let mut visitor = app.second_node().await;
    let registered = visitor
        .post_form(
            "/register",
            &[
                ("first_name", "Ada"),
                ("last_name", "Lovelace"),
                ("company_name", ""),
                ("email", "ada@example.com"),
                ("password", "lantern orchid 77"),
                ("password_confirm", "lantern orchid 77"),
                ("next", "/\t/evil.example"),
            ],
        )
        .await;
    registered.assert_redirect_to("/register/check-email");
    visitor.finish_sign_up("ada@example.com").await.assert_redirect_to("/account");
    // A confirmation link whose `next` was changed by hand goes nowhere else either.
    visitor.post_form("/logout", &[]).await;
    let mut late = app.second_node().await;
    late.sign_up("eve@example.com", "lantern orchid 77").await.assert_redirect_to("/register/check-email");
    let link = late.emailed_link("eve@example.com", "verify_email").await;
    let token_path = link.split('?').next().unwrap().to_owned();
    late.get(&format!("{token_path}?next=%2F%09%2Fevil.example")).await.assert_redirect_to("/account");

    let mut staff = app.second_node().await;
    let (email, password) = staff.signed_in_admin().await;
    staff.post_form("/admin/logout", &[]).await;
    for next in FOREIGN_NEXT.into_iter().chain(["/account", "/admin/../account"]) {
        let response =
            staff.post_form("/admin/login", &[("email", &email), ("password", &password), ("next", next)]).await;
        response.assert_redirect_to("/admin");
        staff.post_form("/admin/logout", &[]).await;
    }

    // The second factor's step keeps the same rule.
    staff.post_staff_login(&email, &password).await;
    let seed = enable_staff_twofa(&mut staff).await;
    staff.post_form("/admin/logout", &[]).await;
    staff.post_staff_login(&email, &password).await;
    let code = hostwright::auth::totp::code_at_step(&seed, hostwright::auth::totp::step_at(now()) + 1);
    staff
        .post_form("/admin/login/2fa", &[("code", &code), ("next", "/%09/evil.example")])
        .await
        .assert_redirect_to("/admin");
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Enrols the signed-in staff member in 2FA; returns the TOTP seed.
async fn enable_staff_twofa(app: &mut TestApp) -> Vec<u8> {
    enrol_staff_twofa(app).await.0
}

/// Enrols the signed-in staff member in 2FA; returns the TOTP seed and the first recovery code.
async fn enrol_staff_twofa(app: &mut TestApp) -> (Vec<u8>, String) {
    let page = app.get("/admin/account/2fa").await;
    let secret = crate::support::extract_between(&page.body, "id=\"totp-secret\">", "<");
    let seed = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).unwrap();
    let code = hostwright::auth::totp::code_at_step(&seed, hostwright::auth::totp::step_at(now()));
    let enrolled = app.post_form("/admin/account/2fa", &[("code", &code)]).await;
    assert_eq!(enrolled.status, 200, "{}", enrolled.body);
    let recovery = crate::support::extract_between(&enrolled.body, "<li><code>", "<");
    // Enrolling renews the session: the page's forms are bound to the new one.
    let page_token = crate::support::extract_between(&enrolled.body, "name=\"csrf_token\" value=\"", "\"");
    assert_eq!(page_token, app.csrf_token());
    (seed, recovery)
}

async fn turning_two_factor_off_takes_a_code_and_ends_other_sessions(mut app: TestApp) {
    let (email, password) = app.signed_in_admin().await;
    let (seed, recovery) = enrol_staff_twofa(&mut app).await;
    // Recovery codes carry at least 80 bits and are not stored as a plain hash.
    let letters: String = recovery.chars().filter(char::is_ascii_alphanumeric).collect();
    assert_eq!(letters.len(), 18, "{recovery}");
    let id = app.scalar("SELECT id FROM staff").await;
    let plain = hostwright::crypto::token_hash(&format!("staff:{id}:{letters}"));
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM recovery_codes WHERE code_hash = '{plain}'")).await, 0);

    let mut laptop = app.second_node().await;
    laptop.post_staff_login(&email, &password).await;
    let step = hostwright::auth::totp::step_at(now());
    laptop
        .post_form(
            "/admin/login/2fa",
            &[("code", &hostwright::auth::totp::code_at_step(&seed, step + 1)), ("next", "")],
        )
        .await
        .assert_redirect_to("/admin");

    // A session left open is not enough: the password alone, or with a wrong code, is refused.
    for code in ["", "000000", "aaaaaa-bbbbbb-cccccc"] {
        let refused =
            app.post_form("/admin/account/2fa/disable", &[("current_password", &password), ("code", code)]).await;
        assert_eq!(refused.status, 422, "{code}: {}", refused.body);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff WHERE totp_enabled_at IS NOT NULL").await, 1);
    // A recovery code works, and every other session ends.
    let off =
        app.post_form("/admin/account/2fa/disable", &[("current_password", &password), ("code", &recovery)]).await;
    off.assert_redirect_to("/admin/account");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff WHERE totp_enabled_at IS NULL").await, 1);
    assert_eq!(app.get("/admin").await.status, 200, "this session stays");
    assert!(laptop.get("/admin").await.status.is_redirection(), "the other session ended");
}

async fn a_legal_document_never_shows_a_wrong_currency_or_an_empty_buyer(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "zoe@example.de").create().await;
    let path = fixtures::invoice(&mut app, client).taxed("Web hosting", "1", "9.99").draft().await.path;
    app.post_form(&format!("{path}/issue"), &[]).await.assert_redirect_to(&path);
    assert_eq!(app.get(&path).await.status, 200);

    // A stored buyer that no longer parses: an error page, never an invoice to nobody.
    app.execute("UPDATE invoices SET buyer = '{\"name\": 12'").await;
    for page in [path.as_str(), "/admin/invoices"] {
        let shown = app.get(page).await;
        assert_eq!(shown.status, 500, "{page}: {}", shown.body);
        assert!(!shown.body.contains("9.99"), "{page} showed amounts without a buyer");
    }
    // A currency that is not set up: an error page, never the amounts in dollars.
    app.execute("UPDATE invoices SET buyer = seller").await;
    assert_eq!(app.get(&path).await.status, 200);
    app.execute("UPDATE invoices SET currency_code = 'XTS'").await;
    for page in [path.as_str(), "/admin/invoices"] {
        let shown = app.get(page).await;
        assert_eq!(shown.status, 500, "{page}: {}", shown.body);
        assert!(!shown.body.contains("USD"), "{page} fell back to dollars");
    }
}

async fn role_id(app: &TestApp, name: &str) -> i64 {
    app.scalar(&format!("SELECT id FROM staff_roles WHERE name = '{name}'")).await
}

async fn a_staff_manager_cannot_grant_what_they_do_not_hold(mut app: TestApp) {
    app.signed_in_admin().await;
    let (admin_role, billing, support) =
        (role_id(&app, "Administrator").await, role_id(&app, "Billing").await, role_id(&app, "Support").await);
    app.post_form(
        &format!("/admin/roles/{support}"),
        &[("permission", "staff.view"), ("permission", "staff.manage"), ("permission", "clients.view")],
    )
    .await
    .assert_redirect_to("/admin/roles");
    let sam = app.create_staff("sam@hostwright.test", "Support", "quartz harbor 19").await;
    let granted = |role: i64| format!("SELECT COUNT(*) FROM staff_role_permissions WHERE role_id = {role}");
    let billing_before = app.scalar(&granted(billing)).await;
    let ada = app.scalar("SELECT id FROM staff WHERE email = 'ada@hostwright.test'").await;
    let mut manager = app.second_node().await;
    manager.post_staff_login("sam@hostwright.test", "quartz harbor 19").await.assert_redirect_to("/admin");

    // Not themselves, not the administrator role, not a role holding more than they do.
    for role in [admin_role, billing] {
        manager.post_form(&format!("/admin/staff/{sam}/role"), &[("role_id", &role.to_string())]).await;
    }
    assert_eq!(app.scalar(&format!("SELECT role_id FROM staff WHERE id = {sam}")).await, support);
    for (email, role) in [("eve@hostwright.test", admin_role), ("mal@hostwright.test", billing)] {
        let created = manager
            .post_form(
                "/admin/staff",
                &[
                    ("name", "New member"),
                    ("email", email),
                    ("role_id", &role.to_string()),
                    ("mode", "password"),
                    ("password", "velvet thunder 88"),
                ],
            )
            .await;
        assert_eq!(created.status, 422, "{}", created.body);
        created.assert_contains("id=\"f-role_id-error\"");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff").await, 2);
    // A role they hold all of is fine.
    let allowed = manager
        .post_form(
            "/admin/staff",
            &[
                ("name", "Tess Support"),
                ("email", "tess@hostwright.test"),
                ("role_id", &support.to_string()),
                ("mode", "invite"),
            ],
        )
        .await;
    assert!(allowed.status.is_redirection(), "{}", allowed.body);
    let tess = app.scalar("SELECT id FROM staff WHERE email = 'tess@hostwright.test'").await;

    // Role edits follow the same rule: not their own role, nothing they lack.
    manager
        .post_form(&format!("/admin/roles/{support}"), &[("permission", "staff.manage"), ("permission", "audit.view")])
        .await;
    manager.post_form(&format!("/admin/roles/{billing}"), &[("permission", "staff.manage")]).await;
    assert_eq!(app.scalar(&granted(support)).await, 3);
    assert_eq!(app.scalar(&granted(billing)).await, billing_before);

    // The administrator, who holds more, is out of their reach.
    manager.post_form(&format!("/admin/staff/{ada}/role"), &[("role_id", &support.to_string())]).await;
    manager.post_form(&format!("/admin/staff/{ada}/disable"), &[]).await;
    manager.post_form(&format!("/admin/staff/{ada}/reset-2fa"), &[]).await;
    assert_eq!(app.scalar(&format!("SELECT role_id FROM staff WHERE id = {ada}")).await, admin_role);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM staff WHERE status = 'active'").await, 3);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action IN ('staff.role_changed', 'staff.disabled', 'staff.2fa_reset', 'role.updated') AND actor_id = (SELECT id FROM staff WHERE email = 'sam@hostwright.test')").await, 0);
    // Someone they hold everything of stays theirs to manage.
    manager.post_form(&format!("/admin/staff/{tess}/disable"), &[]).await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM staff WHERE id = {tess} AND status = 'disabled'")).await, 1);
    // The administrator still may.
    app.post_form(&format!("/admin/staff/{sam}/role"), &[("role_id", &billing.to_string())]).await;
    assert_eq!(app.scalar(&format!("SELECT role_id FROM staff WHERE id = {sam}")).await, billing);
}

/// Makes every UPDATE of `table` fail until [`heal`] (a database refusing the statement).
pub(crate) async fn break_updates_of(app: &TestApp, table: &str) {
    if app.state.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        app.execute(&format!(
            "CREATE TRIGGER injected_failure BEFORE UPDATE ON {table} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        ))
        .await;
    } else {
        app.execute(
            "CREATE FUNCTION injected_failure() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
        )
        .await;
        app.execute(&format!(
            "CREATE TRIGGER injected_failure BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION injected_failure()"
        ))
        .await;
    }
}

pub(crate) async fn heal(app: &TestApp, table: &str) {
    if app.state.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        app.execute("DROP TRIGGER injected_failure").await;
    } else {
        app.execute(&format!("DROP TRIGGER injected_failure ON {table}")).await;
        app.execute("DROP FUNCTION injected_failure()").await;
    }
}

async fn a_paid_order_whose_acceptance_fails_is_accepted_on_the_retry(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "paula@example.de").await;
    let order = fixtures::order(&mut buyer, "paula.example").cycle("annually").key(&"a".repeat(20)).place().await;
    let order_id = order.id;
    order.pay(&mut app, &"p".repeat(24)).await;

    // The database refuses the acceptance: the job fails and waits for its retry, visibly.
    break_updates_of(&app, "orders").await;
    app.run_jobs().await;
    let accepted = format!("SELECT COUNT(*) FROM orders WHERE id = {order_id} AND status = 'active'");
    assert_eq!(app.scalar(&accepted).await, 0);
    let failed = "SELECT COUNT(*) FROM jobs WHERE kind = 'invoice.paid' AND status = 'pending' AND attempts = 1 \
                  AND last_error LIKE '%injected failure%'";
    assert_eq!(app.scalar(failed).await, 1, "the follow-up is kept for a retry, not finished");
    let queue = app.get("/admin/queue").await;
    queue.assert_contains("invoice.paid");

    // Once the database is back, the retry accepts the order and queues its set-up.
    heal(&app, "orders").await;
    app.execute("UPDATE jobs SET run_at_ms = 0 WHERE kind = 'invoice.paid'").await;
    app.run_jobs().await;
    assert_eq!(app.scalar(&accepted).await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await, 1);
}

async fn wrong_passwords_from_elsewhere_never_keep_the_owner_out(mut app: TestApp) {
    app.create_first_admin("ada@hostwright.test", "orchid lantern 42").await;
    let mut attacker = app.second_node().await;
    attacker.ip = "198.51.100.66:5000".parse().unwrap();
    for _ in 0..12 {
        let refused = attacker.post_staff_login("ada@hostwright.test", "wrong password 1").await;
        assert!(refused.status == 422 || refused.status == 429, "{}", refused.status);
    }
    // The attacker's address waits longer with every failure, even with the right password…
    assert_eq!(attacker.post_staff_login("ada@hostwright.test", "orchid lantern 42").await.status, 429);
    // …while the administrator, at their own address, signs in at once.
    app.post_staff_login("ada@hostwright.test", "orchid lantern 42").await.assert_redirect_to("/admin");

    // Every address of an IPv6 /64 is one sender: spreading guesses across it does not help.
    let mut spread = app.second_node().await;
    for n in 1..=20 {
        spread.ip = format!("[2001:db8:5:6::{n:x}]:4000").parse().unwrap();
        spread.post_staff_login(&format!("nobody{n}@hostwright.test"), "wrong password 1").await;
    }
    spread.ip = "[2001:db8:5:6:ffff::1]:4000".parse().unwrap();
    assert_eq!(spread.post_staff_login("ada@hostwright.test", "orchid lantern 42").await.status, 429);
    spread.ip = "[2001:db8:5:7::1]:4000".parse().unwrap();
    spread.post_staff_login("ada@hostwright.test", "orchid lantern 42").await.assert_redirect_to("/admin");
}

/// Adds a sub-user with `permissions` as the signed-in owner; they choose `password` from the
/// emailed link. Returns the contact's id.
async fn sub_user(app: &mut TestApp, email: &str, permissions: &[&str], password: &str) -> i64 {
    let mut form = vec![("first_name", "Sub"), ("last_name", "User"), ("email", email), ("login_enabled", "on")];
    form.extend(permissions.iter().map(|p| ("permissions", *p)));
    app.post_form("/account/contacts", &form).await.assert_redirect_to("/account/contacts");
    let path = app.emailed_path(email, "/password/reset/").await;
    let mut browser = app.second_node().await;
    browser
        .post_form(&path, &[("password", password), ("password_confirm", password)])
        .await
        .assert_redirect_to("/login");
    app.scalar(&format!("SELECT id FROM client_contacts WHERE email = '{email}'")).await
}

async fn a_sub_user_cannot_take_over_a_sub_user_who_may_do_more(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let ana = sub_user(&mut app, "ana@example.com", &["contacts"], "saffron harbour 77").await;
    let bob = sub_user(&mut app, "bob@example.com", &["contacts", "invoices", "services"], "copper valley 55").await;
    let carl = sub_user(&mut app, "carl@example.com", &["contacts"], "willow canyon 23").await;
    assert!(ana > 0);
    let mut manager = app.second_node().await;
    manager.post_client_login("ana@example.com", "saffron harbour 77").await.assert_redirect_to("/account");

    // Ana may manage contacts, but Bob holds permissions she lacks: his record is out of reach.
    let bob_form = [
        ("first_name", "Sub"),
        ("last_name", "User"),
        ("email", "ana.second@example.com"),
        ("login_enabled", "on"),
        ("permissions", "contacts"),
    ];
    let refused = manager.post_form(&format!("/account/contacts/{bob}"), &bob_form).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    manager.post_form(&format!("/account/contacts/{bob}/delete"), &[]).await;
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM client_contacts WHERE id = {bob} AND email = 'bob@example.com' AND password_hash IS NOT NULL")).await, 1);
    let mut bob_browser = app.second_node().await;
    bob_browser.post_client_login("bob@example.com", "copper valley 55").await.assert_redirect_to("/account");

    // Carl holds nothing Ana lacks; changing his address is a new person: his password, 2FA
    // and sessions go, and the new address is invited to choose a password.
    let mut carl_browser = app.second_node().await;
    carl_browser.post_client_login("carl@example.com", "willow canyon 23").await.assert_redirect_to("/account");
    let moved = manager
        .post_form(
            &format!("/account/contacts/{carl}"),
            &[
                ("first_name", "Sub"),
                ("last_name", "User"),
                ("email", "ana.third@example.com"),
                ("login_enabled", "on"),
                ("permissions", "contacts"),
            ],
        )
        .await;
    moved.assert_redirect_to("/account/contacts");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM client_contacts WHERE id = {carl} AND password_hash IS NULL AND totp_secret IS NULL"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE principal_kind = 'contact' AND principal_id = {carl}"
        ))
        .await,
        0
    );
    carl_browser.get("/account").await.assert_redirect_to("/login?next=%2Faccount");
    let mut thief = app.second_node().await;
    assert_eq!(thief.post_client_login("ana.third@example.com", "willow canyon 23").await.status, 422);
    // The new address gets its own invitation.
    app.emailed_path("ana.third@example.com", "/password/reset/").await;

    // The owner still manages Bob, and moving him clears his credentials the same way.
    app.post_form(
        &format!("/account/contacts/{bob}"),
        &[
            ("first_name", "Sub"),
            ("last_name", "User"),
            ("email", "bob.new@example.com"),
            ("login_enabled", "on"),
            ("permissions", "invoices"),
        ],
    )
    .await
    .assert_redirect_to("/account/contacts");
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM client_contacts WHERE id = {bob} AND password_hash IS NULL")).await,
        1
    );
}

async fn no_stored_row_or_export_holds_a_live_one_time_link(mut app: TestApp) {
    app.signed_in_admin().await;
    app.create_staff("bill@hostwright.test", "Billing", "quartz harbor 19").await;
    let mut visitor = app.second_node().await;
    visitor.register_client("grace@example.com", "compass meadow 31").await;
    let client = app.scalar("SELECT id FROM clients WHERE email = 'grace@example.com'").await;

    // A Billing member asks a reset for the client, then exports the client's data.
    let mut billing = app.second_node().await;
    billing.post_staff_login("bill@hostwright.test", "quartz harbor 19").await.assert_redirect_to("/admin");
    billing.post_form("/password/forgot", &[("email", "grace@example.com")]).await;
    let links_in_bodies = "SELECT COUNT(*) FROM email_outbox WHERE body_text LIKE '%/password/reset/%' OR body_html LIKE '%/password/reset/%' \
         OR body_text LIKE '%/verify-email/%' OR body_html LIKE '%/verify-email/%'";
    assert_eq!(app.scalar(links_in_bodies).await, 0, "no stored body holds a one-time link");
    let export = billing.get(&format!("/admin/clients/{client}/export")).await;
    assert_eq!(export.status, 200);
    assert!(!export.body.contains("/password/reset/") && !export.body.contains("/verify-email/"), "{}", export.body);
    export.assert_contains("one-time link, sent to the recipient and not kept");
    let outbox = app.get("/admin/outbox").await;
    assert!(!outbox.body.contains("/password/reset/"));

    // The client still receives a working link, and once sent it is forgotten.
    let path = app.emailed_path("grace@example.com", "/password/reset/").await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE sealed_link IS NOT NULL").await, 0);
    assert_eq!(app.scalar(links_in_bodies).await, 0);
    let mut grace = app.second_node().await;
    grace
        .post_form(&path, &[("password", "velvet thunder 88"), ("password_confirm", "velvet thunder 88")])
        .await
        .assert_redirect_to("/login");
    grace.post_client_login("grace@example.com", "velvet thunder 88").await.assert_redirect_to("/account");

    // Sent email is deleted after the retention period by the daily run.
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(400)).to_rfc3339();
    app.execute(&format!("UPDATE email_outbox SET sent_at = '{long_ago}' WHERE to_address = 'grace@example.com'"))
        .await;
    let sent = app.scalar("SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'").await;
    assert!(sent >= 2);
    let today = chrono::Utc::now().date_naive();
    hostwright::automation::run_now(
        &app.state,
        Some(today),
        &[hostwright::automation::Task::Housekeeping],
        false,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE to_address = 'grace@example.com'").await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM email_outbox").await,
        app.scalar("SELECT COUNT(*) FROM email_outbox WHERE to_address <> 'grace@example.com'").await
    );

    // On SQLite the database and its WAL and shared-memory files are the owner's alone.
    if app.state.db.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let path = app.db.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
    }
}

async fn a_planted_csrf_cookie_cannot_forge_a_signed_in_form(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    // Someone who can set cookies for the domain makes a pair of their own…
    let mut attacker = app.second_node().await;
    attacker.get("/healthz").await;
    let planted = attacker.cookies.get("hw_csrf").cloned().unwrap();
    let forged = attacker.csrf_token();
    // …and plants it in the client's browser: the token is not the client's session's.
    let mut victim = app.second_node().await;
    victim.cookies = app.cookies.clone();
    victim.cookies.insert("hw_csrf".into(), planted.clone());
    let refused = victim.post_form_raw("/account/security/sessions/revoke", &[("csrf_token", &forged)]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // The same request with the token the client's own pages carry goes through.
    let own = victim.csrf_token();
    assert_ne!(own, forged);
    let accepted = victim.post_form_raw("/account/security/sessions/revoke", &[("csrf_token", &own)]).await;
    assert!(accepted.status.is_redirection(), "{}", accepted.body);

    // Signed out, the token is bound to the visitor's cart.
    let mut shopper = app.second_node().await;
    shopper.cookies.insert("hw_csrf".into(), planted);
    shopper.cookies.insert("hw_cart".into(), "c".repeat(43));
    let refused = shopper
        .post_form_raw("/login", &[("csrf_token", &forged), ("email", "grace@example.com"), ("password", "x")])
        .await;
    assert_eq!(refused.status, 403);

    // On https every cookie is `__Host-` prefixed: a sibling subdomain cannot set it.
    let secure = app.reconfigured(|s| s.base_url = url::Url::parse("https://hostwright.test/").unwrap()).await;
    let mut browser = secure;
    let first = browser.get("/login").await;
    let set: Vec<String> = first.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let csrf = set.iter().find(|c| c.starts_with("__Host-hw_csrf=")).unwrap_or_else(|| panic!("{set:?}"));
    assert!(csrf.contains("Secure") && csrf.contains("Path=/") && !csrf.contains("Domain"), "{csrf}");
    let signed_in = browser.post_client_login("grace@example.com", "compass meadow 31").await;
    signed_in.assert_redirect_to("/account");
    assert!(browser.cookies.contains_key("__Host-hw_client"), "{:?}", browser.cookies.keys());
    assert_eq!(browser.get("/account").await.status, 200);
}

async fn metrics_are_not_public_and_pages_beyond_any_list_are_empty(mut app: TestApp) {
    assert_eq!(app.get("/metrics").await.status, 401, "no token, no metrics");
    let wrong = axum::http::Request::get("/metrics")
        .header("authorization", "Bearer guessed-token")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.send(wrong).await.status, 401);
    app.get_metrics().await.assert_contains("http_requests_total");
    let mut untokened = app.reconfigured(|s| s.metrics_token = None).await;
    assert_eq!(untokened.get_metrics().await.status, 404, "without a token only the metrics address serves them");

    app.signed_in_admin().await;
    for list in [
        "/admin/clients",
        "/admin/invoices",
        "/admin/orders",
        "/admin/services",
        "/admin/audit",
        "/admin/outbox",
        "/admin/queue",
    ] {
        for page in ["99999999", "18446744073709551615"] {
            let shown = app.get(&format!("{list}?page={page}")).await;
            assert_eq!(shown.status, 200, "{list}?page={page}: {}", shown.body);
        }
        let refused = app.get(&format!("{list}?page=-1")).await;
        assert!(refused.status == 400 || refused.status == 200, "{list}?page=-1: {}", refused.status);
    }
}

async fn anonymous_requests_get_bounded_work(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    let mut visitor = app.second_node().await;
    let carts = "SELECT COUNT(*) FROM carts";
    let before = app.scalar(carts).await;

    // Thousands of option fields are refused before any work, and start no cart.
    let names: Vec<String> = (0..5_000).map(|n| format!("opt_{n}")).collect();
    let mut fields: Vec<(&str, &str)> = vec![("product_id", "1"), ("cycle", "monthly"), ("quantity", "1")];
    fields.extend(names.iter().take(300).map(|n| (n.as_str(), "1")));
    let refused = visitor.post_form("/cart/items", &fields).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(app.scalar(carts).await, before, "a refused form starts no cart");
    // A public form body larger than a few KiB is refused outright.
    let mut huge: Vec<(&str, &str)> = vec![("product_id", "1"), ("cycle", "monthly")];
    huge.extend(names.iter().map(|n| (n.as_str(), "1")));
    assert_eq!(visitor.post_form("/cart/items", &huge).await.status, 413);
    let padding = "x".repeat(40 * 1024);
    assert_eq!(visitor.post_form("/login", &[("email", "a@b.c"), ("password", &padding)]).await.status, 413);

    // Webhooks have their own limit and answer it in JSON.
    let big = format!("{{\"id\":\"evt_1\",\"padding\":\"{}\"}}", "x".repeat(300 * 1024));
    for path in ["/webhooks/stripe", "/webhooks/paypal"] {
        let request = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("stripe-signature", "t=1,v1=00")
            .body(axum::body::Body::from(big.clone()))
            .unwrap();
        let answer = visitor.send(request).await;
        assert_eq!(answer.status, 413, "{path}");
        assert!(answer.headers.get("content-type").unwrap().to_str().unwrap().starts_with("application/json"));
        answer.assert_contains("payload_too_large");
    }

    // Carts nobody touched are deleted by the daily run.
    visitor
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "a.example")],
        )
        .await
        .assert_redirect_to("/cart");
    assert_eq!(app.scalar(carts).await, before + 1);
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(45)).to_rfc3339();
    app.execute(&format!("UPDATE carts SET updated_at = '{long_ago}'")).await;
    hostwright::automation::run_now(
        &app.state,
        Some(chrono::Utc::now().date_naive()),
        &[hostwright::automation::Task::Housekeeping],
        false,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert_eq!(app.scalar(carts).await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM cart_items").await, 0);
}

async fn a_payment_form_key_counts_for_its_own_invoice_only(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "zoe@example.de").create().await;
    let first = fixtures::invoice(&mut app, client).untaxed("Hosting", "1", "10.00").draft().await.path;
    let second = fixtures::invoice(&mut app, client).untaxed("Domain", "1", "10.00").draft().await.path;
    for path in [&first, &second] {
        app.post_form(&format!("{path}/issue"), &[]).await.assert_redirect_to(path);
    }
    let key = "k".repeat(24);
    let pay = [("amount", "1.00"), ("method", "bank_transfer"), ("key", key.as_str())];
    app.post_form(&format!("{first}/payments"), &pay).await;
    app.post_form(&format!("{second}/payments"), &pay).await;
    app.post_form(&format!("{first}/payments"), &pay).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_payments").await, 2, "one per invoice, each once");
}

async fn readiness_names_the_part_that_is_down_without_its_error(app: TestApp) {
    let files = tempfile::tempdir().unwrap();
    let folder = files.path().join("private-files-folder");
    let mut node = app.reconfigured(|s| s.files.path = Some(folder.clone())).await;
    assert_eq!(node.get("/readyz").await.status, 200);
    // The file folder becomes a plain file: the store cannot be read.
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let ready = node.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.body);
    ready.assert_contains("\"files\":\"unreachable\"");
    assert!(!ready.body.contains("private-files-folder") && !ready.body.contains("error"), "{}", ready.body);
}

async fn sign_up_never_says_whether_an_address_has_an_account(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let answer = |r: &crate::support::TestResponse| {
        let mut cookies: Vec<String> = r
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        cookies.sort();
        (r.status, r.location().to_owned(), cookies)
    };
    let mut stranger = app.second_node().await;
    let known = stranger.sign_up("grace@example.com", "velvet thunder 88").await;
    let mut other = app.second_node().await;
    let new = other.sign_up("nobody@example.com", "velvet thunder 88").await;
    assert_eq!(answer(&known), answer(&new), "the same answer for a known and a new address");
    assert!(!stranger.cookies.contains_key("hw_client") && !other.cookies.contains_key("hw_client"));
    // The owner of the known address is told by email; the stranger got no account.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM clients WHERE email = 'grace@example.com'").await, 1);
    app.deliver_email().await;
    let told = app.smtp.to("grace@example.com").into_iter().find(|m| m.subject().contains("tried to sign up"));
    let told = told.expect("the owner hears of it");
    crate::assert_redacted_snapshot!("sign_up_with_a_known_address_email", snapshot::email(&told));

    // At checkout too.
    fixtures::store(&mut app).open().await;
    let mut buyer = app.second_node().await;
    buyer
        .post_form(
            "/cart/items",
            &[("product_id", "1"), ("cycle", "monthly"), ("quantity", "1"), ("domain", "x.example")],
        )
        .await
        .assert_redirect_to("/cart");
    let fields = |email: &'static str| {
        vec![
            ("first_name", "Grace"),
            ("last_name", "Hopper"),
            ("email", email),
            ("password", "velvet thunder 88"),
            ("password_confirm", "velvet thunder 88"),
        ]
    };
    let known = buyer.post_form("/checkout/register", &fields("grace@example.com")).await;
    let new = buyer.post_form("/checkout/register", &fields("fresh@example.com")).await;
    assert_eq!(answer(&known), answer(&new));
}

on_both_backends!(
    sign_in_and_registration_never_redirect_to_another_site,
    a_legal_document_never_shows_a_wrong_currency_or_an_empty_buyer,
    a_staff_manager_cannot_grant_what_they_do_not_hold,
    a_paid_order_whose_acceptance_fails_is_accepted_on_the_retry,
    wrong_passwords_from_elsewhere_never_keep_the_owner_out,
    a_sub_user_cannot_take_over_a_sub_user_who_may_do_more,
    no_stored_row_or_export_holds_a_live_one_time_link,
    a_planted_csrf_cookie_cannot_forge_a_signed_in_form,
    turning_two_factor_off_takes_a_code_and_ends_other_sessions,
    metrics_are_not_public_and_pages_beyond_any_list_are_empty,
    anonymous_requests_get_bounded_work,
    a_payment_form_key_counts_for_its_own_invoice_only,
    readiness_names_the_part_that_is_down_without_its_error,
    sign_up_never_says_whether_an_address_has_an_account,
);
