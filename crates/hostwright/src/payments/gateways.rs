//! The gateways a business offers: whether each is enabled, what it is called, which
//! currencies it takes, and its secrets, encrypted at rest and never shown again.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use hostwright_core::{Currency, Decimal, Money};
use hostwright_gateways::Secret;
use hostwright_gateways::paypal::{PayPal, PayPalConfig};
use hostwright_gateways::stripe::{Stripe, StripeConfig};
use sea_orm::entity::prelude::*;
use sea_orm::{ActiveValue::Set, QueryOrder, TransactionTrait};
use serde::{Deserialize, Serialize};

use super::PaymentError;
use super::model::gateway;
use crate::audit::{self, Actor};
use crate::state::AppState;
use crate::web::FormErrors;

pub const STRIPE: &str = "stripe";
pub const PAYPAL: &str = "paypal";
pub const BANK_TRANSFER: &str = "bank_transfer";
pub const ACCOUNT_CREDIT: &str = "account_credit";

/// Every gateway Hostwright has, with the name staff see, in the order clients see them.
pub const KNOWN: [(&str, &str); 4] = [
    (STRIPE, "Card (Stripe)"),
    (PAYPAL, "PayPal"),
    (BANK_TRANSFER, "Bank transfer"),
    (ACCOUNT_CREDIT, "Account credit"),
];

/// Whether `key` is a gateway that keeps secrets and talks to a provider.
pub fn is_online(key: &str) -> bool {
    key == STRIPE || key == PAYPAL
}

pub fn label(key: &str) -> &'static str {
    KNOWN.iter().find(|(k, _)| *k == key).map_or("Other", |(_, label)| label)
}

/// A gateway's settings; `secrets` stay encrypted until a gateway is built from them.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    pub key: String,
    pub enabled: bool,
    pub display_name: String,
    /// Upper-case ISO codes; empty means every currency.
    pub currencies: Vec<String>,
    pub test_mode: bool,
    pub options: Options,
    secrets: String,
}

/// What a gateway needs that is not secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    /// Bank transfer: the account details and what to quote, shown on unpaid invoices.
    pub instructions: String,
    /// What the gateway keeps of each payment, in percent (e.g. `2.9`), recorded as the
    /// payment's fee for the books.
    pub fee_percent: String,
    /// The fixed part of the fee per payment, in the payment's currency (e.g. `0.30`).
    pub fee_fixed: String,
    /// Account credit: the least a client may add at once (in their currency); empty: 1.
    pub add_funds_minimum: String,
    /// Account credit: the most a client may add at once; empty: clients cannot add funds.
    pub add_funds_maximum: String,
}

impl Options {
    /// The fee of a payment of `amount` under these options (never more than the payment).
    pub fn fee(&self, amount: Money) -> Money {
        let currency = amount.currency();
        let percent = self.fee_percent.parse::<Decimal>().unwrap_or(Decimal::ZERO);
        let fixed = Money::parse(&self.fee_fixed, currency).unwrap_or(Money::zero(currency));
        let fee = amount.percent(percent).ok().and_then(|p| p.checked_add(fixed).ok()).unwrap_or(Money::zero(currency));
        Money::from_minor(fee.minor().clamp(0, amount.minor().max(0)), currency)
    }

    /// The range a client may add to their account credit, if they may.
    pub fn add_funds_range(&self, currency: Currency) -> Option<(Money, Money)> {
        let most = Money::parse(&self.add_funds_maximum, currency).ok().filter(|m| m.is_positive())?;
        let least = Money::parse(&self.add_funds_minimum, currency)
            .ok()
            .filter(|m| m.is_positive())
            .unwrap_or_else(|| Money::from_minor(10_i64.pow(u32::from(currency.exponent())), currency));
        (least <= most).then_some((least, most))
    }
}

/// Stripe's secrets.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StripeSecrets {
    pub secret_key: String,
    /// Each webhook endpoint's signing secret; several while one is being rotated.
    pub webhook_secrets: Vec<String>,
}

/// PayPal's secrets: the REST app's credentials and the id of its webhook.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PayPalSecrets {
    pub client_id: String,
    pub secret: String,
    pub webhook_id: String,
}

impl std::fmt::Debug for PayPalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayPalSecrets").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for StripeSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeSecrets").finish_non_exhaustive()
    }
}

impl GatewaySettings {
    fn from_row(row: gateway::Model) -> Self {
        GatewaySettings {
            currencies: parse_currencies(&row.currencies),
            options: serde_json::from_str(&row.options).unwrap_or_default(),
            key: row.key,
            enabled: row.enabled,
            display_name: row.display_name,
            test_mode: row.test_mode,
            secrets: row.secrets,
        }
    }

