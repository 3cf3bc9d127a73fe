//! Staff add a service to a client by hand: a product, a billing cycle and the product's
//! options, priced by the catalog in the client's currency (or at a price staff set), with an
//! optional first invoice issued in the same transaction as the service, and an optional
//! module "create" once both are committed.
//!
//! Each submission of the form carries a random key stored with the service (unique), so a
//! double submit adds one service.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, Days};
use hostwright_core::{BillingCycle, Currency, DueSchedule, Line, Money, Period};
use sea_orm::entity::prelude::*;
use sea_orm::{DbErr, QueryOrder, TransactionTrait};

use super::service::{ServiceError, cycles_of, host_name, parse_amount, parse_date, typed_choices};
use super::status::Status;
use super::{lifecycle, store};
use crate::audit::{self, Actor};
use crate::catalog::model::{option, option_group, option_value, product};
use crate::catalog::options::{self, OptionKind};
use crate::catalog::pricing::{PricingError, Sale, price_selection};
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId, ProductId, ServiceId};
use crate::invoices::drafts::{BilledLine, TaxBuyer};
use crate::invoices::service::{self as invoices};
use crate::invoices::settings;
use crate::provisioning::Command;
use crate::state::AppState;
use crate::web::FormErrors;

/// The add-service form as staff filled it in.
#[derive(Debug, Clone, Default)]
pub struct AddInput {
    pub product_id: String,
    pub billing_cycle: String,
    /// `option.<id>` fields: (option id, value id or quantity), as typed.
    pub options: Vec<(String, String)>,
    pub domain: String,
    pub hostname: String,
    /// A recurring price instead of the catalog's, in the client's currency; empty = catalog.
    pub recurring_amount: String,
    /// Empty = one billing cycle from today.
    pub next_due_date: String,
    pub create_invoice: bool,
    pub run_create: bool,
    /// Identifies one submission of the form.
    pub idempotency_key: String,
}

#[derive(Debug)]
pub enum AddOutcome {
    Added {
        id: ServiceId,
        invoice: Option<InvoiceId>,
        /// Whether the module's "create" was queued (it runs in a moment, on a worker).
        create_queued: bool,
    },
    /// This submission already added service `id`.
    AlreadyAdded(ServiceId),
}

/// The currency a client is billed in: theirs, else the installation's default.
pub async fn client_currency(db: &impl ConnectionTrait, c: &client::Model) -> Result<Option<Currency>, ServiceError> {
    let code = if c.currency_code.is_empty() {
        match crate::catalog::service::currencies(db).await?.into_iter().next() {
            Some(default) => default.code,
            None => return Ok(None),
        }
    } else {
        c.currency_code.clone()
    };
    Ok(invoices::find_currency(db, &code).await?)
}

/// An option as the add-service form offers it, with the values on sale.
#[derive(Debug, Clone)]
pub struct FormOption {
    pub option: option::Model,
    pub kind: OptionKind,
    pub values: Vec<option_value::Model>,
}

/// The options a product offers, group by group as the price list shows them: for a new sale
/// hidden options and values are left out; for a service it has (`Sale::Renewal`) they stay.
pub async fn form_options(
    db: &impl ConnectionTrait,
    product_id: ProductId,
    sale: Sale,
) -> Result<Vec<FormOption>, DbErr> {
    let group_ids = options::product_groups(db, product_id).await?;
    let groups = option_group::Entity::find()
        .filter(option_group::Column::Id.is_in(group_ids))
        .order_by_asc(option_group::Column::Name)
        .all(db)
        .await?;
    let mut offered = options::options_of_groups(db, groups.iter().map(|g| g.id).collect()).await?;
    let shown = |hidden: bool| !hidden || sale == Sale::Renewal;
    offered.retain(|o| shown(o.hidden));
    offered.sort_by_key(|o| groups.iter().position(|g| g.id == o.group_id));
    let values = options::values_of_options(db, offered.iter().map(|o| o.id).collect()).await?;
    Ok(offered
        .into_iter()
        .filter_map(|option| {
            let kind = OptionKind::parse(&option.kind)?;
            let own = values.iter().filter(|v| v.option_id == option.id && shown(v.hidden)).cloned().collect();
            Some(FormOption { option, kind, values: own })
        })
        .collect())
}

