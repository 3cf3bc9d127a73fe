//! The daily run: renewal invoices made once per service and period whoever runs it and
//! however often, a dry run that agrees with the real one, payment renewing the services,
//! and a holder that lost its lease fenced off.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use hostwright::automation::{self, Task, lease, renewals};
use hostwright::ids::{ClientId, OrderId, ServiceId};
use hostwright::site_settings::automation as automation_settings;
use sea_orm::ConnectionTrait;

use crate::on_both_backends;
use crate::support::{TestApp, fixtures, snapshot};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const WAIT: Duration = Duration::from_secs(30);

/// Service `id` registered on `registered` (its billing day), paid until `due`, billed `cycle`
/// at `price`.
async fn dated(app: &TestApp, id: ServiceId, registered: &str, due: &str, cycle: &str, price: i64) {
    let billing_day = day(registered).day();
    app.execute(&format!(
        "UPDATE services SET status = 'active', registration_date = '{registered}', next_due_date = '{due}', \
         next_invoice_date = '{due}', billing_day = {billing_day}, billing_cycle = '{cycle}', \
         recurring_minor = {price} WHERE id = {id}"
    ))
    .await;
}

async fn renewal_lines(app: &TestApp, service: ServiceId) -> i64 {
    app.scalar(&format!("SELECT COUNT(*) FROM invoice_lines WHERE kind = 'renewal' AND service_id = {service}")).await
}

async fn renewals_are_invoiced_once_per_period_and_payment_renews_the_services(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let ada = fixtures::client(&mut app, "ada@example.de").currency("EUR").create().await;
    let bob = fixtures::client(&mut app, "bob@example.de").currency("EUR").create().await;
    let (a1, a2, b1) = (
        fixtures::active_service(&mut app, ada, 'a').await,
        fixtures::active_service(&mut app, ada, 'b').await,
        fixtures::active_service(&mut app, bob, 'c').await,
    );
    let cancelling = fixtures::active_service(&mut app, bob, 'd').await;
    // Started on the 31st: due on the last day of shorter months, back on the 31st after them.
    dated(&app, a1, "2027-01-31", "2027-02-28", "monthly", 1000).await;
    dated(&app, a2, "2027-01-31", "2027-02-28", "monthly", 1500).await;
    dated(&app, b1, "2026-06-01", "2027-06-01", "annually", 10000).await;
    dated(&app, cancelling, "2027-01-20", "2027-02-20", "monthly", 1000).await;
    let record = hostwright::services::store::find(&app.state.db, cancelling).await.unwrap().unwrap();
    hostwright::services::cancellations::request(
        &app.state,
        &hostwright::audit::Actor::system("test"),
        &record,
        "end_of_period",
        "Moving away",
    )
    .await
    .unwrap();
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM cancellation_requests WHERE service_id = {cancelling}")).await,
        1,
        "the cancellation request is recorded"
    );
    let before = app.scalar("SELECT COUNT(*) FROM invoices").await;

    // 14 days ahead of 28 February: Ada's two services, on one invoice; Bob's annual one is
    // not due, his other one is being cancelled.
    let on = day("2027-02-14");
    let dry = automation::run_now(&app.state, Some(on), &Task::ALL, true, WAIT).await.unwrap();
    assert_eq!(dry.token, None);
    let dry_report = &dry.reports[0];
    assert_eq!(dry_report.counts.get("invoices"), Some(&1));
    assert_eq!(dry_report.counts.get("lines"), Some(&2));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, before, "a dry run writes nothing");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM automation_runs").await, 0);
    let printed = automation::describe_run(&dry, true);
    assert!(printed.contains("would make renewal invoice for client") && printed.contains("29.75 EUR"), "{printed}");

    let real = automation::run_now(&app.state, Some(on), &Task::ALL, false, WAIT).await.unwrap();
    let report = &real.reports[0];
    assert_eq!(report.error, None);
    assert_eq!(report.counts.get("invoices"), Some(&1));
    assert_eq!(report.counts.get("lines"), Some(&2));
    assert_eq!(report.actions, dry_report.actions, "the dry run said exactly what the real run did");
    let invoice = app.scalar("SELECT MAX(invoice_id) FROM invoice_lines WHERE kind = 'renewal'").await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoices WHERE id = {invoice} AND client_id = {ada} AND status = 'unpaid' \
             AND issue_date = '2027-02-14' AND due_date = '2027-02-28' AND subtotal_minor = 2500 AND total_minor = 2975"
        ))
        .await,
        1,
        "10.00 + 15.00 + 19 % VAT, issued on the run's date, due when the period starts"
    );
    for s in [a1, a2] {
        assert_eq!(renewal_lines(&app, s).await, 1);
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM invoice_lines WHERE service_id = {s} AND period_start = '2027-02-28' \
                 AND period_end = '2027-03-31'"
            ))
            .await,
            1
        );
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM services WHERE id = {s} AND next_invoice_date = '2027-03-31' \
                 AND next_due_date = '2027-02-28'"
            ))
            .await,
            1,
            "invoiced ahead, not yet paid"
        );
    }
    assert_eq!(renewal_lines(&app, b1).await + renewal_lines(&app, cancelling).await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM automation_runs WHERE task = 'renewals' AND status = 'done'").await, 1);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.issued' AND summary LIKE '%: renewal of service #%'"
        )
        .await,
        1
    );

    // The same day again, and the next day: nothing more.
    for again in ["2027-02-14", "2027-02-15"] {
        let rerun = automation::run_now(&app.state, Some(day(again)), &Task::ALL, false, WAIT).await.unwrap();
        assert_eq!(rerun.reports[0].counts.get("invoices"), Some(&0), "{again}");
    }
    assert_eq!(renewal_lines(&app, a1).await, 1);

    // Paid: both services are paid until the end of the period, once.
    app.post_form(
        &format!("/admin/invoices/{invoice}/payments"),
        &[("amount", "29.75"), ("method", "bank_transfer"), ("key", &"p".repeat(24))],
    )
    .await;
    app.run_jobs().await;
    for s in [a1, a2] {
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM services WHERE id = {s} AND next_due_date = '2027-03-31' \
                 AND paid_period_start = '2027-02-28'"
            ))
            .await,
            1
        );
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'service.renewed'").await, 2);

    // The next period runs to 30 April (the 31st, clamped), and is invoiced once too.
    automation::run_now(&app.state, Some(day("2027-03-17")), &Task::ALL, false, WAIT).await.unwrap();
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoice_lines WHERE service_id = {a1} AND period_start = '2027-03-31' \
             AND period_end = '2027-04-30'"
        ))
        .await,
        1
    );
    assert_eq!(renewal_lines(&app, a1).await, 2);
}