    fn unset(key: &str) -> Self {
        GatewaySettings {
            key: key.to_owned(),
            // Bank transfer and account credit need nothing set up, so a new installation
            // takes them; an online gateway waits for its keys.
            enabled: !is_online(key),
            display_name: label(key).to_owned(),
            currencies: Vec::new(),
            test_mode: true,
            options: Options::default(),
            secrets: String::new(),
        }
    }

    /// Whether a client may pay an amount in `currency` with it.
    pub fn takes(&self, currency: &str) -> bool {
        self.enabled && (self.currencies.is_empty() || self.currencies.iter().any(|c| c == currency))
    }

    pub fn has_secrets(&self) -> bool {
        !self.secrets.is_empty()
    }

    /// What identifies the keys and mode a gateway was built from.
    fn fingerprint(&self) -> String {
        format!("{}|{}", self.test_mode, self.secrets)
    }

    /// Stripe, built from these settings' keys (once per node until they change).
    pub fn stripe(&self, state: &AppState) -> Result<Arc<Stripe>, PaymentError> {
        state.gateways.stripe(&self.fingerprint(), || self.build_stripe(state))
    }

    fn build_stripe(&self, state: &AppState) -> Result<Stripe, PaymentError> {
        let secrets = self.stripe_secrets(state)?;
        if secrets.secret_key.is_empty() {
            return Err(PaymentError::NotConfigured("Stripe has no secret key"));
        }
        let payments = &state.settings.payments;
        Ok(Stripe::new(StripeConfig {
            secret_key: Secret::new(secrets.secret_key),
            api_base: payments.stripe_api_base.clone(),
            timeout: Duration::from_secs(payments.gateway_timeout_seconds.max(1)),
        })?)
    }

    fn stripe_secrets(&self, state: &AppState) -> Result<StripeSecrets, PaymentError> {
        self.decrypted(state)
    }

    pub(super) fn paypal_secrets(&self, state: &AppState) -> Result<PayPalSecrets, PaymentError> {
        self.decrypted(state)
    }

    fn decrypted<T: Default + serde::de::DeserializeOwned>(&self, state: &AppState) -> Result<T, PaymentError> {
        if self.secrets.is_empty() {
            return Ok(T::default());
        }
        let plain = state
            .key
            .decrypt(&self.secrets)
            .map_err(|_| PaymentError::NotConfigured("the gateway's keys cannot be read with this installation key"))?;
        serde_json::from_slice(&plain).map_err(|_| PaymentError::NotConfigured("the gateway's keys are unreadable"))
    }

    /// PayPal, built from these settings' credentials: its sandbox while in test mode (once per
    /// node until they change, so its access token is reused).
    pub fn paypal(&self, state: &AppState) -> Result<Arc<PayPal>, PaymentError> {
        state.gateways.paypal(&self.fingerprint(), || self.build_paypal(state))
    }

    fn build_paypal(&self, state: &AppState) -> Result<PayPal, PaymentError> {
        let secrets = self.paypal_secrets(state)?;
        if secrets.client_id.is_empty() || secrets.secret.is_empty() {
            return Err(PaymentError::NotConfigured("PayPal has no client id and secret"));
        }
        let payments = &state.settings.payments;
        Ok(PayPal::new(PayPalConfig {
            client_id: secrets.client_id,
            secret: Secret::new(secrets.secret),
            api_base: if self.test_mode {
                payments.paypal_sandbox_base.clone()
            } else {
                payments.paypal_api_base.clone()
            },
            timeout: Duration::from_secs(payments.gateway_timeout_seconds.max(1)),
            brand_name: String::new(),
        })?)
    }
}

fn parse_currencies(text: &str) -> Vec<String> {
    text.split([',', ' ']).map(|c| c.trim().to_uppercase()).filter(|c| !c.is_empty()).collect()
}

/// One gateway's settings (disabled defaults when staff never saved it).
pub async fn load(db: &impl ConnectionTrait, key: &str) -> Result<GatewaySettings, DbErr> {
    Ok(gateway::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map_or_else(|| GatewaySettings::unset(key), GatewaySettings::from_row))
}

/// Every known gateway's settings, in the order clients see them.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<GatewaySettings>, DbErr> {
    let rows = gateway::Entity::find().order_by_asc(gateway::Column::SortOrder).all(db).await?;
    Ok(KNOWN
        .iter()
        .map(|(key, _)| {
            rows.iter()
                .find(|r| r.key == *key)
                .cloned()
                .map_or_else(|| GatewaySettings::unset(key), GatewaySettings::from_row)
        })
        .collect())
}

