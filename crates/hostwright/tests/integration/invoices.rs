//! Invoices: drafts computed by the money core, gapless numbering (also under 50 concurrent
//! issuers), proforma mode, idempotent manual payments, the client's view.

use std::collections::BTreeSet;

use hostwright::audit::Actor;
use hostwright::ids::{ClientId, StaffId};
use hostwright::invoices::drafts::{self, DraftInput, LineInput};
use hostwright::invoices::issuing;

use crate::on_both_backends;
use crate::support::{TestApp, fixtures, snapshot};

async fn an_invoice_is_drafted_issued_numbered_and_paid_once(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "zoe@example.de").create().await;
    let bad = app
        .post_form(
            "/admin/invoices",
            &[
                ("client_id", &client.to_string()),
                ("currency_code", "EUR"),
                ("line.0.description", "Hosting"),
                ("line.0.unit_price", "9.999"),
                ("line.1.description", ""),
                ("line.1.unit_price", "-1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("EUR has 2 decimals.");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 0);

    let path = fixtures::invoice(&mut app, client)
        .taxed("Web hosting, December", "2", "9.99")
        .untaxed("Setup", "1", "5.00")
        .draft()
        .await
        .path;
    let page = app.get(&path).await;
    page.assert_contains("Draft");
    // 2 × 9.99 = 19.98 taxed at 19 % = 3.80; plus 5.00 untaxed.
    page.assert_contains("28.78 EUR");
    page.assert_contains("3.80 EUR");
    app.post_form(&format!("{path}/issue"), &[]).await.assert_redirect_to(&path);
    let number = format!("{}-00001", fixtures::year());
    let issued = app.get(&path).await;
    issued.assert_contains(&number);
    crate::assert_redacted_snapshot!("admin_invoice_page_issued", snapshot::page(&issued));
    assert!(app.post_form(&format!("{path}/issue"), &[]).await.status.is_redirection());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE number IS NOT NULL").await, 1);
    app.deliver_email().await;
    let email = app.smtp.wait_for("zoe@example.de").await;
    assert!(email.subject().contains(&number), "{}", email.subject());
    crate::assert_redacted_snapshot!("invoice_issued_email", snapshot::email(&email));

    app.post_form(&format!("{path}/resend"), &[]).await.assert_redirect_to(&path);
    app.deliver_email().await;
    assert_eq!(app.smtp.to("zoe@example.de").len(), 2, "sent again on request");

    let second = fixtures::invoice(&mut app, client).taxed("Domain", "1", "12.00").draft().await.path;
    app.post_form(&format!("{second}/resend"), &[]).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.resent'").await,
        1,
        "drafts are not sent"
    );
    app.post_form(&format!("{second}/issue"), &[]).await;
    app.get(&second).await.assert_contains(&format!("{}-00002", fixtures::year()));

    // A partial payment, the same submission again, then the rest.
    let key = "k".repeat(24);
    app.post_form(
        &format!("{path}/payments"),
        &[("amount", "10.00"), ("method", "bank_transfer"), ("reference", "SEPA 1"), ("key", &key)],
    )
    .await;
    app.post_form(
        &format!("{path}/payments"),
        &[("amount", "10.00"), ("method", "bank_transfer"), ("reference", "SEPA 1"), ("key", &key)],
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_payments").await, 1);
    app.get(&path).await.assert_contains("18.78 EUR");
    let too_much = app
        .post_form(&format!("{path}/payments"), &[("amount", "50.00"), ("method", "cheque"), ("key", &"m".repeat(24))])
        .await;
    assert_eq!(too_much.status, 422);
    too_much.assert_contains("The balance is 18.78 EUR");
    app.post_form(&format!("{path}/payments"), &[("amount", "18.78"), ("method", "cheque"), ("key", &"n".repeat(24))])
        .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND amount_paid_minor = 2878").await, 1);
    // A paid invoice cannot be cancelled; an unpaid one can, and keeps its number.
    app.post_form(&format!("{path}/cancel"), &[]).await;
    app.post_form(&format!("{second}/cancel"), &[]).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'cancelled' AND number IS NOT NULL").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'").await, 1);
}

