//! The admin "Automation" page: who holds the scheduler lease, each task's last run with its
//! counts and duration, when the next daily run starts, a preview of what it would do today,
//! and the settings of the run.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{Days, TimeZone};
use sea_orm::TransactionTrait;
use serde::Deserialize;

use super::views::{AutomationFormValues, AutomationPage, LastRun, LeaseView, PreviewRow, TaskRow};
use super::{Task, lease};
use crate::audit;
use crate::db::ms_to_rfc3339;
use crate::permissions::perm;
use crate::site_settings::automation::{self as settings, AutomationSettings};
use crate::staff::current::Authorized;
use crate::state::AppState;
use crate::web::{AppResult, FormErrors, Page, flash};

#[derive(Deserialize, Default)]
pub struct View {
    #[serde(default)]
    preview: Option<String>,
}

/// The settings form as staff typed it.
#[derive(Deserialize, Default, Clone)]
pub struct SettingsForm {
    #[serde(default)]
    run_hour: String,
    #[serde(default)]
    renewal_invoice_days: String,
    #[serde(default)]
    group_renewals: String,
    #[serde(default)]
    reminder_days: String,
    #[serde(default)]
    suspend_after_days: String,
    #[serde(default)]
    terminate_after_days: String,
    #[serde(default)]
    cancel_unpaid_orders_after_days: String,
    #[serde(default)]
    late_fee_after_days: String,
    #[serde(default)]
    late_fee_fixed: String,
    #[serde(default)]
    late_fee_percent: String,
    #[serde(default)]
    late_fee_minimum: String,
    #[serde(default)]
    auto_charge_days_before: String,
    #[serde(default)]
    auto_charge_retry_days: String,
    #[serde(default)]
    email_retention_days: String,
    #[serde(default)]
    cart_retention_days: String,
}

impl SettingsForm {
    fn from_settings(s: &AutomationSettings) -> Self {
        let days = |d: Option<u32>| d.map(|d| d.to_string()).unwrap_or_default();
        SettingsForm {
            run_hour: s.run_hour.to_string(),
            renewal_invoice_days: s.renewal_invoice_days.to_string(),
            group_renewals: if s.group_renewals { "on".into() } else { String::new() },
            reminder_days: s.reminder_days.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
            suspend_after_days: days(s.suspend_after_days),
            terminate_after_days: days(s.terminate_after_days),
            cancel_unpaid_orders_after_days: days(s.cancel_unpaid_orders_after_days),
            late_fee_after_days: days(s.late_fee_after_days),
            late_fee_fixed: s.late_fee_fixed.clone(),
            late_fee_percent: s.late_fee_percent.clone(),
            late_fee_minimum: s.late_fee_minimum.clone(),
            auto_charge_days_before: s.auto_charge_days_before.to_string(),
            auto_charge_retry_days: s.auto_charge_retry_days.iter().map(u32::to_string).collect::<Vec<_>>().join(", "),
            email_retention_days: s.email_retention_days.to_string(),
            cart_retention_days: s.cart_retention_days.to_string(),
        }
    }

    fn values(&self) -> AutomationFormValues {
        AutomationFormValues {
            run_hour: self.run_hour.trim().to_owned(),
            renewal_invoice_days: self.renewal_invoice_days.trim().to_owned(),
            group_renewals: !self.group_renewals.is_empty(),
            reminder_days: self.reminder_days.trim().to_owned(),
            suspend_after_days: self.suspend_after_days.trim().to_owned(),
            terminate_after_days: self.terminate_after_days.trim().to_owned(),
            cancel_unpaid_orders_after_days: self.cancel_unpaid_orders_after_days.trim().to_owned(),
            late_fee_after_days: self.late_fee_after_days.trim().to_owned(),
            late_fee_fixed: self.late_fee_fixed.trim().to_owned(),
            late_fee_percent: self.late_fee_percent.trim().to_owned(),
            late_fee_minimum: self.late_fee_minimum.trim().to_owned(),
            auto_charge_days_before: self.auto_charge_days_before.trim().to_owned(),
            auto_charge_retry_days: self.auto_charge_retry_days.trim().to_owned(),
            email_retention_days: self.email_retention_days.trim().to_owned(),
            cart_retention_days: self.cart_retention_days.trim().to_owned(),
        }
    }