/// The gateways a client may pay an invoice in `currency` with.
pub async fn offered(db: &impl ConnectionTrait, currency: &str) -> Result<Vec<GatewaySettings>, DbErr> {
    Ok(all(db).await?.into_iter().filter(|g| g.takes(currency)).collect())
}

/// Stripe, built from its stored keys.
pub async fn stripe(state: &AppState) -> Result<Arc<Stripe>, PaymentError> {
    load(&state.db, STRIPE).await?.stripe(state)
}

/// The online gateway `key`, built from its stored keys.
pub async fn online(state: &AppState, key: &str) -> Result<hostwright_gateways::AnyGateway, PaymentError> {
    use hostwright_gateways::AnyGateway;
    match key {
        STRIPE => Ok(AnyGateway::Stripe(stripe(state).await?)),
        PAYPAL => Ok(AnyGateway::PayPal(paypal(state).await?)),
        _ => Err(PaymentError::NotAllowed("This gateway takes no payments online.")),
    }
}

/// PayPal, built from its stored credentials.
pub async fn paypal(state: &AppState) -> Result<Arc<PayPal>, PaymentError> {
    load(&state.db, PAYPAL).await?.paypal(state)
}

/// Stripe's webhook signing secrets.
pub async fn stripe_webhook_secrets(state: &AppState) -> Result<Vec<Secret>, PaymentError> {
    let settings = load(&state.db, STRIPE).await?;
    Ok(settings.stripe_secrets(state)?.webhook_secrets.into_iter().map(Secret::new).collect())
}

/// A gateway's settings as staff submit them; empty secret fields keep the stored ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GatewayInput {
    pub enabled: Option<String>,
    pub display_name: String,
    pub currencies: String,
    pub test_mode: Option<String>,
    pub instructions: String,
    pub fee_percent: String,
    pub fee_fixed: String,
    pub add_funds_minimum: String,
    pub add_funds_maximum: String,
    pub secret_key: String,
    /// One signing secret per line.
    pub webhook_secrets: String,
    /// PayPal's REST app credentials and webhook id.
    pub client_id: String,
    pub paypal_secret: String,
    pub webhook_id: String,
    pub sort_order: String,
}