async fn runs_on_two_nodes_at_once_invoice_every_period_once(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let mut services = Vec::new();
    for i in 0..12u8 {
        let client = fixtures::client(&mut app, &format!("c{i}@example.de")).currency("EUR").create().await;
        let s = fixtures::active_service(&mut app, client, char::from(b'a' + i)).await;
        dated(&app, s, "2027-01-10", "2027-02-10", "monthly", 1000).await;
        services.push(s);
    }
    let other = app.second_node().await;
    let on = Some(day("2027-02-01"));
    let (first, second) = tokio::join!(
        automation::run_now(&app.state, on, &Task::ALL, false, WAIT),
        automation::run_now(&other.state, on, &Task::ALL, false, WAIT),
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_ne!(first.token, second.token, "one after the other, each under its own lease");
    let made = first.reports[0].counts["invoices"] + second.reports[0].counts["invoices"];
    assert_eq!(made, 12, "{first:?} {second:?}");
    for s in services {
        assert_eq!(renewal_lines(&app, s).await, 1);
    }
    assert_eq!(app.scalar("SELECT COUNT(DISTINCT client_id) FROM invoices WHERE issue_date = '2027-02-01'").await, 12);
}

async fn a_holder_that_lost_its_lease_is_fenced_off(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let ada = fixtures::client(&mut app, "ada@example.de").currency("EUR").create().await;
    let s = fixtures::active_service(&mut app, ada, 'a').await;
    dated(&app, s, "2027-01-10", "2027-02-10", "monthly", 1000).await;
    let db = &app.state.db;
    let on = day("2027-02-01");

    let ttl = Duration::from_millis(500);
    let paused = lease::acquire(db, lease::SCHEDULER, "node-a", ttl).await.unwrap().unwrap();
    assert!(lease::acquire(db, lease::SCHEDULER, "node-b", ttl).await.unwrap().is_none(), "a live lease is held");
    let settings = automation_settings::load(db).await.unwrap();
    let planned = renewals::plan(&app.state, &settings, on).await.unwrap();
    assert_eq!(planned.len(), 1);

    // node-a stalls past its lease; node-b takes over with a higher token.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    let standby = lease::acquire(db, lease::SCHEDULER, "node-b", Duration::from_secs(30)).await.unwrap().unwrap();
    assert_eq!(standby.token, paused.token + 1);
    assert!(!lease::renew(db, &paused, ttl).await.unwrap(), "the old holder cannot renew");

    // node-a wakes up and writes its plan: refused, and nothing of it stays.
    let refused = renewals::apply(&app.state, &paused, on, &planned).await;
    assert!(matches!(refused, Err(renewals::RenewalError::LeaseLost)), "{refused:?}");
    assert_eq!(renewal_lines(&app, s).await, 0);
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {s} AND next_invoice_date = '2027-02-10'")).await,
        1
    );
    let stale = automation::run(&app.state, Some(&paused), on, &Task::ALL).await;
    assert!(matches!(stale, Err(automation::RunError::LeaseLost)), "{stale:?}");

    // node-b's run goes through.
    let reports = automation::run(&app.state, Some(&standby), on, &Task::ALL).await.unwrap();
    assert_eq!(reports[0].counts["invoices"], 1);
    assert_eq!(renewal_lines(&app, s).await, 1);
    let status = automation::describe_status(&app.state).await.unwrap();
    assert!(status.contains("node-b") && status.contains("renewals: last run for 2027-02-01 done"), "{status}");
}