    /// The settings, or what is wrong with the form.
    fn parse(&self) -> Result<AutomationSettings, FormErrors> {
        let mut errors = FormErrors::new();
        let number = |errors: &mut FormErrors, name: &str, text: &str, max: u32| -> Option<u32> {
            let parsed = text.trim().parse::<u32>().ok().filter(|n| *n <= max);
            if parsed.is_none() {
                errors.add(name, format!("Enter a whole number from 0 to {max}."));
            }
            parsed
        };
        let optional = |errors: &mut FormErrors, name: &str, text: &str| -> Option<u32> {
            if text.trim().is_empty() { None } else { number(errors, name, text, 3650) }
        };
        let run_hour = number(&mut errors, "run_hour", &self.run_hour, 23);
        let renewal_invoice_days = number(&mut errors, "renewal_invoice_days", &self.renewal_invoice_days, 365);
        let mut reminder_days = Vec::new();
        for part in self.reminder_days.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.trim_start_matches('+').parse::<i32>() {
                Ok(d) if (-90..=365).contains(&d) => reminder_days.push(d),
                _ => {
                    errors.add("reminder_days", "List days from the due date, separated by commas, e.g. -7, 0, 3, 7.");
                    break;
                }
            }
        }
        if reminder_days.len() > 12 {
            errors.add("reminder_days", "Use at most 12 reminder days.");
        }
        reminder_days.sort_unstable();
        reminder_days.dedup();
        let suspend_after_days = optional(&mut errors, "suspend_after_days", &self.suspend_after_days);
        let terminate_after_days = optional(&mut errors, "terminate_after_days", &self.terminate_after_days);
        if let (Some(s), Some(t)) = (suspend_after_days, terminate_after_days)
            && t <= s
        {
            errors.add("terminate_after_days", "Terminate later than you suspend.");
        }
        let cancel_unpaid_orders_after_days =
            optional(&mut errors, "cancel_unpaid_orders_after_days", &self.cancel_unpaid_orders_after_days);
        let late_fee_after_days = optional(&mut errors, "late_fee_after_days", &self.late_fee_after_days);
        // Amounts are checked as decimals here, and in each invoice's currency when charged.
        let decimal = |errors: &mut FormErrors, name: &str, text: &str, max: u32| -> String {
            let text = if text.trim().is_empty() { "0" } else { text.trim() };
            match text.parse::<hostwright_core::Decimal>() {
                Ok(d)
                    if d >= hostwright_core::Decimal::ZERO
                        && d <= hostwright_core::Decimal::from(max)
                        && d.scale() <= 4 =>
                {
                    d.normalize().to_string()
                }
                _ => {
                    errors.add(name, format!("Enter an amount from 0 to {max}, e.g. 5.00."));
                    String::new()
                }
            }
        };
        let late_fee_fixed = decimal(&mut errors, "late_fee_fixed", &self.late_fee_fixed, 100_000);
        let late_fee_percent = decimal(&mut errors, "late_fee_percent", &self.late_fee_percent, 100);
        let late_fee_minimum = decimal(&mut errors, "late_fee_minimum", &self.late_fee_minimum, 100_000);
        let auto_charge_days_before = match self.auto_charge_days_before.trim() {
            "" => Some(0),
            text => number(&mut errors, "auto_charge_days_before", text, 60),
        };
        let mut auto_charge_retry_days = Vec::new();
        for part in self.auto_charge_retry_days.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.parse::<u32>() {
                Ok(d) if (1..=60).contains(&d) => auto_charge_retry_days.push(d),
                _ => {
                    errors.add(
                        "auto_charge_retry_days",
                        "List days after the first charge, from 1 to 60, separated by commas, e.g. 1, 3, 5.",
                    );
                    break;
                }
            }
        }
        auto_charge_retry_days.sort_unstable();
        auto_charge_retry_days.dedup();
        if auto_charge_retry_days.len() > 10 {
            errors.add("auto_charge_retry_days", "Use at most 10 retries.");
        }
        let defaults = AutomationSettings::default();
        let mut retention = |name: &str, text: &str, default: u32| match text.trim() {
            "" => default,
            text => match text.parse::<u32>() {
                Ok(days) if (1..=3650).contains(&days) => days,
                _ => {
                    errors.add(name, "Enter a number of days from 1 to 3650.");
                    default
                }
            },
        };
        let email_retention_days =
            retention("email_retention_days", &self.email_retention_days, defaults.email_retention_days);
        let cart_retention_days =
            retention("cart_retention_days", &self.cart_retention_days, defaults.cart_retention_days);
        match (run_hour, renewal_invoice_days, auto_charge_days_before) {
            (Some(run_hour), Some(renewal_invoice_days), Some(auto_charge_days_before)) if errors.is_empty() => {
                Ok(AutomationSettings {
                    run_hour,
                    renewal_invoice_days,
                    group_renewals: !self.group_renewals.is_empty(),
                    reminder_days,
                    suspend_after_days,
                    terminate_after_days,
                    cancel_unpaid_orders_after_days,
                    late_fee_after_days,
                    late_fee_fixed,
                    late_fee_percent,
                    late_fee_minimum,
                    auto_charge_days_before,
                    auto_charge_retry_days,
                    email_retention_days,
                    cart_retention_days,
                })
            }
            _ => Err(errors),
        }
    }
}

