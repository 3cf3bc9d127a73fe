//! The daily run: renewal invoices made once per service and period whoever runs it and
//! however often, a dry run that agrees with the real one, payment renewing the services,
//! and a holder that lost its lease fenced off.

use std::time::Duration;

use chrono::NaiveDate;
use hostwright::automation::{self, Task, lease, renewals};

use crate::on_both_backends;
use crate::services::{active_service, catalog, eur_client};
use crate::support::TestApp;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

const WAIT: Duration = Duration::from_secs(30);

/// Service `id` registered on `registered`, paid until `due`, billed `cycle` at `price`.
async fn dated(app: &TestApp, id: i64, registered: &str, due: &str, cycle: &str, price: i64) {
    app.execute(&format!(
        "UPDATE services SET status = 'active', registration_date = '{registered}', next_due_date = '{due}', \
         next_invoice_date = '{due}', billing_cycle = '{cycle}', recurring_minor = {price} WHERE id = {id}"
    ))
    .await;
}

async fn renewal_lines(app: &TestApp, service: i64) -> i64 {
    app.scalar(&format!("SELECT COUNT(*) FROM invoice_lines WHERE kind = 'renewal' AND service_id = {service}")).await
}

async fn renewals_are_invoiced_once_per_period_and_payment_renews_the_services(mut app: TestApp) {
    app.signed_in_admin().await;
    catalog(&mut app).await;
    let ada = eur_client(&mut app, "ada@example.de").await;
    let bob = eur_client(&mut app, "bob@example.de").await;
    let (a1, a2, b1) = (
        active_service(&mut app, ada, 'a').await,
        active_service(&mut app, ada, 'b').await,
        active_service(&mut app, bob, 'c').await,
    );
    let cancelling = active_service(&mut app, bob, 'd').await;
    // Started on the 31st: due on the last day of shorter months, back on the 31st after them.
    dated(&app, a1, "2027-01-31", "2027-02-28", "monthly", 1000).await;
    dated(&app, a2, "2027-01-31", "2027-02-28", "monthly", 1500).await;
    dated(&app, b1, "2026-06-01", "2027-06-01", "annually", 10000).await;
    dated(&app, cancelling, "2027-01-20", "2027-02-20", "monthly", 1000).await;
    let record = hostwright::services::store::find(&app.state.db, hostwright::ids::ServiceId(cancelling))
        .await
        .unwrap()
        .unwrap();
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
    assert_eq!(app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'invoice.renewal'").await, 1);

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
    catalog(&mut app).await;
    let mut services = Vec::new();
    for i in 0..12u8 {
        let client = eur_client(&mut app, &format!("c{i}@example.de")).await;
        let s = active_service(&mut app, client, char::from(b'a' + i)).await;
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
    catalog(&mut app).await;
    let ada = eur_client(&mut app, "ada@example.de").await;
    let s = active_service(&mut app, ada, 'a').await;
    dated(&app, s, "2027-01-10", "2027-02-10", "monthly", 1000).await;
    let db = &app.state.db;
    let on = day("2027-02-01");

    let ttl = Duration::from_millis(500);
    let paused = lease::acquire(db, lease::SCHEDULER, "node-a", ttl).await.unwrap().unwrap();
    assert!(lease::acquire(db, lease::SCHEDULER, "node-b", ttl).await.unwrap().is_none(), "a live lease is held");
    let settings = automation::settings::load(db).await.unwrap();
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

on_both_backends!(
    renewals_are_invoiced_once_per_period_and_payment_renews_the_services,
    runs_on_two_nodes_at_once_invoice_every_period_once,
    a_holder_that_lost_its_lease_is_fenced_off,
);
