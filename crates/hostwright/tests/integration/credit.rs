//! Credit notes and account credit: corrections of issued invoices in their own gapless
//! series, refunds to account credit, staff adjustments, paying invoices from credit, and
//! credit that cannot be spent twice.

use hostwright::audit::Actor;
use hostwright::ids::{InvoiceId, StaffId};
use hostwright::invoices::account_credit::{self, Outcome};
use hostwright::invoices::service::InvoiceError;

use crate::on_both_backends;
use crate::support::fixtures::{self, key};
use crate::support::{TestApp, snapshot};

/// 2 × 9.99 taxed at 19 % (tax 3.80) and 5.00 untaxed: 28.78 EUR, issued.
async fn issued_invoice(app: &mut TestApp, email: &str) -> (String, InvoiceId) {
    let client = fixtures::client(app, email).create().await;
    let invoice = fixtures::invoice(app, client)
        .taxed("Web hosting, December", "2", "9.99")
        .untaxed("Setup", "1", "5.00")
        .issue()
        .await;
    (invoice.path, invoice.id)
}

async fn a_paid_invoice_is_credited_in_part_then_in_full(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let (path, id) = issued_invoice(&mut app, "zoe@example.de").await;
    app.post_form(&format!("{path}/payments"), &[("amount", "28.78"), ("method", "bank_transfer"), ("key", &key('p'))])
        .await;

    let form = app.get(&format!("{path}/credit-notes/new")).await;
    assert_eq!(form.status, 200);
    form.assert_contains("19.98");
    // The first line only: its tax follows from the invoice's tax line, 3.80 × 9.99 / 19.98.
    let first = [
        ("amount.0", "9.99"),
        ("amount.1", "0"),
        ("reason", "Service unavailable for half of December"),
        ("refund_method", "account_credit"),
        ("key", &key('a')),
    ];
    let issued = app.post_form(&format!("{path}/credit-notes"), &first).await;
    assert!(issued.location().starts_with("/admin/credit-notes/"), "{}", issued.body);
    let note_path = issued.location().to_owned();
    app.post_form(&format!("{path}/credit-notes"), &first).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM credit_notes").await, 1, "one note per form submission");
    let cn1 = format!("CN-{}-00001", fixtures::year());
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM credit_notes WHERE number = '{cn1}' AND net_minor = 999 AND tax_minor = 190 \
             AND total_minor = 1189 AND settled_minor = 0 AND refunded_minor = 1189"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {id} AND status = 'paid' AND credited_minor = 1189 \
             AND refunded_minor = 1189"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances WHERE currency_code = 'EUR'").await, 1189);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM client_credit_entries WHERE kind = 'credit_note' AND amount_minor = 1189")
            .await,
        1
    );
    let note = app.get(&note_path).await;
    note.assert_contains(&cn1);
    note.assert_contains("Service unavailable for half of December");
    app.get(&path).await.assert_contains(&cn1);

    let pdf = app.get(&format!("{note_path}/pdf")).await;
    assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
    assert!(pdf.body.starts_with("%PDF"));
    let note_id = note_path.trim_start_matches("/admin/credit-notes/");
    let stored = format!("credit-notes/{note_id}/{cn1}.pdf");
    assert!(app.state.files.get(&stored).await.unwrap().is_some(), "{stored} stored");

    app.deliver_email().await;
    let email = app.smtp.to("zoe@example.de").into_iter().find(|m| m.subject().contains(&cn1));
    let email = email.expect("the credit note email");
    crate::assert_redacted_snapshot!("credit_note_issued_email", snapshot::email(&email));

    // The rest, refunded outside Hostwright: the taxes come back to exactly the invoice's.
    let rest = [
        ("amount.0", "9.99"),
        ("amount.1", "5.00"),
        ("reason", "Contract ended"),
        ("refund_method", "external"),
        ("key", &key('b')),
    ];
    app.post_form(&format!("{path}/credit-notes"), &rest).await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM credit_notes WHERE number = 'CN-{}-00002' AND tax_minor = 190 AND total_minor = 1689 \
             AND refund_method = 'external'",
            fixtures::year()
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT CAST(SUM(amount_minor) AS BIGINT) FROM credit_note_tax_lines").await, 380);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {id} AND status = 'refunded' AND credited_minor = 2878"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 1189, "paid back outside");
    let again = app
        .post_form(
            &format!("{path}/credit-notes"),
            &[("amount.0", "1.00"), ("reason", "Again"), ("refund_method", "external"), ("key", &key('c'))],
        )
        .await;
    assert_eq!(again.location(), path);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM credit_notes").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.credited'").await, 2);
}

