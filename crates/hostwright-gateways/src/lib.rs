//! Payment gateways: what Hostwright asks of a card processor or wallet, and the answers it
//! gets back, in terms that do not depend on the gateway (decision 0020).
//!
//! A gateway never sees our database. The caller writes its own payment record first and
//! passes its id as `our_ref`; the gateway stores it with the payment (Stripe: metadata)
//! and derives every request's idempotency key from it, so a repeated call cannot move money
//! twice and a later lookup can always find what happened.

pub mod paypal;
pub mod stripe;

use std::future::Future;

/// What a gateway can do; the admin and client pages offer only these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// The client pays on the gateway's own page and comes back.
    pub redirect_payment: bool,
    /// A payment method can be saved for later, and charged without the client present.
    pub saved_methods: bool,
    /// Full and partial refunds back to the payment.
    pub refunds: bool,
    /// The gateway reports what happened through signed webhooks.
    pub webhooks: bool,
    /// A sandbox separate from live money.
    pub test_mode: bool,
    /// Credentials can be checked with a harmless request.
    pub test_connection: bool,
}

/// Why a gateway call did not give an answer we can act on.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The request may or may not have been carried out: the gateway did not answer in
    /// time, or answered with a server error. Only a later lookup can tell.
    #[error("the gateway did not answer in time; the outcome is unknown")]
    Timeout,
    #[error("the gateway answered with an error of its own ({status}); the outcome is unknown")]
    ServerError { status: u16 },
    /// Nothing reached the gateway (connection refused, DNS, TLS): safe to try again.
    #[error("could not reach the gateway: {0}")]
    Unreachable(String),
    /// The gateway asks us to slow down; nothing was done.
    #[error("the gateway is limiting requests; try again shortly")]
    RateLimited,
    /// The card or account refused the charge.
    #[error("the payment was declined: {message}")]
    Declined { code: String, message: String, payment_ref: Option<String> },
    /// The bank wants the card holder to confirm (3-D Secure); they must do it themselves.
    #[error("the card holder must confirm this payment with their bank")]
    AuthenticationRequired { payment_ref: Option<String> },
    /// The gateway refused the request itself (bad key, invalid parameters): trying again
    /// will not help.
    #[error("the gateway refused the request: {message}")]
    Rejected { status: u16, message: String },
    /// The answer could not be read.
    #[error("the gateway's answer could not be read: {0}")]
    Protocol(String),
    /// This gateway does not do that.
    #[error("this gateway does not support that")]
    Unsupported,
}

impl GatewayError {
    /// Whether the call may have been carried out although we got no answer saying so.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, GatewayError::Timeout | GatewayError::ServerError { .. } | GatewayError::Protocol(_))
    }
}

pub use hostwright_core::Secret;

/// Sends a request and reads the answer as JSON, mapping what any gateway's HTTP can do
/// wrong: nothing sent (unreachable), no answer (the outcome is unknown), a server error, a
/// rate limit, an unreadable success. A refusal (another 4xx) comes back as `Ok(Err((status,
/// body)))` for the gateway to read its own error shape.
async fn exchange(
    request: reqwest::RequestBuilder,
) -> Result<Result<serde_json::Value, (u16, serde_json::Value)>, GatewayError> {
    let response = request.send().await.map_err(|e| {
        if e.is_connect() {
            GatewayError::Unreachable(e.to_string())
        } else {
            // Sent, perhaps, but no answer: it may have been carried out.
            GatewayError::Timeout
        }
    })?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|_| GatewayError::Timeout)?;
    if (200..300).contains(&status) {
        if body.trim().is_empty() {
            return Ok(Ok(serde_json::Value::Null));
        }
        return serde_json::from_str(&body)
            .map(Ok)
            .map_err(|e| GatewayError::Protocol(format!("{e} in a {status} answer")));
    }
    if status >= 500 {
        return Err(GatewayError::ServerError { status });
    }
    if status == 429 {
        return Err(GatewayError::RateLimited);
    }
    Ok(Err((status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))))
}

/// An amount in a currency's minor units, with the ISO code (upper case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    pub minor: i64,
    pub currency: String,
}

/// A hosted payment of one invoice.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    /// Our payment record's id.
    pub our_ref: String,
    pub invoice_ref: String,
    pub description: String,
    pub amount: Amount,
    /// The gateway's customer for the client, when it keeps customers.
    pub customer_ref: Option<String>,
    pub email: String,
    pub success_url: String,
    pub cancel_url: String,
    /// Keep the method used for later automatic charges.
    pub save_method: bool,
}

/// Saving a payment method for later automatic charges.
#[derive(Debug, Clone)]
pub struct SetupRequest {
    pub our_ref: String,
    pub customer_ref: String,
    pub currency: String,
    pub success_url: String,
    pub cancel_url: String,
}