async fn render(
    state: &AppState,
    page: &Page,
    current: &Authorized<perm::SettingsManage>,
    form: &SettingsForm,
    errors: FormErrors,
    preview: bool,
    status: StatusCode,
) -> AppResult<Response> {
    let billing = crate::invoices::settings::load(&state.db).await?;
    let saved = settings::load(&state.db).await?;
    let tz = billing.tz();
    let local = state.clock.now().with_timezone(&tz);
    let today = local.date_naive();
    let lease = lease::current(&state.db, lease::SCHEDULER).await?.map(|l| LeaseView {
        holder: l.holder,
        token: l.token,
        live: l.live,
        expires_at: ms_to_rfc3339(l.expires_ms),
        acquired_at: ms_to_rfc3339(l.acquired_ms),
        renewed_at: ms_to_rfc3339(l.renewed_ms),
    });
    let last = super::last_runs(&state.db).await?;
    let mut tasks = Vec::new();
    let mut all_done_today = true;
    for task in Task::ALL {
        let run = last.iter().find(|r| r.task == task.key());
        let done_today = super::done_on(&state.db, task, today).await?;
        all_done_today &= done_today;
        tasks.push(TaskRow {
            key: task.key(),
            label: task.label(),
            last: run.map(|r| LastRun {
                run_date: r.run_date.to_string(),
                status: r.status.clone(),
                counts: serde_json::from_str::<std::collections::BTreeMap<String, i64>>(&r.counts).unwrap_or_default(),
                error: r.error.clone(),
                holder: r.holder.clone(),
                started_at: ms_to_rfc3339(r.started_ms),
                millis: r.millis,
            }),
        });
    }
    // The next run: today at the run hour, tomorrow once today's is done; past the hour and
    // not done, it is due now.
    let due_now = !all_done_today && chrono::Timelike::hour(&local) >= saved.run_hour;
    let next_day = if all_done_today { today.checked_add_days(Days::new(1)).unwrap_or(today) } else { today };
    let next_run = next_day
        .and_hms_opt(saved.run_hour, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
        .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339());
    let preview_reports = if preview {
        let reports = super::run(state, None, today, &Task::ALL).await.map_err(anyhow::Error::new)?;
        Some(
            reports
                .into_iter()
                .map(|r| PreviewRow { label: r.task.label(), summary: r.summary(), actions: r.actions, error: r.error })
                .collect::<Vec<_>>(),
        )
    } else {
        None
    };
    let view = AutomationPage {
        current_staff: current.badge(),
        nav: "automation",
        lease,
        tasks,
        today: today.to_string(),
        time_zone: billing.time_zone,
        next_run,
        due_now,
        preview: preview_reports,
        form: form.values(),
        errors,
    };
    state.render_view_status(status, page, &view).await
}

pub async fn automation_page(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Query(view): Query<View>,
) -> AppResult<Response> {
    let form = SettingsForm::from_settings(&settings::load(&state.db).await?);
    let preview = view.preview.is_some();
    render(&state, &page, &current, &form, FormErrors::new(), preview, StatusCode::OK).await
}

pub async fn save_automation_settings(
    State(state): State<AppState>,
    page: Page,
    current: Authorized<perm::SettingsManage>,
    Form(form): Form<SettingsForm>,
) -> AppResult<Response> {
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(errors) => {
            return render(&state, &page, &current, &form, errors, false, StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    let txn = state.db.begin().await?;
    settings::save(&txn, &parsed).await?;
    let days = |d: Option<u32>| d.map_or_else(|| "never".to_owned(), |d| format!("after {d} days"));
    audit::record(
        &txn,
        &current.actor(&page.ip),
        "settings.automation",
        None,
        format!(
            "Automation settings: run at {}:00, renewal invoices {} days ahead{}, reminders on days [{}], suspend {}, terminate {}, cancel unpaid orders {}, late fee {} ({} + {} %, at least {})",
            parsed.run_hour,
            parsed.renewal_invoice_days,
            if parsed.group_renewals { " grouped per client" } else { "" },
            parsed.reminder_days.iter().map(i32::to_string).collect::<Vec<_>>().join(", "),
            days(parsed.suspend_after_days),
            days(parsed.terminate_after_days),
            days(parsed.cancel_unpaid_orders_after_days),
            days(parsed.late_fee_after_days),
            parsed.late_fee_fixed,
            parsed.late_fee_percent,
            parsed.late_fee_minimum,
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(flash::redirect(&state, "/admin/automation", "success", "Automation settings saved."))
}