/// Pays every unpaid invoice of `client` due on `due_on` (any, when `None`) in full.
async fn pay_invoices(app: &mut TestApp, client: ClientId, due_on: Option<NaiveDate>) -> usize {
    let backend = app.state.db.get_database_backend();
    let filter = due_on.map(|d| format!(" AND due_date = '{d}'")).unwrap_or_default();
    let rows = app
        .state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            backend,
            format!("SELECT id, total_minor FROM invoices WHERE client_id = {client} AND status = 'unpaid'{filter}"),
        ))
        .await
        .unwrap();
    let unpaid: Vec<(i64, i64)> =
        rows.iter().map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "total_minor").unwrap())).collect();
    for (id, total) in &unpaid {
        let amount = format!("{}.{:02}", total / 100, total % 100);
        let key = format!("pay-{id}-{}", "k".repeat(20));
        app.post_form(
            &format!("/admin/invoices/{id}/payments"),
            &[("amount", &amount), ("method", "bank_transfer"), ("key", &key)],
        )
        .await
        .assert_redirect_to(&format!("/admin/invoices/{id}"));
    }
    app.run_jobs().await;
    unpaid.len()
}

async fn reminders_for(app: &TestApp, client: ClientId) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM invoice_reminders r JOIN invoices i ON i.id = r.invoice_id WHERE i.client_id = {client}"
    ))
    .await
}

async fn audited(app: &TestApp, action: &str, service: ServiceId) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE action = '{action}' AND entity_type = 'service' AND entity_id = {service}"
    ))
    .await
}

