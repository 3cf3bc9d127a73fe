//! Sessions live in the database: two nodes see the same session; timeouts and rotation.

use crate::on_both_backends;
use crate::support::TestApp;

async fn a_session_made_on_one_node_works_on_another(mut app: TestApp) {
    app.signed_in_admin().await;
    let mut node_b = app.second_node().await;
    node_b.cookies = app.cookies.clone();
    let page = node_b.get("/admin/account").await;
    assert_eq!(page.status, 200);
    page.assert_contains("Where you are signed in");
    // A form rendered by node A is accepted by node B (same key, nothing node-local).
    node_b.post_form("/admin/account/sessions/revoke", &[]).await.assert_redirect_to("/admin/account");
    // Node B's "sign out everywhere" ended the session node A handed out.
    let old_cookie = app.cookies.clone();
    let mut stale = app.second_node().await;
    stale.cookies = old_cookie;
    assert!(stale.get("/admin").await.status.is_redirection());
    assert_eq!(node_b.get("/admin").await.status, 200);
}

async fn signing_in_issues_a_new_session_id(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let first = app.cookies.get("hw_client").cloned().unwrap();
    app.post_form("/logout", &[]).await;
    app.post_client_login("grace@example.com", "compass meadow 31").await;
    let second = app.cookies.get("hw_client").cloned().unwrap();
    assert_ne!(first, second);
    // The cookie is HttpOnly and SameSite=Lax.
    let response = app.post_client_login("grace@example.com", "compass meadow 31").await;
    let set_cookie: Vec<_> =
        response.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    let session = set_cookie.iter().find(|c| c.starts_with("hw_client=")).unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"), "{session}");
    assert!(!session.contains("Secure"), "plain http base URL must not set Secure");
}

async fn an_idle_session_ends(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    assert_eq!(app.get("/account").await.status, 200);
    let long_ago = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339();
    app.execute(&format!("UPDATE sessions SET last_seen_at = '{long_ago}'")).await;
    app.get("/account").await.assert_redirect_to("/login?next=%2Faccount");
}

async fn changing_the_password_ends_other_sessions(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let mut laptop = app.second_node().await;
    laptop.post_client_login("grace@example.com", "compass meadow 31").await.assert_redirect_to("/account");
    let wrong = app
        .post_form(
            "/account/security/password",
            &[
                ("current_password", "nope nope nope"),
                ("new_password", "velvet thunder 8"),
                ("new_password_confirm", "velvet thunder 8"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    wrong.assert_contains("That is not your current password.");
    assert_eq!(laptop.get("/account").await.status, 200);
    app.post_form(
        "/account/security/password",
        &[
            ("current_password", "compass meadow 31"),
            ("new_password", "velvet thunder 8"),
            ("new_password_confirm", "velvet thunder 8"),
        ],
    )
    .await
    .assert_redirect_to("/account/security");
    assert_eq!(app.get("/account").await.status, 200);
    assert!(laptop.get("/account").await.status.is_redirection());
}

on_both_backends!(
    a_session_made_on_one_node_works_on_another,
    signing_in_issues_a_new_session_id,
    an_idle_session_ends,
    changing_the_password_ends_other_sessions,
);