async fn a_business_in_another_member_state_is_reverse_charged(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "compta@example.fr").country("FR").tax_id("FR40303265045").create().await;
    let path = fixtures::invoice(&mut app, client).taxed("VPS, December", "1", "20.00").draft().await.path;
    app.post_form(&format!("{path}/issue"), &[]).await;
    let page = app.get(&path).await;
    page.assert_contains("20.00 EUR");
    page.assert_contains("Reverse charge");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE reverse_charge AND tax_minor = 0").await, 1);
}

async fn a_tax_exempt_client_pays_no_tax(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "charity@example.de").create().await;
    let form = [
        ("first_name", "Zoë"),
        ("last_name", "Ørsted"),
        ("email", "charity@example.de"),
        ("country", "DE"),
        ("status", "active"),
        ("tax_exempt", "on"),
    ];
    app.post_form(&format!("/admin/clients/{client}"), &form).await;
    let path = fixtures::invoice(&mut app, client).taxed("Hosting", "1", "10.00").draft().await.path;
    app.get(&path).await.assert_contains("10.00 EUR");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices WHERE tax_minor = 0 AND total_minor = 1000").await, 1);
    app.get(&format!("/admin/clients/{client}?tab=activity")).await.assert_contains("tax exemption");
}

async fn in_proforma_mode_the_legal_number_comes_with_payment(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).proforma().set_up().await;
    let client = fixtures::client(&mut app, "zoe@example.de").create().await;
    let path = fixtures::invoice(&mut app, client).taxed("Hosting", "1", "10.00").draft().await.path;
    app.post_form(&format!("{path}/issue"), &[]).await;
    app.get(&path).await.assert_contains("PF-000001");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM invoices WHERE number IS NULL AND proforma_number = 'PF-000001'").await,
        1
    );
    app.post_form(
        &format!("{path}/payments"),
        &[("amount", "11.90"), ("method", "bank_transfer"), ("key", &"p".repeat(24))],
    )
    .await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE status = 'paid' AND number = '{}-00001'",
            fixtures::year()
        ))
        .await,
        1
    );
}

async fn clients_see_their_own_issued_invoices_only(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    fixtures::billing(&mut staff).set_up().await;
    let other = fixtures::client(&mut staff, "other@example.com").create().await;
    let mine = fixtures::invoice(&mut staff, ClientId(1)).taxed("Hosting", "1", "10.00").draft().await.path;
    let not_mine = fixtures::invoice(&mut staff, other).taxed("Hosting", "1", "10.00").draft().await.path;
    staff.post_form(&format!("{not_mine}/issue"), &[]).await;
    let id = mine.trim_start_matches("/admin/invoices/");
    assert_eq!(app.get(&format!("/account/invoices/{id}")).await.status, 404, "drafts are not shown");
    staff.post_form(&format!("{mine}/issue"), &[]).await;
    let page = app.get(&format!("/account/invoices/{id}")).await;
    assert_eq!(page.status, 200);
    page.assert_contains("Acme Hosting GmbH");
    let pdf = app.get(&format!("/account/invoices/{id}/pdf")).await;
    assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
    // Stored once through the file store, then served from it.
    let key: String = format!("invoices/{id}/{}-00002.pdf", fixtures::year());
    assert!(app.state.files.get(&key).await.unwrap().is_some(), "{key} stored");
    let other_pdf = not_mine.trim_start_matches("/admin/invoices/");
    assert_eq!(app.get(&format!("/account/invoices/{other_pdf}/pdf")).await.status, 404);
    app.get("/account/invoices").await.assert_contains(&format!("{}-0000", fixtures::year()));
    let other_id = not_mine.trim_start_matches("/admin/invoices/");
    assert_eq!(app.get(&format!("/account/invoices/{other_id}")).await.status, 404);
}