/// A year of daily runs for four clients: one pays each renewal the day it is issued, one
/// never pays, one pays a week and a half late, one is suspended by staff and pays late every
/// month. Every invoice, reminder, suspension, unsuspension and termination is counted, each
/// day's dry run must describe exactly what the real run then does, and a second run of the
/// day must do nothing.
async fn a_year_of_daily_runs_bills_reminds_suspends_and_terminates_exactly(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let mut settings = automation_settings::load(&app.state.db).await.unwrap();
    settings.terminate_after_days = Some(30);
    automation_settings::save(&app.state.db, &settings).await.unwrap();
    let (prompt, never, late, abuse) = (
        fixtures::client(&mut app, "prompt@example.de").currency("EUR").create().await,
        fixtures::client(&mut app, "never@example.de").currency("EUR").create().await,
        fixtures::client(&mut app, "late@example.de").currency("EUR").create().await,
        fixtures::client(&mut app, "abuse@example.de").currency("EUR").create().await,
    );
    let m = fixtures::active_service(&mut app, prompt, 'm').await;
    let q = fixtures::active_service(&mut app, never, 'q').await;
    let a = fixtures::active_service(&mut app, late, 'a').await;
    let s = fixtures::active_service(&mut app, abuse, 's').await;
    dated(&app, m, "2027-01-15", "2027-02-15", "monthly", 1000).await;
    dated(&app, q, "2027-01-15", "2027-04-15", "quarterly", 3000).await;
    dated(&app, a, "2026-03-01", "2027-03-01", "annually", 10000).await;
    dated(&app, s, "2027-01-20", "2027-02-20", "monthly", 1000).await;
    app.execute(&format!("UPDATE services SET status = 'suspended', suspend_reason = 'Abuse' WHERE id = {s}")).await;

    let mut on = day("2027-02-01");
    let end = day("2028-01-31");
    while on <= end {
        let dry = automation::run_now(&app.state, Some(on), &Task::ALL, true, WAIT).await.unwrap();
        let real = automation::run_now(&app.state, Some(on), &Task::ALL, false, WAIT).await.unwrap();
        for (d, r) in dry.reports.iter().zip(&real.reports) {
            assert_eq!(r.error, None, "{on} {}", r.task);
            assert_eq!(d.actions, r.actions, "{on} {}: the dry run and the real run disagree", r.task);
        }
        app.run_jobs().await;
        // The prompt client pays what was issued today; the late ones ten days after the due date.
        let issued_today = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM invoices WHERE client_id = {prompt} AND issue_date = '{on}' AND status = 'unpaid'"
            ))
            .await;
        if issued_today > 0 {
            pay_invoices(&mut app, prompt, None).await;
        }
        let ten_days_ago = on.checked_sub_days(chrono::Days::new(10)).unwrap();
        pay_invoices(&mut app, late, Some(ten_days_ago)).await;
        pay_invoices(&mut app, abuse, Some(ten_days_ago)).await;
        if on.day0() == 0 {
            // Once a month, the day's run again: nothing more happens.
            let again = automation::run_now(&app.state, Some(on), &Task::ALL, false, WAIT).await.unwrap();
            for r in &again.reports {
                let did: i64 = r.counts.iter().filter(|(k, _)| **k != "already_invoiced").map(|(_, v)| *v).sum();
                assert_eq!(did, 0, "{on} {}: {:?}", r.task, r.counts);
            }
        }
        on = on.succ_opt().unwrap();
    }

    // Prompt: twelve monthly periods back to back, paid, never reminded.
    assert_eq!(renewal_lines(&app, m).await, 12);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM invoice_lines a JOIN invoice_lines b ON a.service_id = b.service_id \
             AND a.period_end = b.period_start WHERE a.service_id = {m} AND a.kind = 'renewal' AND b.kind = 'renewal'"
        ))
        .await,
        11,
        "each period starts where the last ended"
    );
    assert_eq!(reminders_for(&app, prompt).await, 0);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {m} AND status = 'active' AND next_due_date = '2028-02-15'"
        ))
        .await,
        1
    );
    // Never pays: one quarter invoiced, five reminders, suspended on day 7, terminated on day 30.
    assert_eq!(renewal_lines(&app, q).await, 1);
    assert_eq!(reminders_for(&app, never).await, 5);
    assert_eq!(audited(&app, "service.suspend", q).await, 1);
    assert_eq!(audited(&app, "service.terminate", q).await, 1);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {q} AND status = 'terminated' AND terminated_on IS NOT NULL"
        ))
        .await,
        1
    );
    // Pays ten days late: five reminders, suspended on day 7, back on when paid.
    assert_eq!(renewal_lines(&app, a).await, 1);
    assert_eq!(reminders_for(&app, late).await, 5);
    assert_eq!(audited(&app, "service.suspend", a).await, 1);
    assert_eq!(audited(&app, "service.unsuspend", a).await, 1);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {a} AND status = 'active' AND next_due_date = '2028-03-01'"
        ))
        .await,
        1
    );
    // Suspended by staff: billed and reminded every month, paid late, never unsuspended.
    assert_eq!(renewal_lines(&app, s).await, 12);
    assert_eq!(reminders_for(&app, abuse).await, 60);
    assert_eq!(audited(&app, "service.unsuspend", s).await, 0);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {s} AND status = 'suspended' AND suspend_reason = 'Abuse' \
             AND next_due_date = '2028-02-20'"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'invoice_reminder'").await, 70);
    crate::assert_redacted_snapshot!(
        "invoice_reminder_email",
        snapshot::queued_email(&app, "invoice_reminder", "never@example.de").await
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs WHERE status <> 'done'").await, 0, "no job failed or was left");
}

