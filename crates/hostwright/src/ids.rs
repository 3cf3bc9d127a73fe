//! Typed ids: a `StaffId` cannot be passed where a `ClientId` is expected.

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            sea_orm::DeriveValueType, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.trim().parse().map($name)
            }
        }
    )*};
}

typed_ids!(
    /// A staff member.
    StaffId,
    /// A staff role.
    RoleId,
    /// A client account.
    ClientId,
    /// A group of clients (discounts, fee exemption).
    ClientGroupId,
    /// A staff note on a client.
    ClientNoteId,
    /// A queued email.
    EmailId,
    /// A group of products in the catalog.
    ProductGroupId,
    /// A product in the catalog.
    ProductId,
    /// An invoice (draft or issued).
    InvoiceId,
    /// A line of an invoice.
    InvoiceLineId,
    /// A payment recorded against an invoice.
    PaymentId,
    /// A tax rule.
    TaxRuleId,
    /// A credit note (a correction of an issued invoice).
    CreditNoteId,
    /// A movement on a client's account credit.
    CreditEntryId,
    /// A contact (or sub-user) of a client account.
    ContactId,
    /// A group of configurable options, attached to products.
    ConfigOptionGroupId,
    /// A configurable option (dropdown, radio, yes/no or quantity).
    ConfigOptionId,
    /// A value of a configurable option, priced per cycle and currency.
    ConfigOptionValueId,
    /// A product add-on (extra backups, a dedicated IP ...).
    AddonId,
    /// A custom client field (text, dropdown or checkbox) staff define.
    ClientFieldId,
    /// A promotion code.
    CouponId,
    /// A visitor's or client's cart.
    CartId,
    /// One product (with its options and add-ons) in a cart.
    CartItemId,
    /// An order placed at checkout.
    OrderId,
    /// A client's service: a product they have (hosting account, server, licence ...).
    ServiceId,
    /// An add-on a service has.
    ServiceAddonId,
    /// A client's request to cancel a service.
    CancellationRequestId,
    /// An upgrade or downgrade of a service, pending until its invoice is paid.
    ServiceUpgradeId,
    /// A job in the durable queue.
    JobId,
    /// An attempt to move money through a payment gateway.
    GatewayPaymentId,
    /// A webhook event a payment gateway sent.
    PaymentEventId,
    /// A payment method a client saved at a gateway.
    PaymentMethodId,
    /// A refund Hostwright asked a gateway to make.
    PaymentRefundId,
    /// A server accounts are provisioned on.
    ServerId,
    /// A group of servers new accounts are spread over.
    ServerGroupId,
    /// One call a provisioning module made (the module log).
    ModuleCallId,
);

/// Who a session, token or recovery code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PrincipalKind {
    Staff,
    Client,
    /// A sub-user of a client account: signs in to the client area with their own password.
    Contact,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Staff => "staff",
            PrincipalKind::Client => "client",
            PrincipalKind::Contact => "contact",
        }
    }

    /// The area a principal signs in to: contacts use the client area (its cookie and pages).
    pub fn area(self) -> PrincipalKind {
        match self {
            PrincipalKind::Staff => PrincipalKind::Staff,
            PrincipalKind::Client | PrincipalKind::Contact => PrincipalKind::Client,
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "staff" => Some(PrincipalKind::Staff),
            "client" => Some(PrincipalKind::Client),
            "contact" => Some(PrincipalKind::Contact),
            _ => None,
        }
    }
}
