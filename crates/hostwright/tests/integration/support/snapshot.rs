//! Snapshots of the emails the application sends and of its pages, with what changes from run
//! to run (or between SQLite and PostgreSQL) redacted: invoice years, dates and times, ids in
//! addresses, form tokens and one-time links. The same snapshot holds on both backends.
//!
//! Snapshots are kept in `snapshots/` next to the test that takes them. `INSTA_UPDATE=no` (CI
//! sets it) fails a test whose snapshot is missing or differs, and writes nothing.

use sea_orm::{ConnectionTrait, Statement};

use super::smtp::Received;
use super::{TestApp, TestResponse};

/// Redactions, in the order they apply: each pattern (a regular expression) and what replaces
/// it.
const REDACTIONS: &[(&str, &str)] = &[
    // Invoice and credit-note numbers carry the year they are issued in; their sequence stays.
    (r"\b((?:CN-)?)20\d\d-(\d{5})\b", "${1}[year]-$2"),
    (r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?| UTC)?", "[datetime]"),
    (r"\b\d{4}-\d{2}-\d{2}\b", "[date]"),
    (r"\b\d{2}:\d{2}(?::\d{2})?\b", "[time]"),
    // Form tokens: the CSRF token bound to the session, a form's idempotency key.
    (r#"name="csrf_token" value="[^"]*""#, r#"name="csrf_token" value="[csrf]""#),
    (r#"name="key" value="[^"]*""#, r#"name="key" value="[key]""#),
    // One-time links.
    (r#"(/verify-email/|/password/reset/|/admin/invite/|/admin/setup/)[^\s"<>]+"#, "$1[token]"),
    // Order numbers are random.
    (r"(?i)\b(order )\d{10}\b", "${1}[number]"),
    // Ids in addresses (`/invoices/7`, `/credit-notes/2`, `?entity_id=7`) and shown as `#7`.
    (r"(/[a-z][a-z_-]*)/\d+\b", "$1/[id]"),
    (r"([>\s]#|entity_id=)\d+\b", "$1[id]"),
    // A country menu lists every country there is; the one chosen stays.
    (r#"(?:\n\s*<option value="[A-Z]{2}">[^<]*</option>)+"#, "\n    [the other countries]"),
];

/// The settings every redacted snapshot is taken with.
pub fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in REDACTIONS {
        settings.add_filter(pattern, *replacement);
    }
    settings.set_omit_expression(true);
    settings
}

/// The page's `<main>`: what the page shows, without the layout around it.
#[track_caller]
pub fn page(response: &TestResponse) -> String {
    assert!(response.status.is_success(), "a page to snapshot, got {}:\n{}", response.status, response.body);
    let body = &response.body;
    let start = body.find("<main").unwrap_or_else(|| panic!("a <main> element in\n{body}"));
    let end = body[start..].find("</main>").map(|i| start + i + "</main>".len()).expect("</main>");
    let main = &body[start..end];
    // Blank lines that template tags leave are noise.
    main.lines().filter(|line| !line.trim().is_empty()).collect::<Vec<_>>().join("\n")
}

/// An email as its recipient reads it: to whom, the subject, and the text.
pub fn email(message: &Received) -> String {
    format!("To: {}\nSubject: {}\n\n{}", message.to.join(", "), message.subject(), message.text().trim_end())
}

/// The first email of `template` to `to` in the outbox, shown as [`email`] shows a delivered one: for
/// emails without a one-time link, whose stored text is the text sent, where delivering them
/// all would only slow a test down.
pub async fn queued_email(app: &TestApp, template: &str, to: &str) -> String {
    let sql = format!(
        "SELECT to_address, subject, body_text FROM email_outbox WHERE template = '{template}' \
         AND to_address = '{to}' ORDER BY id LIMIT 1"
    );
    let backend = app.state.db.get_database_backend();
    let row = app.state.db.query_one_raw(Statement::from_string(backend, sql)).await.expect("query");
    let row = row.unwrap_or_else(|| panic!("a queued {template} email to {to}"));
    let column = |name: &str| row.try_get::<String>("", name).expect(name);
    format!("To: {}\nSubject: {}\n\n{}", column("to_address"), column("subject"), column("body_text").trim_end())
}

/// Asserts that `$value` matches the snapshot `$name` once redacted with [`settings`].
#[macro_export]
macro_rules! assert_redacted_snapshot {
    ($name:expr, $value:expr $(,)?) => {{
        let value: String = $value;
        $crate::support::snapshot::settings().bind(|| insta::assert_snapshot!($name, value));
    }};
}
