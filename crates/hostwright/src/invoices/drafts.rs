//! Drafts computed by the money core: the parties as printed, the tax context of a buyer, the
//! tax table, and the lines and totals of a draft staff or the billing run create.

use std::str::FromStr;

use chrono::{Days, NaiveDate, Utc};
use hostwright_core::{
    Buyer, CountryCode, Currency, Decimal, Line, Money, Period, PriceMode, TaxContext, TaxRule, TaxRules, TaxSettings,
    TaxTreatment, Totals, VatId, compute_totals,
};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::model::{invoice, line, tax_line, tax_rule};
use super::service::{InvoiceError, find_currency};
use super::settings::{self, BillingSettings};
use crate::audit::{self, Actor};
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId, ServiceAddonId, ServiceId};
use crate::invoices::status::InvoiceStatus;
use crate::state::AppState;
use crate::web::FormErrors;

/// A party as printed on an issued invoice; frozen at issue. A draft's seller is `{}` until
/// it is issued, and fields added later are empty on older documents.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PartySnapshot {
    pub name: String,
    pub company: String,
    pub address_lines: Vec<String>,
    pub country: String,
    pub tax_id: String,
    pub registration: String,
    pub email: String,
}

impl PartySnapshot {
    /// A party as stored on a document (`what` names it for the error): a copy that does not
    /// parse is an error, never an empty party on a legal document.
    pub fn parse(stored: &str, what: &str) -> anyhow::Result<PartySnapshot> {
        serde_json::from_str(stored).map_err(|e| anyhow::anyhow!("the stored {what} does not parse: {e}"))
    }
}

pub(crate) fn buyer_snapshot(c: &client::Model) -> PartySnapshot {
    let city_line =
        [c.postcode.as_str(), c.city.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    let address_lines = [c.address1.clone(), c.address2.clone(), city_line, c.region.clone()]
        .into_iter()
        .filter(|l| !l.trim().is_empty())
        .collect();
    PartySnapshot {
        name: c.full_name(),
        company: c.company_name.clone(),
        address_lines,
        country: c.country.clone(),
        tax_id: c.tax_id.clone(),
        registration: String::new(),
        email: c.email.clone(),
    }
}

pub(crate) fn seller_snapshot(s: &BillingSettings) -> PartySnapshot {
    PartySnapshot {
        name: s.company_name.clone(),
        company: String::new(),
        address_lines: s.address.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        country: s.country.clone(),
        tax_id: s.tax_id.clone(),
        registration: s.registration.clone(),
        email: s.email.clone(),
    }
}

/// What taxes depend on about a buyer: a client's record, or a visitor's chosen country.
#[derive(Debug, Clone, Copy)]
pub struct TaxBuyer<'a> {
    pub country: &'a str,
    pub region: &'a str,
    pub tax_id: &'a str,
    pub tax_exempt: bool,
}

impl<'a> TaxBuyer<'a> {
    pub fn client(c: &'a client::Model) -> Self {
        TaxBuyer { country: &c.country, region: &c.region, tax_id: &c.tax_id, tax_exempt: c.tax_exempt }
    }

    /// A visitor who only said where they are.
    pub fn visitor(country: &'a str) -> Self {
        TaxBuyer { country, region: "", tax_id: "", tax_exempt: false }
    }
}

/// The installation's tax rules, loaded once and applied to any number of buyers (the daily
/// run prices thousands of invoices with one load).
#[derive(Debug, Clone)]
pub struct TaxTable {
    seller_country: Option<CountryCode>,
    prices_include_tax: bool,
    rules: TaxRules,
}

impl TaxTable {
    pub async fn load(db: &impl ConnectionTrait, billing: &BillingSettings) -> Result<TaxTable, InvoiceError> {
        let seller_country = CountryCode::parse(&billing.country).ok();
        let mut rules = Vec::new();
        if seller_country.is_some() {
            let rows = tax_rule::Entity::find().order_by_asc(tax_rule::Column::Id).all(db).await?;
            for row in rows {
                let rate = Decimal::from_str(&row.rate).map_err(|e| anyhow::anyhow!("tax rule {}: {e}", row.id))?;
                let mut rule = TaxRule::new(row.name.clone(), rate);
                if let Ok(country) = CountryCode::parse(&row.country) {
                    rule = rule.in_country(country);
                }
                if !row.region.is_empty() {
                    rule = rule.in_region(row.region.clone());
                }
                if row.level == 2 {
                    rule = rule.compound();
                }
                rules.push(rule);
            }
        }
        let rules = TaxRules::new(rules).map_err(|e| anyhow::anyhow!("tax rules: {e}"))?;
        Ok(TaxTable { seller_country, prices_include_tax: billing.prices_include_tax, rules })
    }