/// Which field a pricing refusal belongs to.
fn pricing_field(err: &PricingError) -> &'static str {
    match err {
        PricingError::UnknownProduct | PricingError::ProductRetired { .. } => "product_id",
        PricingError::CycleNotOffered { .. } | PricingError::NotPriced { .. } => "billing_cycle",
        PricingError::UnknownCurrency { .. } => "_form",
        _ => "options",
    }
}

/// Adds a service to client `client_id` as staff described it.
#[tracing::instrument(skip_all, fields(client.id = %client_id))]
pub async fn add(
    state: &AppState,
    actor: &Actor,
    client_id: ClientId,
    input: &AddInput,
) -> Result<AddOutcome, ServiceError> {
    let key = input.idempotency_key.trim();
    if key.len() < 16 || key.len() > 64 {
        return Err(ServiceError::Invalid(FormErrors::form(
            "This form is out of date; reload the page and try again.",
        )));
    }
    if let Some(done) = store::find_by_key(&state.db, key).await? {
        return Ok(AddOutcome::AlreadyAdded(done.id));
    }
    let c = crate::clients::store::find(&state.db, client_id).await?.ok_or(ServiceError::NotFound)?;
    if c.anonymised_at.is_some() || c.status == crate::clients::store::CLOSED {
        return Err(ServiceError::NotAllowed("This client's account is closed; services cannot be added.".into()));
    }
    let mut errors = FormErrors::new();
    let Some(currency) = client_currency(&state.db, &c).await? else {
        return Err(ServiceError::Invalid(FormErrors::form("Set up a currency under Currencies first.")));
    };
    let chosen_product = match input.product_id.trim().parse::<ProductId>() {
        Ok(id) => crate::catalog::service::find_product(&state.db, id).await?,
        Err(_) => None,
    };
    let product: Option<product::Model> = match chosen_product {
        None => {
            errors.add("product_id", "Choose a product.");
            None
        }
        Some(p) if p.retired => {
            errors.add("product_id", format!("{} is retired and no longer sold.", p.name));
            None
        }
        Some(p) => Some(p),
    };
    let cycle = match (&product, BillingCycle::from_str(input.billing_cycle.trim())) {
        (Some(p), Ok(cycle)) if cycles_of(&p.payment_type).contains(&cycle) => Some(cycle),
        (Some(p), _) => {
            errors.add("billing_cycle", format!("Choose one of the billing cycles {} is sold in.", p.name));
            None
        }
        (None, _) => None,
    };
    let choices = typed_choices(&state.db, &input.options, &mut errors).await?;
    let priced = match (&product, cycle) {
        (Some(p), Some(cycle)) if errors.is_empty() => {
            match price_selection(&state.db, p.id, cycle, currency.code(), &choices, Sale::New).await {
                Ok(priced) => Some(priced),
                Err(PricingError::Internal(err)) => return Err(ServiceError::Internal(err)),
                Err(err) => {
                    errors.add(pricing_field(&err), err.to_string());
                    None
                }
            }
        }
        _ => None,
    };
    let price_override = match input.recurring_amount.trim() {
        "" => None,
        text => parse_amount(&mut errors, "recurring_amount", text, currency),
    };
    let billing = settings::load(&state.db).await?;
    let today = billing.today();
    let typed_due = parse_date(&mut errors, "next_due_date", &input.next_due_date);
    let next_due_date = match cycle {
        Some(c) if c.is_recurring() => match typed_due {
            Some(due) if due <= today => {
                errors.add("next_due_date", "The next due date must be after today.");
                None
            }
            Some(due) => Some(due),
            None => DueSchedule::new(today, c).due_date(1),
        },
        Some(_) if typed_due.is_some() => {
            errors.add("next_due_date", "A one-time or free service has no next due date; leave it empty.");
            None
        }
        _ => None,
    };
    let domain = host_name(&mut errors, "domain", &input.domain);
    let hostname = host_name(&mut errors, "hostname", &input.hostname);
    let (Some(product), Some(cycle), Some(priced), true) = (product, cycle, priced, errors.is_empty()) else {
        return Err(ServiceError::Invalid(errors));
    };

    // What the service costs each period, and the lines of its first invoice.
    let money = |result: Result<Money, hostwright_core::MoneyError>| {
        result.map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("pricing the service")))
    };
    let charges: Vec<Line> = match price_override {
        Some(price) => {
            let mut description = product.name.clone();
            for option_line in priced.charges.iter().skip(1) {
                description.push_str(&format!("\n{}", option_line.description));
            }
            let line = Line::new(description, price, 1);
            vec![if product.taxable { line } else { line.untaxed() }]
        }
        None => priced.charges.clone(),
    };
    let recurring = match price_override {
        Some(price) => price,
        None => money(priced.charges_total())?,
    };
    let period = next_due_date.map(|end| Period { start: today, end });
    let billed: Vec<BilledLine> = charges
        .iter()
        .map(|line| (line, "service"))
        .chain(priced.setup_fees.iter().map(|line| (line, "setup")))
        .map(|(line, kind)| BilledLine { line: line.clone(), kind, service_id: None, service_addon_id: None, period })
        .collect();
    let first_payment = money(Money::sum(
        currency,
        billed
            .iter()
            .map(|b| b.line.unit_price.multiply(b.line.quantity))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("pricing the first payment")))?,
    ))?;
    let totals = if input.create_invoice {
        if !first_payment.is_positive() {
            let mut errors = FormErrors::new();
            errors.add("create_invoice", "There is nothing to invoice: this service costs nothing.");
            return Err(ServiceError::Invalid(errors));
        }
        let lines: Vec<Line> = billed.iter().map(|b| b.line.clone()).collect();
        Some(crate::invoices::drafts::totals_for(&state.db, &billing, TaxBuyer::client(&c), currency, &lines).await?)
    } else {
        None
    };

    let txn = state.db.begin().await?;
    let created = store::insert(
        &txn,
        &state.key,
        &store::NewService {
            client_id,
            order_id: None,
            product_id: product.id,
            status: Status::Pending,
            cycle,
            recurring,
            first_payment,
            registration_date: today,
            next_due_date,
            billing_day: typed_due.map_or_else(|| today.day(), |due| due.day()),
            domain: &domain,
            hostname: &hostname,
            password: None,
            choices: &choices,
            coupon: None,
        },
    )
    .await?;
    if let Err(err) = store::set_idempotency_key(&txn, created.id, key).await {
        txn.rollback().await?;
        if crate::web::forms::is_unique_violation(&err)
            && let Some(done) = store::find_by_key(&state.db, key).await?
        {
            return Ok(AddOutcome::AlreadyAdded(done.id));
        }
        return Err(err.into());
    }
    // A staff-added service uses up stock as an order does.
    if !crate::catalog::service::take_stock(&txn, product.id, 1).await? {
        txn.rollback().await?;
        let mut errors = FormErrors::new();
        errors.add("product_id", format!("{} is out of stock; raise its stock in the catalog first.", product.name));
        return Err(ServiceError::Invalid(errors));
    }
    let mut summary = format!(
        "Added {} for client #{client_id}: {}, {recurring}{}",
        product.name,
        cycle.label(),
        next_due_date.map(|d| format!(", next due {d}")).unwrap_or_default()
    );
    let invoice = match &totals {
        Some(totals) => {
            let lines: Vec<BilledLine> =
                billed.into_iter().map(|b| BilledLine { service_id: Some(created.id), ..b }).collect();
            let due = today.checked_add_days(Days::new(u64::from(billing.default_due_days))).unwrap_or(today);
            let draft = crate::invoices::drafts::insert_draft(&txn, &c, due, "", &lines, totals).await?;
            let issued = crate::invoices::issuing::issue_in(state, &txn, actor, &billing, &c, draft.id).await?;
            if let Some(p) = period {
                store::set_paid_period(&txn, created.id, p.start, recurring).await?;
            }
            summary.push_str(&format!("; invoice {}", issued.display_number()));
            Some(issued.id)
        }
        None => None,
    };
    audit::record(&txn, actor, "service.added", Some(("service", created.id.0)), summary).await?;
    // The account is created by a job queued with the service, once.
    if input.run_create {
        lifecycle::request(&txn, actor, created.id, Command::Create, Some(format!("service.create:{}", created.id)))
            .await
            .map_err(|e| ServiceError::Internal(anyhow::Error::from(e)))?;
    }
    txn.commit().await?;
    if invoice.is_some() {
        state.outbox_wakeup.notify_one();
    }
    if input.run_create {
        state.jobs_wakeup.notify_one();
    }
    Ok(AddOutcome::Added { id: created.id, invoice, create_queued: input.run_create })
}

/// The typed `option.<id>` fields of a form, by option id text.
pub fn option_fields(fields: &BTreeMap<String, String>) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|(name, value)| name.strip_prefix("option.").map(|id| (id.to_owned(), value.clone())))
        .take(200)
        .collect()
}