/// Places an order for Web Starter, monthly, paid by bank transfer; returns its id.
async fn unpaid_order(buyer: &mut TestApp, domain: &str, key: char) -> OrderId {
    fixtures::order(buyer, domain).key(&fixtures::key(key)).place().await.id
}

async fn period_end_cancellations_and_unpaid_orders_are_carried_out_once(mut app: TestApp) {
    fixtures::store(&mut app).stock(10).open().await;
    let mut settings = automation_settings::load(&app.state.db).await.unwrap();
    settings.cancel_unpaid_orders_after_days = Some(7);
    automation_settings::save(&app.state.db, &settings).await.unwrap();
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "olga@example.de").await;
    let forgotten = unpaid_order(&mut buyer, "forgotten.example", 'f').await;
    let part_paid = unpaid_order(&mut buyer, "partly.example", 'p').await;
    let invoice = app.scalar(&format!("SELECT invoice_id FROM orders WHERE id = {part_paid}")).await;
    app.post_form(
        &format!("/admin/invoices/{invoice}/payments"),
        &[("amount", "1.00"), ("method", "bank_transfer"), ("key", &"q".repeat(24))],
    )
    .await;
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 8);

    // A week after the orders, nothing yet; a day later the untouched one is cancelled, once.
    let today = chrono::Utc::now().date_naive();
    let week = today + chrono::Days::new(7);
    let run = automation::run_now(&app.state, Some(week), &[Task::OrderCleanup], false, WAIT).await.unwrap();
    assert_eq!(run.reports[0].counts["orders_cancelled"], 0);
    for _ in 0..2 {
        let run =
            automation::run_now(&app.state, Some(week + chrono::Days::new(2)), &[Task::OrderCleanup], false, WAIT)
                .await
                .unwrap();
        assert!(run.reports[0].counts["orders_cancelled"] <= 1);
        app.run_jobs().await;
    }
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {forgotten} AND status = 'cancelled'")).await,
        1
    );
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM orders WHERE id = {part_paid} AND status = 'pending'")).await,
        1
    );
    assert_eq!(app.scalar("SELECT stock_quantity FROM products WHERE id = 1").await, 9, "its unit is back in stock");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'order.cancelled'").await, 1);

    // A service paid until 20 February that the client asked to cancel at the end of it.
    let service = ServiceId(app.scalar(&format!("SELECT id FROM services WHERE order_id = {part_paid}")).await);
    dated(&app, service, "2027-01-20", "2027-02-20", "monthly", 1000).await;
    let record = hostwright::services::store::find(&app.state.db, service).await.unwrap().unwrap();
    hostwright::services::cancellations::request(
        &app.state,
        &hostwright::audit::Actor::system("test"),
        &record,
        "end_of_period",
        "Closing the shop",
    )
    .await
    .unwrap();
    for (on, expected) in [("2027-02-19", 0), ("2027-02-20", 1), ("2027-02-20", 0), ("2027-02-21", 0)] {
        let run = automation::run_now(&app.state, Some(day(on)), &Task::ALL, false, WAIT).await.unwrap();
        let cancellations = run.reports.iter().find(|r| r.task == Task::Cancellations).unwrap();
        assert_eq!(cancellations.counts["cancellations"], expected, "{on}");
        let renewals = run.reports.iter().find(|r| r.task == Task::Renewals).unwrap();
        assert_eq!(renewals.counts["invoices"], 0, "a service being cancelled is not renewed");
        app.run_jobs().await;
    }
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM services WHERE id = {service} AND status = 'cancelled'")).await,
        1
    );
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM cancellation_requests WHERE service_id = {service} AND status = 'done'"
        ))
        .await,
        1
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM jobs WHERE status <> 'done'").await, 0);
}