    /// The tax context of one buyer.
    fn context(&self, c: TaxBuyer<'_>) -> Result<TaxContext, InvoiceError> {
        let buyer_country = CountryCode::parse(c.country).ok().or(self.seller_country);
        let fallback = CountryCode::parse("US").map_err(anyhow::Error::from)?;
        let seller = self.seller_country.or(buyer_country).unwrap_or(fallback);
        let mut tax_settings = TaxSettings::new(seller);
        tax_settings.price_mode = if self.prices_include_tax { PriceMode::Inclusive } else { PriceMode::Exclusive };
        let mut buyer = Buyer::in_country(buyer_country.unwrap_or(seller));
        if !c.region.is_empty() {
            buyer.region = Some(c.region.to_owned());
        }
        buyer.vat_id = buyer_country.and_then(|country| VatId::parse_for(country, c.tax_id).ok());
        buyer.tax_exempt = c.tax_exempt;
        Ok(TaxContext { settings: tax_settings, buyer })
    }

    /// Lines, taxes and totals for `buyer` (see [`totals_for`]).
    pub fn totals(&self, buyer: TaxBuyer<'_>, currency: Currency, lines: &[Line]) -> Result<Totals, InvoiceError> {
        let ctx = self.context(buyer)?;
        compute_totals(currency, lines, &ctx, &self.rules).map_err(|e| {
            let mut errors = FormErrors::new();
            errors.add("lines", format!("These lines cannot be invoiced: {e}"));
            InvoiceError::Invalid(errors)
        })
    }
}

/// Lines, taxes and totals for `buyer`: the one computation the cart, the checkout and every
/// invoice share (`compute_totals` under the installation's tax rules).
pub async fn totals_for(
    db: &impl ConnectionTrait,
    billing: &BillingSettings,
    buyer: TaxBuyer<'_>,
    currency: Currency,
    lines: &[Line],
) -> Result<Totals, InvoiceError> {
    TaxTable::load(db, billing).await?.totals(buyer, currency, lines)
}

pub(crate) fn treatment_key(t: TaxTreatment) -> &'static str {
    match t {
        TaxTreatment::Taxed => "taxed",
        TaxTreatment::Exempt => "exempt",
        TaxTreatment::ReverseCharge => "reverse_charge",
        TaxTreatment::Export => "export",
    }
}

/// A line as staff type it.
#[derive(Debug, Clone, Default)]
pub struct LineInput {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub taxed: bool,
}

/// A manual invoice as staff type it.
#[derive(Debug, Clone)]
pub struct DraftInput {
    pub client_id: ClientId,
    pub currency_code: String,
    pub due_date: String,
    pub notes: String,
    pub lines: Vec<LineInput>,
}

/// Checks a draft and computes it; nothing is written.
async fn prepare(
    state: &AppState,
    input: &DraftInput,
) -> Result<(client::Model, Currency, NaiveDate, Vec<Line>, hostwright_core::Totals, BillingSettings), InvoiceError> {
    let mut errors = FormErrors::new();
    let c = crate::clients::store::find(&state.db, input.client_id).await?.ok_or(InvoiceError::NotFound)?;
    if c.anonymised_at.is_some() {
        return Err(InvoiceError::NotAllowed("This client's personal data was erased; invoice them no more."));
    }
    let code = input.currency_code.trim().to_uppercase();
    let currency = find_currency(&state.db, &code).await?;
    if currency.is_none() {
        errors.add("currency_code", "Choose one of the currencies set up under Currencies.");
    }
    let billing = settings::load(&state.db).await?;
    let due_date = match input.due_date.trim() {
        "" => {
            billing.today().checked_add_days(Days::new(u64::from(billing.default_due_days))).unwrap_or(billing.today())
        }
        text => NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| {
            errors.add("due_date", "Enter the date as YYYY-MM-DD.");
            billing.today()
        }),
    };
    if input.notes.chars().count() > 5000 {
        errors.add("notes", "Use at most 5,000 characters.");
    }
    let filled: Vec<(usize, &LineInput)> = input
        .lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !(l.description.trim().is_empty() && l.unit_price.trim().is_empty()))
        .collect();
    if filled.is_empty() {
        errors.add("lines", "Add at least one line.");
    }
    let mut lines = Vec::new();
    for (i, l) in &filled {
        let description = l.description.trim();
        if description.is_empty() || description.chars().count() > 500 {
            errors.add(&format!("line.{i}.description"), "Describe the line (up to 500 characters).");
        }
        let quantity = match l.quantity.trim() {
            "" => Some(Decimal::ONE),
            q => Decimal::from_str(q)
                .ok()
                .filter(|q| *q > Decimal::ZERO && *q <= Decimal::from(100_000) && q.scale() <= 4)
                .or_else(|| {
                    errors.add(&format!("line.{i}.quantity"), "Enter a quantity above 0, e.g. 1 or 2.5.");
                    None
                }),
        };
        let price = currency.and_then(|cur| match Money::parse(l.unit_price.trim(), cur) {
            Ok(m) if !m.is_negative() => Some(m),
            Ok(_) => {
                errors.add(&format!("line.{i}.unit_price"), "Prices cannot be negative; issue a credit note instead.");
                None
            }
            Err(hostwright_core::MoneyError::TooManyDecimals { .. }) => {
                errors.add(&format!("line.{i}.unit_price"), format!("{} has {} decimals.", cur.code(), cur.exponent()));
                None
            }
            Err(_) => {
                errors.add(&format!("line.{i}.unit_price"), "Enter an amount like 9.99.");
                None
            }
        });
        if let (Some(q), Some(price)) = (quantity, price) {
            let line = Line::new(description.to_owned(), price, q);
            lines.push(if l.taxed { line } else { line.untaxed() });
        }
    }
    let Some(currency) = currency.filter(|_| errors.is_empty()) else {
        return Err(InvoiceError::Invalid(errors));
    };
    let totals = totals_for(&state.db, &billing, TaxBuyer::client(&c), currency, &lines).await?;
    Ok((c, currency, due_date, lines, totals, billing))
}

