//! Invoice use cases: drafts computed by the money core, issuing with a gapless number,
//! settling what was received (`receipts` records it), cancellation. Issued invoices are
//! never edited; corrections are credit notes.

use std::str::FromStr;

use chrono::{Days, NaiveDate, Utc};
use hostwright_core::{
    Buyer, CountryCode, Currency, Decimal, Line, Money, Period, PriceMode, TaxContext, TaxRule, TaxRules, TaxSettings,
    TaxTreatment, Totals, VatId, compute_totals,
};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, Condition, DbErr, QueryOrder, QuerySelect, QueryTrait, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::model::{invoice, line, payment, tax_line, tax_rule};
use super::numbering::{self, Pattern};
use super::settings::{self, BillingSettings};
use crate::audit::{self, Actor};
use crate::catalog::model::currency;
use crate::clients::contacts::send_billing_email;
use crate::clients::model::client;
use crate::ids::{ClientId, InvoiceId, ServiceAddonId, ServiceId};
use crate::state::AppState;
use crate::web::{AppError, FormErrors};

pub const DRAFT: &str = "draft";
pub const UNPAID: &str = "unpaid";
pub const PAID: &str = "paid";
pub const CANCELLED: &str = "cancelled";
pub const REFUNDED: &str = "refunded";
pub const COLLECTIONS: &str = "collections";
pub const STATUSES: [&str; 6] = [DRAFT, UNPAID, PAID, CANCELLED, REFUNDED, COLLECTIONS];