pub async fn save(state: &AppState, actor: &Actor, key: &str, input: &GatewayInput) -> Result<(), PaymentError> {
    if !KNOWN.iter().any(|(k, _)| *k == key) {
        return Err(PaymentError::NotFound);
    }
    let current = load(&state.db, key).await?;
    let mut errors = FormErrors::new();
    let display_name = input.display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 100 {
        errors.add("display_name", "Enter the name clients see, at most 100 characters.");
    }
    let currencies = parse_currencies(&input.currencies);
    if currencies.iter().any(|c| c.len() != 3 || !c.chars().all(|ch| ch.is_ascii_alphabetic())) {
        errors.add(
            "currencies",
            "List ISO currency codes separated by commas (like EUR, USD), or leave it empty for all.",
        );
    }
    let sort_order = match input.sort_order.trim() {
        "" => 0,
        text => text.parse::<i32>().unwrap_or_else(|_| {
            errors.add("sort_order", "Enter a whole number.");
            0
        }),
    };
    if input.instructions.chars().count() > 2_000 {
        errors.add("instructions", "Use at most 2,000 characters.");
    }
    let decimal = |errors: &mut FormErrors, name: &str, text: &str, max: u32| -> String {
        match text.trim() {
            "" => String::new(),
            text => match text.parse::<Decimal>() {
                Ok(d) if d >= Decimal::ZERO && d <= Decimal::from(max) && d.scale() <= 4 => d.normalize().to_string(),
                _ => {
                    errors.add(name, format!("Enter a number from 0 to {max}, like 2.9, or leave it empty."));
                    String::new()
                }
            },
        }
    };
    let fee_percent = decimal(&mut errors, "fee_percent", &input.fee_percent, 50);
    let fee_fixed = decimal(&mut errors, "fee_fixed", &input.fee_fixed, 1_000);
    let add_funds_minimum = decimal(&mut errors, "add_funds_minimum", &input.add_funds_minimum, 1_000_000);
    let add_funds_maximum = decimal(&mut errors, "add_funds_maximum", &input.add_funds_maximum, 1_000_000);
    if let (Ok(least), Ok(most)) = (add_funds_minimum.parse::<Decimal>(), add_funds_maximum.parse::<Decimal>())
        && least > most
    {
        errors.add("add_funds_minimum", "The minimum cannot be above the maximum.");
    }
    let mut secrets_changed = Vec::new();
    let secrets = if key == STRIPE {
        let mut secrets = current.stripe_secrets(state)?;
        let secret_key = input.secret_key.trim();
        if !secret_key.is_empty() {
            if !(secret_key.starts_with("sk_") || secret_key.starts_with("rk_")) || secret_key.len() > 255 {
                errors.add("secret_key", "Paste the secret key from Stripe's dashboard (it starts with sk_ or rk_).");
            }
            secrets.secret_key = secret_key.to_owned();
            secrets_changed.push("secret key");
        }
        let webhook: Vec<String> =
            input.webhook_secrets.lines().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if !webhook.is_empty() {
            if webhook.iter().any(|s| !s.starts_with("whsec_") || s.len() > 255) {
                errors.add(
                    "webhook_secrets",
                    "Paste each endpoint's signing secret (it starts with whsec_), one per line.",
                );
            }
            secrets.webhook_secrets = webhook;
            secrets_changed.push("webhook secrets");
        }
        let enabling = input.enabled.is_some();
        if enabling && secrets.secret_key.is_empty() {
            errors.add("secret_key", "Stripe needs its secret key before it can be enabled.");
        }
        if enabling && secrets.webhook_secrets.is_empty() {
            errors.add("webhook_secrets", "Stripe needs the webhook signing secret before it can be enabled.");
        }
        let json = serde_json::to_vec(&secrets).map_err(|e| DbErr::Custom(e.to_string()))?;
        state.key.encrypt(&json)
    } else if key == PAYPAL {
        let mut secrets = current.paypal_secrets(state)?;
        let fields = [
            ("client_id", input.client_id.trim(), "client id"),
            ("paypal_secret", input.paypal_secret.trim(), "secret"),
            ("webhook_id", input.webhook_id.trim(), "webhook id"),
        ];
        for (name, value, label) in fields {
            if value.is_empty() {
                continue;
            }
            if value.len() > 255 || value.chars().any(char::is_whitespace) {
                errors.add(name, "Paste the value from PayPal's developer dashboard, without spaces.");
            }
            match name {
                "client_id" => secrets.client_id = value.to_owned(),
                "paypal_secret" => secrets.secret = value.to_owned(),
                _ => secrets.webhook_id = value.to_owned(),
            }
            secrets_changed.push(label);
        }
        if input.enabled.is_some() && (secrets.client_id.is_empty() || secrets.secret.is_empty()) {
            errors.add("client_id", "PayPal needs the app's client id and secret before it can be enabled.");
        }
        if input.enabled.is_some() && secrets.webhook_id.is_empty() {
            errors.add("webhook_id", "PayPal needs the webhook id before it can be enabled.");
        }
        let json = serde_json::to_vec(&secrets).map_err(|e| DbErr::Custom(e.to_string()))?;
        state.key.encrypt(&json)
    } else {
        current.secrets.clone()
    };
    if !errors.is_empty() {
        return Err(PaymentError::Invalid(errors));
    }
    let options = Options {
        instructions: input.instructions.trim().to_owned(),
        fee_percent,
        fee_fixed,
        add_funds_minimum,
        add_funds_maximum,
    };
    let row = gateway::ActiveModel {
        key: Set(key.to_owned()),
        enabled: Set(input.enabled.is_some()),
        display_name: Set(display_name.to_owned()),
        currencies: Set(currencies.join(",")),
        test_mode: Set(input.test_mode.is_some()),
        options: Set(serde_json::to_string(&options).map_err(|e| DbErr::Custom(e.to_string()))?),
        secrets: Set(secrets),
        sort_order: Set(sort_order),
        updated_at: Set(Utc::now()),
    };
    let txn = state.db.begin().await?;
    gateway::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(gateway::Column::Key)
                .update_columns([
                    gateway::Column::Enabled,
                    gateway::Column::DisplayName,
                    gateway::Column::Currencies,
                    gateway::Column::TestMode,
                    gateway::Column::Options,
                    gateway::Column::Secrets,
                    gateway::Column::SortOrder,
                    gateway::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    let mut summary = format!(
        "{} {} ({})",
        if input.enabled.is_some() { "Enabled" } else { "Disabled" },
        label(key),
        if currencies.is_empty() { "every currency".to_owned() } else { currencies.join(", ") }
    );
    if !secrets_changed.is_empty() {
        summary.push_str(&format!("; replaced the {}", secrets_changed.join(" and ")));
    }
    audit::record(&txn, actor, "gateway.updated", None, summary).await?;
    txn.commit().await?;
    Ok(())
}

/// Asks the gateway whether its stored keys work.
pub async fn test_connection(state: &AppState, key: &str) -> Result<String, PaymentError> {
    use hostwright_gateways::PaymentGateway;
    match key {
        STRIPE => Ok(stripe(state).await?.test_connection().await?),
        PAYPAL => Ok(paypal(state).await?.test_connection().await?),
        _ => Err(PaymentError::NotAllowed("This gateway has no connection to test.")),
    }
}