/// A line to invoice and what it bills: nothing in particular (a manual line), or a service
/// or one of its add-ons for a period.
#[derive(Debug, Clone)]
pub struct BilledLine {
    pub line: Line,
    /// `manual`, `service`, `setup`, `addon`, `upgrade` …
    pub kind: &'static str,
    pub service_id: Option<ServiceId>,
    pub service_addon_id: Option<ServiceAddonId>,
    pub period: Option<Period>,
}

impl BilledLine {
    pub fn manual(line: Line) -> Self {
        BilledLine { line, kind: "manual", service_id: None, service_addon_id: None, period: None }
    }
}

/// Writes a draft invoice with its computed lines and taxes inside the caller's transaction.
pub(crate) async fn insert_draft(
    txn: &impl ConnectionTrait,
    c: &client::Model,
    due_date: NaiveDate,
    notes: &str,
    lines: &[BilledLine],
    totals: &Totals,
) -> Result<invoice::Model, InvoiceError> {
    let now = Utc::now();
    let created = invoice::ActiveModel {
        client_id: Set(c.id),
        number: Set(None),
        proforma_number: Set(None),
        status: Set(InvoiceStatus::Draft),
        currency_code: Set(totals.currency.code().to_owned()),
        issue_date: Set(None),
        due_date: Set(due_date),
        paid_date: Set(None),
        subtotal_minor: Set(totals.subtotal.minor()),
        discount_minor: Set(totals.discount_total.minor()),
        tax_minor: Set(totals.tax_total.minor()),
        total_minor: Set(totals.grand_total.minor()),
        credit_applied_minor: Set(0),
        amount_paid_minor: Set(0),
        credited_minor: Set(0),
        refunded_minor: Set(0),
        price_mode: Set(if totals.price_mode == PriceMode::Inclusive { "inclusive" } else { "exclusive" }.into()),
        tax_treatment: Set(treatment_key(totals.treatment).into()),
        reverse_charge: Set(totals.reverse_charge),
        buyer: Set(serde_json::to_string(&buyer_snapshot(c)).unwrap_or_default()),
        seller: Set("{}".into()),
        notes: Set(notes.trim().to_owned()),
        pdf_key: Set(None),
        issued_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    for (position, (billed, computed)) in lines.iter().zip(&totals.lines).enumerate() {
        let input_line = &billed.line;
        line::ActiveModel {
            invoice_id: Set(created.id),
            position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
            kind: Set(billed.kind.into()),
            description: Set(input_line.description.clone()),
            quantity: Set(input_line.quantity.normalize().to_string()),
            unit_price_minor: Set(input_line.unit_price.minor()),
            amount_minor: Set(computed.net.minor()),
            discount_minor: Set(computed.discount.minor()),
            tax_minor: Set(computed.tax.minor()),
            taxed: Set(input_line.taxable),
            service_id: Set(billed.service_id),
            service_addon_id: Set(billed.service_addon_id),
            period_start: Set(billed.period.map(|p| p.start)),
            period_end: Set(billed.period.map(|p| p.end)),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    for tax in &totals.tax_lines {
        tax_line::ActiveModel {
            invoice_id: Set(created.id),
            name: Set(tax.name.clone()),
            rate: Set(tax.rate.normalize().to_string()),
            level: Set(if tax.level == hostwright_core::TaxLevel::Compound { 2 } else { 1 }),
            base_minor: Set(tax.base.minor()),
            amount_minor: Set(tax.amount.minor()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(created)
}

/// Saves a draft invoice; staff review it, then issue it.
pub async fn create_draft(state: &AppState, actor: &Actor, input: &DraftInput) -> Result<InvoiceId, InvoiceError> {
    let (c, _, due_date, lines, totals, _) = prepare(state, input).await?;
    let lines: Vec<BilledLine> = lines.into_iter().map(BilledLine::manual).collect();
    let txn = state.db.begin().await?;
    let created = insert_draft(&txn, &c, due_date, &input.notes, &lines, &totals).await?;
    audit::record(
        &txn,
        actor,
        "invoice.created",
        Some(("invoice", created.id.0)),
        format!("Draft invoice for client #{} over {}", c.id, totals.grand_total),
    )
    .await?;
    txn.commit().await?;
    Ok(created.id)
}