async fn staff_see_the_automation_status_preview_a_run_and_change_its_settings(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let ada = fixtures::client(&mut app, "ada@example.de").currency("EUR").create().await;
    let s = fixtures::active_service(&mut app, ada, 'a').await;
    let soon = (chrono::Utc::now().date_naive() + chrono::Days::new(5)).to_string();
    dated(&app, s, "2026-01-10", &soon, "monthly", 1000).await;

    let page = app.get("/admin/automation").await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains("Never run");
    page.assert_contains("Not run yet");
    // The preview is a dry run: it names the invoice it would make and writes nothing.
    let preview = app.get("/admin/automation?preview=1").await;
    preview.assert_contains("run would do");
    preview.assert_contains(&format!("service #{s}"));
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoice_lines WHERE kind = 'renewal'").await, 0);

    automation::run_now(&app.state, None, &Task::ALL, false, WAIT).await.unwrap();
    let page = app.get("/admin/automation").await;
    page.assert_contains("invoices: 1");
    page.assert_contains("Done");

    let bad = app
        .post_form(
            "/admin/automation/settings",
            &[
                ("run_hour", "25"),
                ("renewal_invoice_days", "10"),
                ("reminder_days", "-3, soon"),
                ("suspend_after_days", "10"),
                ("terminate_after_days", "5"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    bad.assert_contains("from 0 to 23");
    bad.assert_contains("separated by commas");
    bad.assert_contains("Terminate later than you suspend");
    assert_eq!(
        automation_settings::load(&app.state.db).await.unwrap(),
        automation_settings::AutomationSettings::default()
    );

    app.post_form(
        "/admin/automation/settings",
        &[
            ("run_hour", "5"),
            ("renewal_invoice_days", "10"),
            ("group_renewals", "on"),
            ("reminder_days", "7, -3, 0"),
            ("suspend_after_days", "10"),
            ("terminate_after_days", "45"),
            ("cancel_unpaid_orders_after_days", ""),
        ],
    )
    .await
    .assert_redirect_to("/admin/automation");
    let saved = automation_settings::load(&app.state.db).await.unwrap();
    assert_eq!(saved.run_hour, 5);
    assert_eq!(saved.reminder_days, vec![-3, 0, 7]);
    assert_eq!(saved.suspend_after_days, Some(10));
    assert_eq!(saved.terminate_after_days, Some(45));
    assert_eq!(saved.cancel_unpaid_orders_after_days, None);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'settings.automation'").await, 1);
}

async fn a_late_fee_is_charged_once_as_an_invoice_of_its_own(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let mut settings = automation_settings::load(&app.state.db).await.unwrap();
    settings.late_fee_after_days = Some(10);
    settings.late_fee_fixed = "5".into();
    settings.late_fee_percent = "2".into();
    settings.late_fee_minimum = "6".into();
    settings.suspend_after_days = None;
    automation_settings::save(&app.state.db, &settings).await.unwrap();
    let (ada, bob) = (
        fixtures::client(&mut app, "ada@example.de").currency("EUR").create().await,
        fixtures::client(&mut app, "bob@example.de").currency("EUR").create().await,
    );
    let a = fixtures::active_service(&mut app, ada, 'a').await;
    let b = fixtures::active_service(&mut app, bob, 'b').await;
    dated(&app, a, "2027-01-10", "2027-02-10", "monthly", 10000).await;
    dated(&app, b, "2027-01-10", "2027-02-10", "monthly", 1000).await;
    automation::run_now(&app.state, Some(day("2027-01-27")), &Task::ALL, false, WAIT).await.unwrap();
    assert_eq!(app.scalar("SELECT COUNT(*) FROM invoices").await, 2);

    let fees = |on: &'static str| {
        let state = app.state.clone();
        async move {
            let run = automation::run_now(&state, Some(day(on)), &[Task::LateFees], false, WAIT).await.unwrap();
            run.reports[0].counts["late_fees"]
        }
    };
    assert_eq!(fees("2027-02-19").await, 0, "nine days late: not yet");
    assert_eq!(fees("2027-02-20").await, 2);
    assert_eq!(fees("2027-02-20").await, 0, "once per invoice");
    assert_eq!(fees("2027-03-30").await, 0, "and never again, nor on the fee itself");
    // 100.00 + 19 % = 119.00: 5.00 + 2 % (2.38) = 7.38. 10.00 + 19 % = 11.90: 5.00 + 0.24 = 5.24,
    // below the 6.00 minimum. No tax on a late fee.
    for (client, total) in [(ada, 738), (bob, 600)] {
        assert_eq!(
            app.scalar(&format!(
                "SELECT COUNT(*) FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id \
                 WHERE i.client_id = {client} AND l.kind = 'late_fee' AND i.total_minor = {total} AND i.tax_minor = 0 \
                 AND i.status = 'unpaid' AND i.issue_date = '2027-02-20'"
            ))
            .await,
            1,
            "client {client}"
        );
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM late_fees").await, 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.late_fee'").await, 2);
}

/// Renewal invoices written as one batch: consecutive numbers, each with its lines, taxes,
/// email to the owner and every billing contact, and audit records, as one invoice at a
/// time would have them; services another run invoiced meanwhile drop out of the batch,
/// and an invoice that cannot be written does not hold back the others.
async fn a_batch_of_renewals_is_numbered_without_gaps_and_written_whole(mut app: TestApp) {
    app.signed_in_admin().await;
    fixtures::vps_catalog(&mut app).await;
    let mut clients = Vec::new();
    let mut services = Vec::new();
    for i in 0..5u8 {
        let client = fixtures::client(&mut app, &format!("c{i}@example.de")).currency("EUR").create().await;
        let s = fixtures::active_service(&mut app, client, char::from(b'a' + i)).await;
        dated(&app, s, "2027-01-10", "2027-02-10", "monthly", 1000 + i64::from(i)).await;
        clients.push(client);
        services.push(s);
    }
    // The first client has a second service due, and a contact who receives billing email.
    let second = fixtures::active_service(&mut app, clients[0], 'z').await;
    dated(&app, second, "2027-01-10", "2027-02-10", "monthly", 2000).await;
    app.post_form(
        &format!("/admin/clients/{}/contacts", clients[0]),
        &[("first_name", "Ana"), ("last_name", "Lima"), ("email", "ana@example.de"), ("receives_billing", "on")],
    )
    .await;
    app.execute("DELETE FROM email_outbox").await;
    // Numbers of the 2027 series issued before (when the suite runs in 2027).
    let numbered_before = app.scalar("SELECT COUNT(*) FROM invoices WHERE number LIKE '2027-%'").await;

    let on = day("2027-02-01");
    let settings = automation_settings::load(&app.state.db).await.unwrap();
    let mut planned = renewals::plan(&app.state, &settings, on).await.unwrap();
    assert_eq!(planned.len(), 5);
    // Another run invoiced the first client's second service meanwhile.
    app.execute(&format!("UPDATE services SET next_invoice_date = '2027-03-10' WHERE id = {second}")).await;
    // The last client's invoice cannot be written (its client is gone by the time it is).
    let gone = planned.iter().position(|p| p.client.id == clients[4]).unwrap();
    planned[gone].client.id = ClientId(999_999);

    let held = lease::acquire(&app.state.db, lease::SCHEDULER, "node-a", WAIT).await.unwrap().unwrap();
    let outcome = renewals::apply(&app.state, &held, on, &planned).await.unwrap();
    assert_eq!(outcome.invoices.len(), 4, "{outcome:?}");
    assert_eq!(outcome.lines, 4);
    assert_eq!(outcome.already_invoiced, 1);
    assert_eq!(outcome.failures.len(), 1, "{outcome:?}");
    assert!(outcome.failures[0].contains("client #999999"), "{outcome:?}");
    assert_eq!(renewal_lines(&app, services[4]).await, 0, "the failed invoice left nothing behind");
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM services WHERE id = {} AND next_invoice_date = '2027-02-10'",
            services[4]
        ))
        .await,
        1,
        "its service is still due"
    );
    assert_eq!(renewal_lines(&app, second).await, 0);

    // Numbers follow each other without a gap, after those issued before.
    let numbers: Vec<i64> = {
        let rows = app
            .state
            .db
            .query_all_raw(sea_orm::Statement::from_string(
                app.state.db.get_database_backend(),
                "SELECT number FROM invoices WHERE issue_date = '2027-02-01' ORDER BY id",
            ))
            .await
            .unwrap();
        rows.iter()
            .map(|r| r.try_get::<String>("", "number").unwrap().rsplit('-').next().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(numbers.len(), 4);
    assert_eq!(numbers[0], numbered_before + 1);
    assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");

    // The first client's invoice bills one service, taxed at 19 % (DE), totals recomputed.
    let first = app
        .scalar(&format!("SELECT id FROM invoices WHERE issue_date = '2027-02-01' AND client_id = {}", clients[0]))
        .await;
    assert_eq!(app.scalar(&format!("SELECT total_minor FROM invoices WHERE id = {first}")).await, 1190);
    assert_eq!(app.scalar(&format!("SELECT COUNT(*) FROM invoice_lines WHERE invoice_id = {first}")).await, 1);
    assert_eq!(
        app.scalar(&format!("SELECT amount_minor FROM invoice_tax_lines WHERE invoice_id = {first}")).await,
        190
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM invoices WHERE issue_date = '2027-02-01' AND status = 'unpaid'").await,
        4
    );

    // One email per owner, and one to the billing contact, composed by the job the batch
    // queued; the job running again queues none twice.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox").await, 0);
    assert!(app.run_jobs().await >= 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'invoice_issued'").await, 5);
    let again = hostwright::invoices::batch::IssuedEmails { invoice_ids: outcome.invoices.clone() };
    hostwright::jobs::enqueue(&app.state.db, &again, hostwright::jobs::Enqueue::default()).await.unwrap();
    assert_eq!(app.run_jobs().await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE template = 'invoice_issued'").await, 5);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE to_address = 'ana@example.de'").await, 1);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.issued' AND summary LIKE '%: renewal of service #%'"
        )
        .await,
        4
    );
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.issued' AND entity_id = {first}"))
            .await,
        1
    );
    app.deliver_email().await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM email_outbox WHERE status = 'sent'").await, 5);
}