async fn bad_credit_notes_are_refused_and_change_nothing(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let (path, _) = issued_invoice(&mut app, "zoe@example.de").await;
    let k = key('k');
    let post = |amount0: &'static str, reason: &'static str| {
        vec![("amount.0", amount0), ("amount.1", ""), ("reason", reason), ("key", k.as_str())]
    };
    for (fields, message) in [
        (post("19.99", "Too much"), "At most 19.98 EUR can still be credited."),
        (post("-1.00", "Negative"), "Enter the amount to credit as a positive number."),
        (post("abc", "Nonsense"), "Enter an amount like 9.99 (EUR)."),
        (post("0", "Nothing"), "Enter an amount to credit on at least one line."),
        (post("1.00", ""), "Say why the invoice is corrected"),
    ] {
        let refused = app.post_form(&format!("{path}/credit-notes"), &fields).await;
        assert_eq!(refused.status, 422, "{fields:?}");
        refused.assert_contains(message);
    }
    // A draft and a proforma cannot be credited.
    let client = fixtures::client(&mut app, "other@example.de").create().await;
    let draft_path = fixtures::invoice(&mut app, client).taxed("Hosting", "1", "10.00").draft().await.path;
    let refused = app
        .post_form(&format!("{draft_path}/credit-notes"), &[("amount.0", "1"), ("reason", "x"), ("key", &key('d'))])
        .await;
    assert_eq!(refused.location(), draft_path);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM credit_notes").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM number_sequences WHERE series = 'credit_note'").await, 0);
    assert_eq!(app.scalar("SELECT credited_minor FROM invoices WHERE number IS NOT NULL").await, 0);
}

