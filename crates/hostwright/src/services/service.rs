//! Staff use cases on services: the searchable list, editing a service's billing and account
//! details (one UPDATE and one audit record listing every change), and what a service's page
//! reads about it (the invoices that bill it).

use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use hostwright_core::{BillingCycle, Currency, Money, MoneyError};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{Condition, DbErr, QueryOrder, QuerySelect, QueryTrait, TransactionTrait};

use super::lifecycle::LifecycleError;
use super::model::service;
use super::status::Status;
use super::store;
use crate::audit::{self, Actor};
use crate::catalog::options::{self, OptionKind};
use crate::catalog::pricing::{self, Choice, PricingError, Sale};
use crate::catalog::service::{PaymentType, find_product};
use crate::ids::{ClientId, ConfigOptionId, ConfigOptionValueId, ProductId, ServiceId};
use crate::invoices::model::{invoice, line};
use crate::invoices::service::InvoiceError;
use crate::state::AppState;
use crate::web::forms::optional_text;
use crate::web::{AppError, FormErrors};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("{0}")]
    NotAllowed(String),
    /// The provisioning module refused; staff read its words.
    #[error("The provisioning module failed: {0}")]
    Module(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<ServiceError> for AppError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::NotFound => AppError::NotFound,
            ServiceError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            ServiceError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for ServiceError {
    fn from(err: DbErr) -> Self {
        ServiceError::Internal(anyhow::Error::new(err).context("database"))
    }
}

impl From<LifecycleError> for ServiceError {
    fn from(err: LifecycleError) -> Self {
        match err {
            LifecycleError::NotFound => ServiceError::NotFound,
            LifecycleError::NotAllowed(message) => ServiceError::NotAllowed(message),
            LifecycleError::Module { message, retry: false } => ServiceError::Module(message),
            LifecycleError::Module { message, retry: true } => ServiceError::Internal(anyhow::anyhow!("{message}")),
            LifecycleError::LeaseLost => ServiceError::Internal(anyhow::anyhow!("the job's lease was lost")),
            LifecycleError::Internal(err) => ServiceError::Internal(err),
        }
    }
}

impl From<InvoiceError> for ServiceError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::NotFound => ServiceError::NotFound,
            InvoiceError::Invalid(errors) => ServiceError::Invalid(errors),
            InvoiceError::NotAllowed(message) => ServiceError::NotAllowed(message.to_owned()),
            InvoiceError::Internal(err) => ServiceError::Internal(err),
        }
    }
}

/// The cycles a product of `payment_type` is sold in (a free product: the free cycle).
pub fn cycles_of(payment_type: &str) -> Vec<BillingCycle> {
    match PaymentType::parse(payment_type).unwrap_or(PaymentType::Free) {
        PaymentType::Free => vec![BillingCycle::Free],
        other => other.cycles().to_vec(),
    }
}

/// The currency a service is billed in, with its stored rounding rule.
pub async fn currency_of(db: &impl ConnectionTrait, code: &str) -> Result<Currency, ServiceError> {
    Ok(crate::invoices::service::find_currency(db, code)
        .await?
        .ok_or_else(|| anyhow::anyhow!("currency {code} is not set up"))?)
}

/// An amount typed by staff in `currency`: not negative, in the currency's decimals.
pub(crate) fn parse_amount(errors: &mut FormErrors, field: &str, text: &str, currency: Currency) -> Option<Money> {
    match Money::parse(text.trim(), currency) {
        Ok(m) if !m.is_negative() => Some(m),
        Ok(_) => {
            errors.add(field, "The amount cannot be negative.");
            None
        }
        Err(MoneyError::TooManyDecimals { .. }) => {
            errors.add(field, format!("{} has {} decimals.", currency.code(), currency.exponent()));
            None
        }
        Err(_) => {
            errors.add(field, format!("Enter an amount like 9.99 ({}).", currency.code()));
            None
        }
    }
}

/// A calendar date typed as YYYY-MM-DD; empty is `None`.
pub(crate) fn parse_date(errors: &mut FormErrors, field: &str, text: &str) -> Option<NaiveDate> {
    match text.trim() {
        "" => None,
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map_err(|_| errors.add(field, "Enter the date as YYYY-MM-DD."))
            .ok(),
    }
}

