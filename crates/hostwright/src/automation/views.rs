//! What the admin "Automation" page shows, with the samples the template test renders.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::staff::current::StaffBadge;
use crate::web::{FormErrors, PageView};

/// Who holds the scheduler lease.
#[derive(Debug, Serialize)]
pub struct LeaseView {
    pub holder: String,
    pub token: i64,
    pub live: bool,
    pub expires_at: Option<String>,
    pub acquired_at: Option<String>,
    pub renewed_at: Option<String>,
}

/// A task's last run.
#[derive(Debug, Serialize)]
pub struct LastRun {
    pub run_date: String,
    pub status: String,
    pub counts: BTreeMap<String, i64>,
    pub error: Option<String>,
    pub holder: String,
    pub started_at: Option<String>,
    pub millis: Option<i64>,
}

/// A task of the daily run, with its last run if it ran.
#[derive(Debug, Serialize)]
pub struct TaskRow {
    pub key: &'static str,
    pub label: &'static str,
    pub last: Option<LastRun>,
}

/// What a task would do today.
#[derive(Debug, Serialize)]
pub struct PreviewRow {
    pub label: &'static str,
    pub summary: String,
    pub actions: Vec<String>,
    pub error: Option<String>,
}

/// The settings form as typed (trimmed).
#[derive(Debug, Serialize)]
pub struct AutomationFormValues {
    pub run_hour: String,
    pub renewal_invoice_days: String,
    pub group_renewals: bool,
    pub reminder_days: String,
    pub suspend_after_days: String,
    pub terminate_after_days: String,
    pub cancel_unpaid_orders_after_days: String,
    pub late_fee_after_days: String,
    pub late_fee_fixed: String,
    pub late_fee_percent: String,
    pub late_fee_minimum: String,
    pub auto_charge_days_before: String,
    pub auto_charge_retry_days: String,
    pub email_retention_days: String,
    pub cart_retention_days: String,
}

#[derive(Debug, Serialize)]
pub struct AutomationPage {
    pub current_staff: StaffBadge,
    pub nav: &'static str,
    pub lease: Option<LeaseView>,
    pub tasks: Vec<TaskRow>,
    pub today: String,
    pub time_zone: String,
    pub next_run: Option<String>,
    pub due_now: bool,
    /// What the run would do today, when asked for.
    pub preview: Option<Vec<PreviewRow>>,
    pub form: AutomationFormValues,
    pub errors: FormErrors,
}

impl PageView for AutomationPage {
    const TEMPLATE: &'static str = "admin/automation.html";
}

#[cfg(test)]
impl AutomationPage {
    /// With a live lease and a preview, with an expired lease, an empty preview and a form
    /// error, and before any run.
    pub(super) fn samples() -> Vec<Self> {
        use crate::web::view::{SCRIPT, TIME, form_errors};
        let form = |filled: bool| AutomationFormValues {
            run_hour: if filled { "3" } else { SCRIPT }.into(),
            renewal_invoice_days: "14".into(),
            group_renewals: filled,
            reminder_days: if filled { "-7, 0, 1, 3, 7" } else { "" }.into(),
            suspend_after_days: "7".into(),
            terminate_after_days: String::new(),
            cancel_unpaid_orders_after_days: SCRIPT.into(),
            late_fee_after_days: if filled { "14" } else { "" }.into(),
            late_fee_fixed: SCRIPT.into(),
            late_fee_percent: "2".into(),
            late_fee_minimum: "5".into(),
            auto_charge_days_before: "0".into(),
            auto_charge_retry_days: "1, 3, 5".into(),
            email_retention_days: if filled { "365" } else { SCRIPT }.into(),
            cart_retention_days: "30".into(),
        };
        let run = |status: &str, counts: &[(&str, i64)], error: Option<&str>, holder: &str, started: bool, millis| {
            Some(LastRun {
                run_date: "2026-11-21".into(),
                status: status.into(),
                counts: counts.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
                error: error.map(str::to_owned),
                holder: holder.into(),
                started_at: started.then(|| TIME.into()),
                millis,
            })
        };
        let tasks = || {
            vec![
                TaskRow {
                    key: "renewals",
                    label: "Renewal invoices",
                    last: run("done", &[("invoices", 3), ("already_invoiced", 0)], None, SCRIPT, true, Some(12)),
                },
                TaskRow {
                    key: "reminders",
                    label: "Invoice reminders",
                    last: run("failed", &[], Some(SCRIPT), "node-1", false, None),
                },
                TaskRow {
                    key: "suspensions",
                    label: "Overdue suspensions",
                    last: run("running", &[], None, "node-1", true, None),
                },
                TaskRow { key: "other", label: SCRIPT, last: run("unknown", &[], None, "node-1", true, Some(0)) },
                TaskRow { key: "terminations", label: "Overdue terminations", last: None },
            ]
        };
        let lease = |live: bool| LeaseView {
            holder: SCRIPT.into(),
            token: 4,
            live,
            expires_at: Some(TIME.into()),
            acquired_at: Some(TIME.into()),
            renewed_at: Some(TIME.into()),
        };
        let preview = || {
            vec![
                PreviewRow {
                    label: "Renewal invoices",
                    summary: "invoices=1 lines=2".into(),
                    actions: vec![SCRIPT.into()],
                    error: None,
                },
                PreviewRow {
                    label: "Invoice reminders",
                    summary: "reminders=0".into(),
                    actions: Vec::new(),
                    error: Some(SCRIPT.into()),
                },
            ]
        };
        [
            (Some(lease(true)), Some(preview()), FormErrors::new(), true),
            (Some(lease(false)), Some(Vec::new()), form_errors("run_hour"), false),
            (None, None, FormErrors::new(), true),
        ]
        .into_iter()
        .map(|(lease, preview, errors, filled)| AutomationPage {
            current_staff: StaffBadge::sample_all(),
            nav: "automation",
            lease,
            tasks: tasks(),
            today: "2026-11-21".into(),
            time_zone: SCRIPT.into(),
            next_run: filled.then(|| TIME.into()),
            due_now: !filled,
            preview,
            form: form(filled),
            errors,
        })
        .collect()
    }
}