#[derive(Debug, thiserror::Error)]
pub enum InvoiceError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Invalid(FormErrors),
    #[error("{0}")]
    NotAllowed(&'static str),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What a page shows for it: not found, refused with the error's own words, or an internal
/// error (its cause chain logged, never shown).
impl From<InvoiceError> for AppError {
    fn from(err: InvoiceError) -> Self {
        match err {
            InvoiceError::NotFound => AppError::NotFound,
            InvoiceError::Invalid(errors) => AppError::BadRequest(errors.messages()),
            InvoiceError::Internal(err) => AppError::Internal(err),
            other => AppError::BadRequest(other.to_string()),
        }
    }
}

impl From<DbErr> for InvoiceError {
    fn from(err: DbErr) -> Self {
        InvoiceError::Internal(anyhow::Error::new(err).context("database"))
    }
}

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

pub async fn find_currency(db: &impl ConnectionTrait, code: &str) -> Result<Option<Currency>, InvoiceError> {
    match currency::Entity::find_by_id(code.to_owned()).one(db).await? {
        Some(row) => Ok(Some(crate::catalog::service::to_core(&row)?)),
        None => Ok(None),
    }
}

/// The currency a stored record is kept in: one that is not set up is an error, never
/// another currency's decimals on an amount.
pub async fn stored_currency(db: &impl ConnectionTrait, code: &str) -> Result<Currency, InvoiceError> {
    Ok(crate::catalog::service::known_currency(find_currency(db, code).await?, code)?)
}

/// Today in the business's time zone (billing dates are calendar dates there).
pub async fn today(db: &impl ConnectionTrait) -> Result<NaiveDate, DbErr> {
    Ok(settings::load(db).await?.today())
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
        status: Set(DRAFT.into()),
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

pub async fn find(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Option<invoice::Model>, DbErr> {
    invoice::Entity::find_by_id(id).one(db).await
}

/// Issues a draft: it gets its number (legal, or proforma in proforma mode), its date, and
/// frozen copies of the buyer's and seller's details; the client is emailed.
pub async fn issue(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<invoice::Model, InvoiceError> {
    let draft = find(&state.db, id).await?.ok_or(InvoiceError::NotFound)?;
    if draft.status != DRAFT {
        return Err(InvoiceError::NotAllowed("Only a draft can be issued."));
    }
    let billing = settings::load(&state.db).await?;
    let c = crate::clients::store::find(&state.db, draft.client_id).await?.ok_or(InvoiceError::NotFound)?;
    let txn = state.db.begin().await?;
    let issued = issue_in(state, &txn, actor, &billing, &c, id).await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(issued)
}

/// Issues the draft `id` of client `c` inside the caller's transaction (see [`issue`]).
pub(crate) async fn issue_in(
    state: &AppState,
    txn: &impl ConnectionTrait,
    actor: &Actor,
    billing: &BillingSettings,
    c: &client::Model,
    id: InvoiceId,
) -> Result<invoice::Model, InvoiceError> {
    issue_on(state, txn, actor, billing, c, id, None).await
}

/// The series an issued invoice is numbered in (proforma or legal, as the settings say) and
/// its pattern; refused until the seller's details are filled in.
pub(crate) fn issuing_series(billing: &BillingSettings) -> Result<(&'static str, Pattern), InvoiceError> {
    if billing.company_name.trim().is_empty() {
        return Err(InvoiceError::NotAllowed(
            "Enter your company details under Billing settings before issuing invoices.",
        ));
    }
    let (series, pattern_text, yearly) = if billing.proforma_mode {
        ("proforma", billing.proforma_pattern.as_str(), false)
    } else {
        ("invoice", billing.invoice_pattern.as_str(), billing.invoice_yearly_reset)
    };
    Ok((series, Pattern::parse(pattern_text, yearly).map_err(InvoiceError::NotAllowed)?))
}

/// [`issue_in`] dated `on`, or today when `None`: the daily run issues on the day it runs
/// for.
pub(crate) async fn issue_on(
    state: &AppState,
    txn: &impl ConnectionTrait,
    actor: &Actor,
    billing: &BillingSettings,
    c: &client::Model,
    id: InvoiceId,
    on: Option<NaiveDate>,
) -> Result<invoice::Model, InvoiceError> {
    let (series, pattern) = issuing_series(billing)?;
    // The number comes first: it takes the series' lock, and the date is read after it so
    // that numbers and dates rise together.
    let date = on.unwrap_or_else(|| billing.today());
    let seq = numbering::next(txn, series, &pattern.period(date)).await?;
    let number = pattern.format(date, seq);
    let now = Utc::now();
    let mut update = Query::update();
    update
        .table(invoice::Entity)
        .value(invoice::Column::Status, UNPAID)
        .value(invoice::Column::IssueDate, date)
        .value(invoice::Column::IssuedAt, now)
        .value(invoice::Column::UpdatedAt, now)
        .value(invoice::Column::Buyer, serde_json::to_string(&buyer_snapshot(c)).unwrap_or_default())
        .value(invoice::Column::Seller, serde_json::to_string(&seller_snapshot(billing)).unwrap_or_default())
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .and_where(Expr::col(invoice::Column::Status).eq(DRAFT));
    if billing.proforma_mode {
        update.value(invoice::Column::ProformaNumber, number.clone());
    } else {
        update.value(invoice::Column::Number, number.clone());
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(InvoiceError::NotAllowed("Only a draft can be issued."));
    }
    let issued = find(txn, id).await?.ok_or(InvoiceError::NotFound)?;
    let currency = stored_currency(txn, &issued.currency_code).await?;
    send_billing_email(state, txn, c, "invoice_issued", issued_invoice_email(state, &issued, currency)).await?;
    audit::record(
        txn,
        actor,
        "invoice.issued",
        Some(("invoice", id.0)),
        format!(
            "Issued {} {number} for {}",
            if billing.proforma_mode { "proforma" } else { "invoice" },
            Money::from_minor(issued.total_minor, currency)
        ),
    )
    .await?;
    Ok(issued)
}

/// What the email telling a client about an issued invoice says, with a link to it.
fn issued_invoice_email(state: &AppState, i: &invoice::Model, currency: Currency) -> minijinja::Value {
    let total = Money::from_minor(i.total_minor, currency);
    invoice_email(state, i.id, &i.display_number(), i.number.is_none(), total, i.due_date)
}

/// The email's context for invoice `id` numbered `number`.
pub(crate) fn invoice_email(
    state: &AppState,
    id: InvoiceId,
    number: &str,
    proforma: bool,
    total: Money,
    due_date: NaiveDate,
) -> minijinja::Value {
    minijinja::context! {
        number => number,
        proforma => proforma,
        total => total.to_string(),
        due_date => due_date.to_string(),
        link => state.settings.url(&format!("/account/invoices/{id}")),
    }
}

/// Sends the invoice email again (the client lost it, or their address changed).
pub async fn resend(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<(), InvoiceError> {
    let i = find(&state.db, id).await?.ok_or(InvoiceError::NotFound)?;
    if i.status == DRAFT || i.status == CANCELLED {
        return Err(InvoiceError::NotAllowed("Only issued invoices can be sent."));
    }
    let c = crate::clients::store::find(&state.db, i.client_id).await?.ok_or(InvoiceError::NotFound)?;
    if c.anonymised_at.is_some() {
        return Err(InvoiceError::NotAllowed(
            "This client's personal data was erased; there is no address to send to.",
        ));
    }
    let currency = stored_currency(&state.db, &i.currency_code).await?;
    let txn = state.db.begin().await?;
    send_billing_email(state, &txn, &c, "invoice_issued", issued_invoice_email(state, &i, currency)).await?;
    audit::record(
        &txn,
        actor,
        "invoice.resent",
        Some(("invoice", id.0)),
        format!("Sent {} to {} again", i.display_number(), c.email),
    )
    .await?;
    txn.commit().await?;
    state.outbox_wakeup.notify_one();
    Ok(())
}

/// A payment staff record by hand.
/// Money that reached an unpaid invoice.
#[derive(Debug, Clone, Copy)]
pub enum Received {
    /// A payment (its record is written by the caller).
    Payment(i64),
    /// Account credit applied (its ledger entry is written by the caller).
    Credit(i64),
}

#[derive(Debug)]
pub struct Settled {
    pub paid_in_full: bool,
    /// The legal number a proforma received because it is now paid.
    pub legal_number: Option<String>,
}

/// Books money received on `current` inside the caller's transaction: the invoice is paid
/// when its balance reaches zero, and a paid proforma gets its legal number, dated today.
/// Fails, changing nothing, if the invoice changed since `current` was read, so two
/// receipts racing can never together exceed the balance.
pub async fn receive(
    txn: &impl ConnectionTrait,
    current: &invoice::Model,
    received: Received,
    paid_on: NaiveDate,
) -> Result<Settled, InvoiceError> {
    let (column, amount) = match received {
        Received::Payment(amount) => (invoice::Column::AmountPaidMinor, amount),
        Received::Credit(amount) => (invoice::Column::CreditAppliedMinor, amount),
    };
    let paid_in_full = amount == current.balance_minor();
    let mut legal_number = None;
    if paid_in_full && current.number.is_none() {
        let billing = settings::load(txn).await?;
        let pattern =
            Pattern::parse(&billing.invoice_pattern, billing.invoice_yearly_reset).map_err(InvoiceError::NotAllowed)?;
        let date = billing.today();
        let seq = numbering::next(txn, "invoice", &pattern.period(date)).await?;
        legal_number = Some((pattern.format(date, seq), date));
    }
    let mut update = Query::update();
    update
        .table(invoice::Entity)
        .value(column, Expr::col(column).add(amount))
        .value(invoice::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(invoice::Column::Id).eq(current.id))
        .and_where(Expr::col(invoice::Column::Status).is_in([UNPAID, COLLECTIONS]))
        .and_where(Expr::col(invoice::Column::AmountPaidMinor).eq(current.amount_paid_minor))
        .and_where(Expr::col(invoice::Column::CreditAppliedMinor).eq(current.credit_applied_minor))
        .and_where(Expr::col(invoice::Column::CreditedMinor).eq(current.credited_minor));
    if paid_in_full {
        update.value(invoice::Column::Status, PAID).value(invoice::Column::PaidDate, paid_on);
    }
    if let Some((number, date)) = &legal_number {
        // The legal invoice is a new document: its PDF is made afresh under the new number.
        update
            .value(invoice::Column::Number, number.clone())
            .value(invoice::Column::IssueDate, *date)
            .value(invoice::Column::PdfKey, Option::<String>::None);
    }
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Err(InvoiceError::NotAllowed("The invoice changed meanwhile; reload it and check the balance."));
    }
    if paid_in_full {
        super::paid::enqueue(txn, current.id).await?;
    }
    Ok(Settled { paid_in_full, legal_number: legal_number.map(|(number, _)| number) })
}

/// Cancels a draft or an unpaid invoice nobody paid anything on. An issued invoice keeps
/// its number: the series stays gapless.
pub async fn cancel(state: &AppState, actor: &Actor, id: InvoiceId) -> Result<(), InvoiceError> {
    let txn = state.db.begin().await?;
    if !cancel_untouched(&txn, id).await? {
        return Err(InvoiceError::NotAllowed("Only drafts and unpaid invoices without payments can be cancelled."));
    }
    audit::record(&txn, actor, "invoice.cancelled", Some(("invoice", id.0)), "Cancelled the invoice").await?;
    txn.commit().await?;
    Ok(())
}

/// Cancels an invoice nothing was paid, credited or applied on (the order or change it was
/// for was called off); `false` when money already moved on it, which staff must refund.
pub async fn cancel_untouched(txn: &impl ConnectionTrait, id: InvoiceId) -> Result<bool, DbErr> {
    let update = Query::update()
        .table(invoice::Entity)
        .value(invoice::Column::Status, CANCELLED)
        .value(invoice::Column::UpdatedAt, Utc::now())
        .and_where(Expr::col(invoice::Column::Id).eq(id))
        .and_where(Expr::col(invoice::Column::Status).is_in([DRAFT, UNPAID]))
        .and_where(Expr::col(invoice::Column::AmountPaidMinor).eq(0))
        .and_where(Expr::col(invoice::Column::CreditAppliedMinor).eq(0))
        .and_where(Expr::col(invoice::Column::CreditedMinor).eq(0))
        .to_owned();
    Ok(txn.execute(&update).await?.rows_affected() == 1)
}

/// The admin list's filters.
#[derive(Debug, Clone, Default)]
pub struct InvoiceQuery {
    pub status: Option<String>,
    pub client_id: Option<ClientId>,
    pub overdue: bool,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub page: u64,
}

pub const PER_PAGE: u64 = 50;

/// Lists count matching invoices up to this many; beyond it they say "more than".
pub const COUNT_CAP: u64 = 10_000;

pub async fn search(db: &impl ConnectionTrait, q: &InvoiceQuery) -> Result<(Vec<invoice::Model>, u64), DbErr> {
    let mut condition = Condition::all();
    if let Some(status) = &q.status {
        condition = condition.add(invoice::Column::Status.eq(status.as_str()));
    }
    if let Some(client_id) = q.client_id {
        condition = condition.add(invoice::Column::ClientId.eq(client_id));
    }
    if q.overdue {
        condition = condition
            .add(invoice::Column::Status.is_in([UNPAID, COLLECTIONS]))
            .add(invoice::Column::DueDate.lt(today(db).await?));
    }
    if let Some(from) = q.from {
        condition = condition.add(invoice::Column::IssueDate.gte(from));
    }
    if let Some(to) = q.to {
        condition = condition.add(invoice::Column::IssueDate.lte(to));
    }
    let base = invoice::Entity::find().filter(condition);
    // Counting a million matching rows costs more than showing fifty of them: count up to
    // the cap and let the page say "more than".
    let capped = base.clone().select_only().column(invoice::Column::Id).limit(COUNT_CAP + 1).into_query();
    let count = Query::select().expr(Expr::cust("COUNT(*)")).from_subquery(capped, "capped").to_owned();
    let total = match db.query_one(&count).await? {
        Some(row) => u64::try_from(row.try_get_by_index::<i64>(0)?).unwrap_or(0),
        None => 0,
    };
    // Overdue invoices are chased oldest debt first; every other list shows the newest first.
    // Both orders follow an index, so a page never sorts every matching row.
    let ordered = if q.overdue {
        base.order_by_asc(invoice::Column::DueDate).order_by_asc(invoice::Column::Id)
    } else {
        base.order_by_desc(invoice::Column::Id)
    };
    let rows = ordered.offset(crate::web::forms::page_offset(q.page, PER_PAGE)).limit(PER_PAGE).all(db).await?;
    Ok((rows, total))
}

pub async fn lines(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<line::Model>, DbErr> {
    line::Entity::find().filter(line::Column::InvoiceId.eq(id)).order_by_asc(line::Column::Position).all(db).await
}

pub async fn tax_lines(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<tax_line::Model>, DbErr> {
    tax_line::Entity::find()
        .filter(tax_line::Column::InvoiceId.eq(id))
        .order_by_asc(tax_line::Column::Level)
        .all(db)
        .await
}

pub async fn payments(db: &impl ConnectionTrait, id: InvoiceId) -> Result<Vec<payment::Model>, DbErr> {
    payment::Entity::find().filter(payment::Column::InvoiceId.eq(id)).order_by_asc(payment::Column::Id).all(db).await
}