// --- the list ---------------------------------------------------------------------------

/// The admin list's filters.
#[derive(Debug, Clone, Default)]
pub struct ServiceQuery {
    pub status: Option<Status>,
    pub product_id: Option<ProductId>,
    pub client_id: Option<ClientId>,
    /// Part of a domain, hostname or username.
    pub search: String,
    pub page: u64,
}

pub const PER_PAGE: u64 = 50;

/// Lists count matching services up to this many; beyond it they say "more than".
pub const COUNT_CAP: u64 = 10_000;

/// Services matching `q`, newest first, and how many match (up to [`COUNT_CAP`] + 1).
pub async fn search(db: &impl ConnectionTrait, q: &ServiceQuery) -> Result<(Vec<service::Model>, u64), DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = q.status {
        condition = condition.add(service::Column::Status.eq(status.key()));
    }
    if let Some(product_id) = q.product_id {
        condition = condition.add(service::Column::ProductId.eq(product_id));
    }
    if let Some(client_id) = q.client_id {
        condition = condition.add(service::Column::ClientId.eq(client_id));
    }
    let term = q.search.trim().to_lowercase();
    if !term.is_empty() {
        let escaped: String =
            term.chars().flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] }).collect();
        let pattern = format!("%{escaped}%");
        let mut any = Condition::any();
        for column in [service::Column::Domain, service::Column::Hostname, service::Column::Username] {
            let like = LikeExpr::new(pattern.clone()).escape('\\');
            any = any.add(Expr::expr(Func::lower(Expr::col((service::Entity, column)))).like(like));
        }
        condition = condition.add(any);
    }
    let base = service::Entity::find().filter(condition);
    // As on the invoice list: count up to the cap and let the page say "more than".
    let capped = base.clone().select_only().column(service::Column::Id).limit(COUNT_CAP + 1).into_query();
    let count = Query::select().expr(Expr::cust("COUNT(*)")).from_subquery(capped, "capped").to_owned();
    let total = match db.query_one(&count).await? {
        Some(row) => u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0),
        None => 0,
    };
    let rows = base
        .order_by_desc(service::Column::Id)
        .offset(crate::web::forms::page_offset(q.page, PER_PAGE))
        .limit(PER_PAGE)
        .all(db)
        .await?;
    Ok((rows, total))
}

/// The invoices with a line billing service `id`, newest first.
pub async fn invoices_of(db: &impl ConnectionTrait, id: ServiceId) -> Result<Vec<invoice::Model>, DbErr> {
    let billing = line::Entity::find()
        .select_only()
        .column(line::Column::InvoiceId)
        .filter(line::Column::ServiceId.eq(id))
        .into_query();
    invoice::Entity::find()
        .filter(invoice::Column::Id.in_subquery(billing))
        .order_by_desc(invoice::Column::Id)
        .limit(100)
        .all(db)
        .await
}

// --- editing ----------------------------------------------------------------------------

/// A service's editable fields as staff type them.
#[derive(Debug, Clone, Default)]
pub struct EditInput {
    /// The product the service is on (empty: unchanged). Changing it changes the record
    /// only; the module's "change package" command acts on the server.
    pub product_id: String,
    /// A status key (empty: unchanged). Setting it corrects the record; module commands are
    /// what suspend or end an account on the server.
    pub status: String,
    /// The typed `option.<id>` values, when the form showed the options (`None`: unchanged).
    pub options: Option<Vec<(String, String)>>,
    pub registration_date: String,
    pub next_due_date: String,
    pub billing_cycle: String,
    pub recurring_amount: String,
    pub use_current_price: bool,
    pub domain: String,
    pub hostname: String,
    pub username: String,
    pub notes: String,
}

/// The checked values of an edit.
#[derive(Debug)]
struct Edit {
    registration_date: NaiveDate,
    next_due_date: Option<NaiveDate>,
    cycle: BillingCycle,
    recurring: Money,
    use_current_price: bool,
    domain: String,
    hostname: String,
    username: String,
    notes: String,
}

