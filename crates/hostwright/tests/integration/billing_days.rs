//! Billing days never drift: a service billed on the 28th–31st, or from 29 February, returns
//! to its day after every shorter month, on every cycle, whether staff added it with a typed
//! due date, staff edited its due date, or a client ordered it (pro-rata billing day).

use chrono::{Datelike, NaiveDate};
use hostwright::automation::{self, Task};

use crate::on_both_backends;
use hostwright::ids::{ClientId, ServiceId};

use crate::support::{TestApp, fixtures};

const CYCLES: [&str; 6] = ["monthly", "quarterly", "semi_annually", "annually", "biennially", "triennially"];

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// The first due dates tried: the 28th to the 31st of a 31-day month, and a leap day.
const FIRST_DUE: [&str; 5] = ["2027-01-28", "2027-01-29", "2027-01-30", "2027-01-31", "2028-02-29"];

/// Staff add an active service of product 1 for `client` on `cycle`, due first on `due`.
async fn added_by_staff(app: &mut TestApp, client: ClientId, cycle: &str, due: &str, key: &str) -> ServiceId {
    let added = app
        .post_form(
            &format!("/admin/clients/{client}/services/new"),
            &[
                ("product_id", "1"),
                ("billing_cycle", cycle),
                ("next_due_date", due),
                ("domain", "days.example"),
                ("run_create", "on"),
                ("key", key),
            ],
        )
        .await;
    assert!(added.location().starts_with("/admin/services/"), "{cycle} {due}: {}", added.body);
    added.location().trim_start_matches("/admin/services/").parse().unwrap()
}

async fn billing_days_return_after_short_months_on_every_cycle(mut app: TestApp) {
    fixtures::store(&mut app).open().await;
    app.post_form(
        "/admin/catalog/products/1/prices",
        &[
            ("price.EUR.monthly", "10.00"),
            ("price.EUR.quarterly", "30"),
            ("price.EUR.semi_annually", "60"),
            ("price.EUR.annually", "100"),
            ("price.EUR.biennially", "190"),
            ("price.EUR.triennially", "270"),
        ],
    )
    .await
    .assert_redirect_to("/admin/catalog/products/1");
    let client = fixtures::client(&mut app, "zoe@example.de").currency("EUR").create().await;
    // (service, the day its periods must start on)
    let mut expected: Vec<(ServiceId, u32)> = Vec::new();

    // Added by staff with a typed first due date.
    let mut n = 0;
    for cycle in CYCLES {
        for due in FIRST_DUE {
            n += 1;
            let id = added_by_staff(&mut app, client, cycle, due, &format!("{n:0>24}")).await;
            expected.push((id, date(due).day()));
        }
    }
    // Added with the default due date, then edited by staff to the day.
    for cycle in ["monthly", "quarterly", "biennially"] {
        for due in FIRST_DUE {
            n += 1;
            let id = added_by_staff(&mut app, client, cycle, "", &format!("{n:0>24}")).await;
            let edited = app
                .post_form(
                    &format!("/admin/services/{id}"),
                    &[
                        ("registration_date", "2026-12-01"),
                        ("next_due_date", due),
                        ("billing_cycle", cycle),
                        ("recurring_amount", "10.00"),
                        ("domain", "days.example"),
                    ],
                )
                .await;
            edited.assert_redirect_to(&format!("/admin/services/{id}"));
            expected.push((id, date(due).day()));
        }
    }
    // Edited to the last day of February keeps a later billing day it clamps to.
    let kept = expected[3].0;
    let moved = app
        .post_form(
            &format!("/admin/services/{kept}"),
            &[
                ("registration_date", "2026-12-07"),
                ("next_due_date", "2027-02-28"),
                ("billing_cycle", "monthly"),
                ("recurring_amount", "10.00"),
                ("domain", "days.example"),
            ],
        )
        .await;
    moved.assert_redirect_to(&format!("/admin/services/{kept}"));
    assert_eq!(app.scalar(&format!("SELECT billing_day FROM services WHERE id = {kept}")).await, 31);

    // Ordered by a client: a pro-rata product is billed on its billing day.
    let mut buyer = app.second_node().await;
    fixtures::shopper(&mut buyer, "pia@example.de").await;
    for (k, (day, cycle)) in [(31, "monthly"), (30, "monthly"), (29, "quarterly"), (31, "annually")].iter().enumerate()
    {
        app.execute(&format!("UPDATE products SET prorata_enabled = true, prorata_day = {day} WHERE id = 1")).await;
        let order = fixtures::order(&mut buyer, "pia.example").cycle(cycle).key(&format!("{k:x>20}")).place().await;
        order.pay(&mut app, &format!("{k:p>24}")).await;
        expected.push((order.service(&app).await, *day));
    }
    app.run_jobs().await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM services WHERE status = 'active'").await,
        i64::try_from(expected.len()).unwrap()
    );

    // Five years of daily runs, once a month, invoicing 45 days ahead.
    let settings = hostwright::site_settings::automation::AutomationSettings {
        renewal_invoice_days: 45,
        reminder_days: Vec::new(),
        suspend_after_days: None,
        ..Default::default()
    };
    hostwright::site_settings::automation::save(&app.state.db, &settings).await.unwrap();
    let mut on = date("2027-01-01");
    while on <= date("2032-02-01") {
        let run =
            automation::run_now(&app.state, Some(on), &[Task::Renewals], false, std::time::Duration::from_secs(30))
                .await
                .unwrap();
        assert_eq!(run.reports[0].error, None, "{on}");
        on = on.checked_add_months(chrono::Months::new(1)).unwrap();
    }

    for (id, day) in expected {
        let lines = app
            .scalar(&format!("SELECT COUNT(*) FROM invoice_lines WHERE kind = 'renewal' AND service_id = {id}"))
            .await;
        assert!(lines >= 1, "service #{id} was renewed");
        let backend = app.state.db.get_database_backend();
        let rows = sea_orm::ConnectionTrait::query_all_raw(
            &app.state.db,
            sea_orm::Statement::from_string(
                backend,
                format!(
                    "SELECT period_start, period_end FROM invoice_lines WHERE kind = 'renewal' AND service_id = {id} \
                     ORDER BY period_start"
                ),
            ),
        )
        .await
        .unwrap();
        let mut previous_end: Option<NaiveDate> = None;
        for row in rows {
            let start: NaiveDate = row.try_get("", "period_start").unwrap();
            let end: NaiveDate = row.try_get("", "period_end").unwrap();
            for edge in [start, end] {
                let last = hostwright_core::days_in_month(edge.year(), edge.month());
                assert_eq!(edge.day(), day.min(last), "service #{id} billed on day {day}: period bound {edge}");
            }
            if let Some(previous) = previous_end {
                assert_eq!(start, previous, "service #{id}: periods follow each other");
            }
            previous_end = Some(end);
        }
    }
}

on_both_backends!(billing_days_return_after_short_months_on_every_cycle);