/// Where to send the client, and the gateway's id for that page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    pub url: String,
    pub session_ref: String,
}

/// A charge of a saved method without the client present.
#[derive(Debug, Clone)]
pub struct ChargeRequest {
    pub our_ref: String,
    pub invoice_ref: String,
    pub description: String,
    pub amount: Amount,
    pub customer_ref: String,
    pub method_ref: String,
}

/// A payment as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemotePayment {
    pub payment_ref: String,
    pub our_ref: Option<String>,
    pub status: RemoteStatus,
    pub amount: Amount,
    /// What was given back of it so far.
    pub refunded_minor: i64,
    pub customer_ref: Option<String>,
    pub method_ref: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteStatus {
    Succeeded,
    /// Not finished: the client has not confirmed, or the bank has not answered yet.
    Processing,
    RequiresAction,
    Failed {
        code: String,
        message: String,
    },
    Canceled,
}

/// A refund made at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub refund_ref: String,
    pub amount_minor: i64,
    pub succeeded: bool,
}

/// A saved payment method, as the client sees it listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedMethod {
    pub method_ref: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i32,
    pub exp_year: i32,
}

/// Closing a hosted payment page nobody finished, before another way of paying is tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpireOutcome {
    /// The page can no longer be paid.
    Expired,
    /// The client paid on it already: the payment is on its way.
    AlreadyCompleted,
}

/// A verified webhook event, as the gateway sent it.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// When the gateway created the event, in seconds since the epoch.
    pub created: i64,
    pub livemode: bool,
    pub object: serde_json::Value,
}

/// What an event tells us, whatever gateway sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    PaymentSucceeded {
        our_ref: Option<String>,
        payment_ref: String,
        /// The hosted page it was paid on, when it was.
        session_ref: Option<String>,
        amount: Amount,
        customer_ref: Option<String>,
        method_ref: Option<String>,
    },
    PaymentFailed {
        our_ref: Option<String>,
        payment_ref: String,
        code: String,
        message: String,
        needs_authentication: bool,
    },
    /// The payment's refunds now total `refunded_minor` (cumulative, so a repeat counts once).
    Refunded {
        payment_ref: String,
        refunded_minor: i64,
        amount: Amount,
    },
    MethodSaved {
        our_ref: Option<String>,
        customer_ref: Option<String>,
        method_ref: String,
    },
    /// The payer approved the payment on the gateway's page; it still has to be captured.
    Approved {
        our_ref: Option<String>,
        session_ref: String,
    },
    /// A hosted page expired unpaid.
    SessionExpired {
        our_ref: Option<String>,
        session_ref: String,
    },
    /// Nothing for us in it (a type we do not handle, or a state we wait past).
    Ignored(String),
}

/// What Hostwright asks of a payment gateway. Every method that moves money is idempotent
/// by `our_ref`: calling it twice for the same record does it once.
pub trait PaymentGateway: Send + Sync {
    fn capabilities(&self) -> Capabilities;

    /// A harmless authenticated request; the answer says whose account the keys open.
    fn test_connection(&self) -> impl Future<Output = Result<String, GatewayError>> + Send;

    /// The gateway's customer for one of our clients, created once per `client_ref`.
    fn ensure_customer(
        &self,
        client_ref: &str,
        email: &str,
        name: &str,
    ) -> impl Future<Output = Result<String, GatewayError>> + Send;

    fn start_checkout(&self, request: &CheckoutRequest) -> impl Future<Output = Result<Redirect, GatewayError>> + Send;

    fn start_setup(&self, request: &SetupRequest) -> impl Future<Output = Result<Redirect, GatewayError>> + Send;

    fn expire_checkout(&self, session_ref: &str) -> impl Future<Output = Result<ExpireOutcome, GatewayError>> + Send;

    fn charge_saved(&self, request: &ChargeRequest)
    -> impl Future<Output = Result<RemotePayment, GatewayError>> + Send;

    /// Gives back `amount_minor` of a succeeded payment; `our_ref` identifies this refund.
    fn refund(
        &self,
        our_ref: &str,
        payment_ref: &str,
        amount_minor: i64,
    ) -> impl Future<Output = Result<Refund, GatewayError>> + Send;

    /// The payment with the gateway's id `payment_ref`.
    fn payment(&self, payment_ref: &str) -> impl Future<Output = Result<RemotePayment, GatewayError>> + Send;

    /// The payment made for our record `our_ref`, if the gateway has one.
    fn find_payment(&self, our_ref: &str) -> impl Future<Output = Result<Option<RemotePayment>, GatewayError>> + Send;