async fn credit_pays_invoices_and_is_never_spent_twice(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::billing(&mut app).set_up().await;
    let (path, id) = issued_invoice(&mut app, "zoe@example.de").await;
    // Credit the untaxed setup line of the unpaid invoice: it owes less, nothing is refunded.
    app.post_form(
        &format!("{path}/credit-notes"),
        &[("amount.0", ""), ("amount.1", "5.00"), ("reason", "Setup waived"), ("key", &key('a'))],
    )
    .await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {id} AND status = 'unpaid' AND credited_minor = 500 \
             AND refunded_minor = 0"
        ))
        .await,
        1
    );
    let client = app.scalar(&format!("SELECT client_id FROM invoices WHERE id = {id}")).await;

    // Staff add 30.00 of credit; the client's credit pays the remaining 23.78.
    let to_credit = format!("/admin/clients/{client}/credit");
    let (g, r) = (key('g'), key('r'));
    let add = [
        ("currency_code", "EUR"),
        ("direction", "add"),
        ("amount", "30.00"),
        ("reason", "Goodwill for the outage"),
        ("key", &g),
    ];
    let remove =
        [("currency_code", "EUR"), ("direction", "remove"), ("amount", "10.00"), ("reason", "Correction"), ("key", &r)];
    let fields = add;
    app.post_form(&to_credit, &fields).await.assert_redirect_to(&format!("/admin/clients/{client}?tab=credit"));
    app.post_form(&to_credit, &fields).await;
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 3000, "once per submission");
    app.get(&format!("/admin/clients/{client}?tab=credit")).await.assert_contains("Goodwill for the outage");

    app.post_form(&format!("{path}/apply-credit"), &[("credit_amount", ""), ("key", &key('x'))]).await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {id} AND status = 'paid' AND credit_applied_minor = 2378"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 622);

    // Removing more than is held is refused and changes nothing.
    app.post_form(&to_credit, &remove).await;
    let page = app.get(&format!("/admin/clients/{client}?tab=credit")).await;
    page.assert_contains("The client holds 6.22 EUR; remove at most that.");
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 622);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_credit_entries").await, 2);
    assert_eq!(app.scalar("SELECT balance_after_minor FROM client_credit_entries ORDER BY id DESC LIMIT 1").await, 622);

    // Two invoices racing for the same 6.22: exactly one gets it.
    let mut invoices = Vec::new();
    for _ in 0..2 {
        let client_id = hostwright::ids::ClientId(client);
        let other = fixtures::invoice(&mut app, client_id).taxed("Backup", "1", "5.00").draft().await.path;
        app.post_form(&format!("{other}/issue"), &[]).await;
        invoices.push(InvoiceId(other.trim_start_matches("/admin/invoices/").parse().unwrap()));
    }
    let actor = Actor::staff(StaffId(1), "ada@hostwright.test", "");
    let mut tasks = Vec::new();
    for (i, invoice) in invoices.into_iter().enumerate() {
        let (state, actor) = (app.state.clone(), actor.clone());
        tasks.push(tokio::spawn(async move {
            account_credit::apply_to_invoice(&state, &actor, invoice, "5.00", &format!("race-key-{i}-0123456789")).await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(Outcome::Done { .. }) => applied += 1,
            Err(InvoiceError::NotAllowed(_) | InvoiceError::Invalid(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied, 1, "6.22 of credit pays one 5.00 application, not two");
    assert_eq!(app.scalar("SELECT balance_minor FROM client_credit_balances").await, 122);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM client_credit_balances WHERE balance_minor < 0").await, 0);
}

async fn clients_see_their_credit_and_credit_notes(mut app: TestApp) {
    app.register_client("grace@example.com", "compass meadow 31").await;
    let mut staff = app.second_node().await;
    staff.signed_in_admin().await;
    fixtures::billing(&mut staff).set_up().await;
    let mine =
        fixtures::invoice(&mut staff, hostwright::ids::ClientId(1)).taxed("Hosting", "1", "10.00").draft().await.path;
    staff.post_form(&format!("{mine}/issue"), &[]).await;
    staff
        .post_form(&format!("{mine}/payments"), &[("amount", "11.90"), ("method", "cheque"), ("key", &key('p'))])
        .await;
    staff
        .post_form(
            &format!("{mine}/credit-notes"),
            &[
                ("amount.0", "10.00"),
                ("reason", "Cancelled in time"),
                ("refund_method", "account_credit"),
                ("key", &key('n')),
            ],
        )
        .await;
    let (_, theirs) = issued_invoice(&mut staff, "other@example.de").await;
    staff
        .post_form(
            &format!("/admin/invoices/{theirs}/credit-notes"),
            &[("amount.0", "1.00"), ("amount.1", ""), ("reason", "Other client"), ("key", &key('o'))],
        )
        .await;

    let page = app.get("/account/credit").await;
    assert_eq!(page.status, 200);
    page.assert_contains("11.90 EUR");
    page.assert_contains("Cancelled in time");
    assert!(!page.body.contains("Other client"), "another client's notes stay hidden");
    let notes = app.scalar("SELECT id FROM credit_notes WHERE client_id = 1").await;
    let other = app.scalar("SELECT id FROM credit_notes WHERE client_id <> 1").await;
    let pdf = app.get(&format!("/account/credit-notes/{notes}/pdf")).await;
    assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
    assert_eq!(app.get(&format!("/account/credit-notes/{other}/pdf")).await.status, 404);
    let id = mine.trim_start_matches("/admin/invoices/");
    app.get(&format!("/account/invoices/{id}")).await.assert_contains(&format!("CN-{}-00001", fixtures::year()));
}

on_both_backends!(
    a_paid_invoice_is_credited_in_part_then_in_full,
    bad_credit_notes_are_refused_and_change_nothing,
    credit_pays_invoices_and_is_never_spent_twice,
    clients_see_their_credit_and_credit_notes,
);