async fn fifty_concurrent_issuers_get_fifty_consecutive_numbers(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "zoe@example.de").create().await;
    let actor = Actor::staff(StaffId(1), "ada@hostwright.test", "");
    let mut drafts = Vec::new();
    for i in 0..50 {
        let input = DraftInput {
            client_id: client,
            currency_code: "EUR".into(),
            due_date: String::new(),
            notes: String::new(),
            lines: vec![LineInput {
                description: format!("Item {i}"),
                quantity: "1".into(),
                unit_price: "1.00".into(),
                taxed: true,
            }],
        };
        drafts.push(drafts::create_draft(&app.state, &actor, &input).await.unwrap());
    }
    let mut tasks = Vec::new();
    for id in drafts {
        let state = app.state.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move { issuing::issue(&state, &actor, id).await.map(|i| i.number) }));
    }
    let mut numbers = BTreeSet::new();
    for task in tasks {
        let number = task.await.unwrap().unwrap().unwrap();
        assert!(numbers.insert(number.clone()), "duplicate {number}");
    }
    let expected: BTreeSet<String> = (1..=50).map(|n| format!("{}-{n:05}", fixtures::year())).collect();
    assert_eq!(numbers, expected, "no gaps, no duplicates");
    // Numbers rise with the time of issue.
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM invoices a JOIN invoices b ON a.number < b.number AND a.issued_at > b.issued_at"
        )
        .await,
        0
    );
}

async fn invoices_are_dated_in_the_business_time_zone(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let form = |zone: &'static str| {
        vec![
            ("company_name", "Acme Hosting GmbH"),
            ("country", "DE"),
            ("invoice_pattern", "{YYYY}-{SEQ:5}"),
            ("credit_note_pattern", "CN-{YYYY}-{SEQ:5}"),
            ("proforma_pattern", "PF-{SEQ:6}"),
            ("default_due_days", "14"),
            ("time_zone", zone),
        ]
    };
    let bad = app.post_form("/admin/settings/billing", &form("Mars/Olympus_Mons")).await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("Enter a time zone from the IANA database");
    // UTC+14 and UTC−11: at any instant at least one of them is on another date than UTC.
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        app.post_form("/admin/settings/billing", &form(zone)).await.assert_redirect_to("/admin/settings/billing");
        let client = fixtures::client(&mut app, &format!("{}@example.de", zone.len())).create().await;
        let path = fixtures::invoice(&mut app, client).taxed("Hosting", "1", "10.00").draft().await.path;
        app.post_form(&format!("{path}/issue"), &[]).await;
        let tz: chrono_tz::Tz = zone.parse().unwrap();
        let expected = chrono::Utc::now().with_timezone(&tz).date_naive();
        let id = path.trim_start_matches("/admin/invoices/");
        let due = expected + chrono::Days::new(14);
        let sql = format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {id} AND issue_date = '{expected}' AND due_date = '{due}'"
        );
        assert_eq!(app.scalar(&sql).await, 1, "issued on {expected}, due {due} in {zone}");
    }
}

async fn overdue_invoices_are_listed_oldest_debt_first(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let client = fixtures::client(&mut app, "late@example.de").create().await;
    for due in ["2025-03-01", "2024-01-15", "2025-01-31"] {
        let form = [
            ("client_id", client.to_string()),
            ("currency_code", "EUR".to_owned()),
            ("due_date", due.to_owned()),
            ("line.0.description", format!("Hosting due {due}")),
            ("line.0.unit_price", "10.00".to_owned()),
        ];
        let fields: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = app.post_form("/admin/invoices", &fields).await.location().to_owned();
        app.post_form(&format!("{path}/issue"), &[]).await;
    }
    let page = app.get("/admin/invoices?overdue=1").await;
    let at = |due: &str| page.body.find(due).unwrap_or_else(|| panic!("{due} listed"));
    assert!(at("2024-01-15") < at("2025-01-31") && at("2025-01-31") < at("2025-03-01"), "oldest debt first");
    // Every other list shows the newest invoice first.
    let all = app.get("/admin/invoices").await;
    let number = |n: u32| all.body.find(&format!("{}-{n:05}", fixtures::year())).unwrap_or(usize::MAX);
    assert!(number(3) < number(1));
}

on_both_backends!(
    an_invoice_is_drafted_issued_numbered_and_paid_once,
    overdue_invoices_are_listed_oldest_debt_first,
    invoices_are_dated_in_the_business_time_zone,
    a_business_in_another_member_state_is_reverse_charged,
    a_tax_exempt_client_pays_no_tax,
    in_proforma_mode_the_legal_number_comes_with_payment,
    clients_see_their_own_issued_invoices_only,
    fifty_concurrent_issuers_get_fifty_consecutive_numbers,
);