    fn saved_method(&self, method_ref: &str) -> impl Future<Output = Result<SavedMethod, GatewayError>> + Send;

    fn detach_method(&self, method_ref: &str) -> impl Future<Output = Result<(), GatewayError>> + Send;
}

/// One of the online gateways, chosen at run time (by a payment's gateway key); every call
/// goes to the gateway it holds.
pub enum AnyGateway {
    Stripe(std::sync::Arc<stripe::Stripe>),
    PayPal(std::sync::Arc<paypal::PayPal>),
}

macro_rules! each {
    ($self:ident, $g:ident => $call:expr) => {
        match $self {
            AnyGateway::Stripe($g) => $call,
            AnyGateway::PayPal($g) => $call,
        }
    };
}

impl PaymentGateway for AnyGateway {
    fn capabilities(&self) -> Capabilities {
        each!(self, g => g.capabilities())
    }

    async fn test_connection(&self) -> Result<String, GatewayError> {
        each!(self, g => g.test_connection().await)
    }

    async fn ensure_customer(&self, client_ref: &str, email: &str, name: &str) -> Result<String, GatewayError> {
        each!(self, g => g.ensure_customer(client_ref, email, name).await)
    }

    async fn start_checkout(&self, request: &CheckoutRequest) -> Result<Redirect, GatewayError> {
        each!(self, g => g.start_checkout(request).await)
    }

    async fn start_setup(&self, request: &SetupRequest) -> Result<Redirect, GatewayError> {
        each!(self, g => g.start_setup(request).await)
    }

    async fn expire_checkout(&self, session_ref: &str) -> Result<ExpireOutcome, GatewayError> {
        each!(self, g => g.expire_checkout(session_ref).await)
    }

    async fn charge_saved(&self, request: &ChargeRequest) -> Result<RemotePayment, GatewayError> {
        each!(self, g => g.charge_saved(request).await)
    }

    async fn refund(&self, our_ref: &str, payment_ref: &str, amount_minor: i64) -> Result<Refund, GatewayError> {
        each!(self, g => g.refund(our_ref, payment_ref, amount_minor).await)
    }

    async fn payment(&self, payment_ref: &str) -> Result<RemotePayment, GatewayError> {
        each!(self, g => g.payment(payment_ref).await)
    }

    async fn find_payment(&self, our_ref: &str) -> Result<Option<RemotePayment>, GatewayError> {
        each!(self, g => g.find_payment(our_ref).await)
    }

    async fn saved_method(&self, method_ref: &str) -> Result<SavedMethod, GatewayError> {
        each!(self, g => g.saved_method(method_ref).await)
    }

    async fn detach_method(&self, method_ref: &str) -> Result<(), GatewayError> {
        each!(self, g => g.detach_method(method_ref).await)
    }
}

/// The online gateways a node built, each with the fingerprint of the settings it was built
/// from: building one costs an HTTP client (and, for PayPal, an access token), so payments
/// and events reuse it until the settings change.
#[derive(Default)]
pub struct GatewayCache {
    stripe: std::sync::Mutex<Option<(String, std::sync::Arc<stripe::Stripe>)>>,
    paypal: std::sync::Mutex<Option<(String, std::sync::Arc<paypal::PayPal>)>>,
}

impl GatewayCache {
    /// Stripe built from settings `fingerprint`, by `build` when that changed.
    pub fn stripe<E>(
        &self,
        fingerprint: &str,
        build: impl FnOnce() -> Result<stripe::Stripe, E>,
    ) -> Result<std::sync::Arc<stripe::Stripe>, E> {
        cached(&self.stripe, fingerprint, build)
    }

    /// PayPal built from settings `fingerprint`, by `build` when that changed.
    pub fn paypal<E>(
        &self,
        fingerprint: &str,
        build: impl FnOnce() -> Result<paypal::PayPal, E>,
    ) -> Result<std::sync::Arc<paypal::PayPal>, E> {
        cached(&self.paypal, fingerprint, build)
    }
}

type Slot<G> = std::sync::Mutex<Option<(String, std::sync::Arc<G>)>>;

fn cached<G, E>(
    slot: &Slot<G>,
    fingerprint: &str,
    build: impl FnOnce() -> Result<G, E>,
) -> Result<std::sync::Arc<G>, E> {
    if let Ok(held) = slot.lock()
        && let Some((built_from, gateway)) = held.as_ref()
        && built_from == fingerprint
    {
        return Ok(gateway.clone());
    }
    let gateway = std::sync::Arc::new(build()?);
    if let Ok(mut held) = slot.lock() {
        *held = Some((fingerprint.to_owned(), gateway.clone()));
    }
    Ok(gateway)
}