/// A domain or host name as stored: trimmed and lower-case.
pub(crate) fn host_name(errors: &mut FormErrors, field: &str, text: &str) -> String {
    let value = optional_text(errors, field, text, 253).to_lowercase();
    if value.chars().any(char::is_whitespace) {
        errors.add(field, "Remove the spaces.");
    }
    value
}

fn check_edit(input: &EditInput, product_payment_type: &str, currency: Currency) -> Result<Edit, FormErrors> {
    let mut errors = FormErrors::new();
    let registration_date = parse_date(&mut errors, "registration_date", &input.registration_date);
    if registration_date.is_none() && !errors.has("registration_date") {
        errors.add("registration_date", "Enter the registration date.");
    }
    let next_due_date = parse_date(&mut errors, "next_due_date", &input.next_due_date);
    let offered = cycles_of(product_payment_type);
    let cycle = BillingCycle::from_str(input.billing_cycle.trim()).ok().filter(|c| offered.contains(c));
    match cycle {
        None => errors.add("billing_cycle", "Choose one of the billing cycles the product is sold in."),
        Some(c) if c.is_recurring() && next_due_date.is_none() && !errors.has("next_due_date") => {
            errors.add("next_due_date", "A recurring service needs its next due date.");
        }
        Some(c) if !c.is_recurring() && next_due_date.is_some() => {
            errors.add("next_due_date", "A one-time or free service has no next due date; leave it empty.");
        }
        Some(_) => {}
    }
    if let (Some(registered), Some(due)) = (registration_date, next_due_date)
        && due < registered
    {
        errors.add("next_due_date", "The next due date cannot be before the registration date.");
    }
    let recurring = parse_amount(&mut errors, "recurring_amount", &input.recurring_amount, currency);
    let domain = host_name(&mut errors, "domain", &input.domain);
    let hostname = host_name(&mut errors, "hostname", &input.hostname);
    let username = optional_text(&mut errors, "username", &input.username, 100);
    let notes = input.notes.trim().to_owned();
    if notes.chars().count() > 10_000 {
        errors.add("notes", "Use at most 10,000 characters.");
    }
    match (registration_date, cycle, recurring, errors.is_empty()) {
        (Some(registration_date), Some(cycle), Some(recurring), true) => Ok(Edit {
            registration_date,
            next_due_date,
            cycle,
            recurring,
            use_current_price: input.use_current_price,
            domain,
            hostname,
            username,
            notes,
        }),
        _ => Err(errors),
    }
}

/// Option choices on one line for the audit record: "Location: Paris, Extra disk: 2 GB".
async fn choices_text(db: &impl ConnectionTrait, chosen: &[(ConfigOptionId, Choice)]) -> Result<String, DbErr> {
    let described = store::describe_choices(db, chosen).await?;
    Ok(described.iter().map(|(option, value)| format!("{option}: {value}")).collect::<Vec<_>>().join(", "))
}

/// Whether two sets of option choices are the same, whatever their order.
fn same_choices(a: &[(ConfigOptionId, Choice)], b: &[(ConfigOptionId, Choice)]) -> bool {
    let sorted = |c: &[(ConfigOptionId, Choice)]| {
        let mut c = c.to_vec();
        c.sort_by_key(|(id, _)| *id);
        c
    };
    sorted(a) == sorted(b)
}

/// A value as the audit summary shows it: empty spelled out, long text cut short.
fn shown(value: &str) -> String {
    if value.is_empty() {
        return "(empty)".to_owned();
    }
    let mut text: String = value.chars().take(80).collect();
    if value.chars().count() > 80 {
        text.push('…');
    }
    text.replace(['\r', '\n'], " ")
}