/// More renewal invoices than one batch holds: on PostgreSQL two batches are written side
/// by side, committing in whichever order they finish. The run still numbers its invoices
/// without a gap or a repeat, invoices every due service once, and leaves every service
/// where its calendar puts it.
async fn renewal_batches_written_side_by_side_number_the_run_without_gaps(app: TestApp) {
    let on = day("2027-03-01");
    hostwright::dev::daily_run_lab::seed(&app.state, 3_000, 3_000, on, 1.0, 7).await.unwrap();
    let numbered_before = app.scalar("SELECT COUNT(*) FROM invoices WHERE number LIKE '2027-%'").await;

    let run = automation::run_now(&app.state, Some(on), &[Task::Renewals], false, WAIT).await.unwrap();
    let report = &run.reports[0];
    assert_eq!(report.error, None, "{:?}", report.counts);
    let invoices = report.counts.get("invoices").copied().unwrap_or_default();
    assert!(invoices > 1_000, "at least three batches: {:?}", report.counts);
    assert_eq!(report.counts.get("lines").copied(), Some(3_000), "{:?}", report.counts);

    let numbers: Vec<i64> = app
        .state
        .db
        .query_all_raw(sea_orm::Statement::from_string(
            app.state.db.get_database_backend(),
            "SELECT number FROM invoices WHERE issue_date = '2027-03-01' ORDER BY number",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "number").unwrap().rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    let expected: Vec<i64> = (numbered_before + 1..=numbered_before + invoices).collect();
    assert_eq!(sorted, expected, "one number each, none skipped");

    // The emails' jobs the batches queued, drained as the lab's check expects.
    app.run_jobs().await;
    let check = hostwright::dev::daily_run_lab::check(&app.state, on).await.unwrap();
    assert_eq!(check.counts.get("duplicate_renewal_lines"), Some(&0), "{}", check.summary());
    assert_eq!(check.counts.get("renewal_lines"), Some(&3_000), "{}", check.summary());
    assert!(check.violations.is_empty(), "{}", check.summary());
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.issued' AND summary LIKE '%: renewal of service #%'"
        )
        .await,
        invoices
    );
}

on_both_backends!(
    renewals_are_invoiced_once_per_period_and_payment_renews_the_services,
    runs_on_two_nodes_at_once_invoice_every_period_once,
    a_holder_that_lost_its_lease_is_fenced_off,
    a_batch_of_renewals_is_numbered_without_gaps_and_written_whole,
    renewal_batches_written_side_by_side_number_the_run_without_gaps,
    a_year_of_daily_runs_bills_reminds_suspends_and_terminates_exactly,
    period_end_cancellations_and_unpaid_orders_are_carried_out_once,
    staff_see_the_automation_status_preview_a_run_and_change_its_settings,
    a_late_fee_is_charged_once_as_an_invoice_of_its_own,
);