fn date_text(date: Option<NaiveDate>) -> String {
    date.map(|d| d.to_string()).unwrap_or_default()
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

/// Saves staff's edit of service `id`: one UPDATE, guarded by the row being unchanged since it
/// was read, and one `service.updated` audit record that lists each changed field as
/// "field: old → new". Returns whether anything changed.
#[tracing::instrument(skip_all, fields(service.id = %id))]
pub async fn update(state: &AppState, actor: &Actor, id: ServiceId, input: &EditInput) -> Result<bool, ServiceError> {
    let current = store::find(&state.db, id).await?.ok_or(ServiceError::NotFound)?;
    let old_product = find_product(&state.db, current.product_id).await?.ok_or(ServiceError::NotFound)?;
    let mut errors = FormErrors::new();
    let product = match input.product_id.trim() {
        "" => Some(old_product.clone()),
        text => match text.parse::<ProductId>() {
            Ok(pid) if pid == old_product.id => Some(old_product.clone()),
            Ok(pid) => find_product(&state.db, pid).await?,
            Err(_) => None,
        },
    };
    let status = match input.status.trim() {
        "" => Status::parse(&current.status),
        key => Status::parse(key),
    };
    if product.is_none() {
        errors.add("product_id", "Choose a product from the list.");
    }
    if status.is_none() {
        errors.add("status", "Choose a status from the list.");
    }
    let currency = currency_of(&state.db, &current.currency_code).await?;
    let payment_type = product.as_ref().map_or(old_product.payment_type.as_str(), |p| p.payment_type.as_str());
    let edit = check_edit(input, payment_type, currency);
    let old_choices = store::choices_of(&state.db, id).await?;
    let choices = match (&input.options, &product) {
        (Some(typed), Some(p)) => {
            let choices = typed_choices(&state.db, typed, &mut errors).await?;
            match pricing::check_choices(&state.db, p, &choices, Sale::Renewal).await {
                Ok(_) => Some(choices),
                Err(PricingError::Internal(err)) => return Err(ServiceError::Internal(err)),
                Err(err) => {
                    errors.add("options", err.to_string());
                    None
                }
            }
        }
        _ => None,
    };
    let edit = match edit {
        Ok(edit) => Some(edit),
        Err(edit_errors) => {
            errors.merge(edit_errors);
            None
        }
    };
    let (Some(edit), Some(product), Some(status), true) = (edit, product, status, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };
    let old_cycle = BillingCycle::from_str(&current.billing_cycle).map(|c| c.label()).unwrap_or("unknown");
    let old_status = Status::parse(&current.status).map_or(current.status.as_str(), |s| s.label());
    let money = |minor: i64| Money::from_minor(minor, currency).to_string();
    let (old_options, new_options) = match &choices {
        Some(new) if !same_choices(new, &old_choices) => {
            (choices_text(&state.db, &old_choices).await?, choices_text(&state.db, new).await?)
        }
        _ => (String::new(), String::new()),
    };
    let candidates = [
        ("product", old_product.name.clone(), product.name.clone()),
        ("status", old_status.to_owned(), status.label().to_owned()),
        ("options", old_options, new_options),
        ("registration date", current.registration_date.to_string(), edit.registration_date.to_string()),
        ("next due date", date_text(current.next_due_date), date_text(edit.next_due_date)),
        ("billing cycle", old_cycle.to_owned(), edit.cycle.label().to_owned()),
        ("recurring amount", money(current.recurring_minor), edit.recurring.to_string()),
        ("use current price", yes_no(current.use_current_price), yes_no(edit.use_current_price)),
        ("domain", current.domain.clone(), edit.domain.clone()),
        ("hostname", current.hostname.clone(), edit.hostname.clone()),
        ("username", current.username.clone(), edit.username.clone()),
        ("notes", current.notes.clone(), edit.notes.clone()),
    ];
    let changes: Vec<String> = candidates
        .iter()
        .filter(|(_, old, new)| old != new)
        .map(|(field, old, new)| format!("{field}: {} → {}", shown(old), shown(new)))
        .collect();
    if changes.is_empty() {
        return Ok(false);
    }
    let txn = state.db.begin().await?;
    let mut update = Query::update();
    update
        .table(service::Entity)
        .value(service::Column::ProductId, product.id)
        .value(service::Column::Status, status.key())
        .value(service::Column::RegistrationDate, edit.registration_date)
        .value(service::Column::BillingCycle, edit.cycle.key())
        .value(service::Column::RecurringMinor, edit.recurring.minor())
        .value(service::Column::UseCurrentPrice, edit.use_current_price)
        .value(service::Column::Domain, edit.domain)
        .value(service::Column::Hostname, edit.hostname)
        .value(service::Column::Username, edit.username)
        .value(service::Column::Notes, edit.notes)
        .value(service::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(service::Column::Id).eq(id))
        .and_where(Expr::col(service::Column::UpdatedAt).eq(current.updated_at));
    if edit.next_due_date != current.next_due_date {
        // The next invoice follows the due date staff set, and so do the periods after it.
        let billing_day = edit.next_due_date.map(|due| {
            let current_day = current.billing_day.and_then(|d| u32::try_from(d).ok());
            i32::try_from(hostwright_core::billing_day_for(due, current_day)).unwrap_or(1)
        });
        update
            .value(service::Column::NextDueDate, edit.next_due_date)
            .value(service::Column::NextInvoiceDate, edit.next_due_date)
            .value(service::Column::BillingDay, billing_day);
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(ServiceError::NotAllowed("The service changed meanwhile; reload it and try again.".into()));
    }
    if let Some(new) = &choices
        && !same_choices(new, &old_choices)
    {
        store::save_choices(&txn, id, new).await?;
    }
    audit::record(&txn, actor, "service.updated", Some(("service", id.0)), changes.join("; ")).await?;
    txn.commit().await?;
    Ok(true)
}

/// Turns the typed `option.<id>` fields into pricing choices. Options of any product are read
/// here; pricing then refuses those the product does not offer.
pub(crate) async fn typed_choices(
    db: &impl ConnectionTrait,
    typed: &[(String, String)],
    errors: &mut FormErrors,
) -> Result<Vec<(ConfigOptionId, Choice)>, DbErr> {
    let mut choices = Vec::new();
    for (id_text, value) in typed {
        let value = value.trim();
        let field = format!("option.{id_text}");
        let Ok(option_id) = id_text.parse::<ConfigOptionId>() else {
            errors.add("options", "One of the options is not known; reload the page.");
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let is_quantity = options::find_option(db, option_id)
            .await?
            .is_some_and(|o| OptionKind::parse(&o.kind) == Some(OptionKind::Quantity));
        let choice = if is_quantity {
            value.parse::<i64>().map(Choice::Quantity).ok()
        } else {
            value.parse::<ConfigOptionValueId>().map(Choice::Value).ok()
        };
        match choice {
            Some(choice) => choices.push((option_id, choice)),
            None if is_quantity => errors.add(&field, "Enter a whole number."),
            None => errors.add(&field, "Choose one of the values."),
        }
    }
    Ok(choices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> EditInput {
        EditInput {
            registration_date: "2026-01-31".into(),
            next_due_date: "2026-02-28".into(),
            billing_cycle: "monthly".into(),
            recurring_amount: "10.00".into(),
            domain: " Example.COM ".into(),
            ..EditInput::default()
        }
    }

    #[test]
    fn an_edit_is_checked_against_the_product_and_the_currency() {
        let edit = check_edit(&input(), "recurring", Currency::USD).unwrap();
        assert_eq!((edit.domain.as_str(), edit.recurring.minor()), ("example.com", 1000));

        let bad = EditInput {
            billing_cycle: "one_time".into(),
            recurring_amount: "-1".into(),
            registration_date: "31/01/2026".into(),
            ..input()
        };
        let errors = check_edit(&bad, "recurring", Currency::USD).unwrap_err();
        for field in ["billing_cycle", "recurring_amount", "registration_date"] {
            assert!(errors.has(field), "{field}: {errors}");
        }
        let one_time = EditInput { billing_cycle: "one_time".into(), ..input() };
        assert!(check_edit(&one_time, "one_time", Currency::USD).unwrap_err().has("next_due_date"));
        let early = EditInput { next_due_date: "2025-12-31".into(), ..input() };
        assert!(check_edit(&early, "recurring", Currency::USD).unwrap_err().has("next_due_date"));
    }

    #[test]
    fn audit_values_are_short_and_on_one_line() {
        assert_eq!(shown(""), "(empty)");
        assert_eq!(shown("a\nb"), "a b");
        assert_eq!(shown(&"x".repeat(100)).chars().count(), 81);
    }
}
