//! The statuses of a service.

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Ordered, not yet set up.
    Pending,
    Active,
    Suspended,
    /// Removed from the server (by staff, or for non-payment).
    Terminated,
    /// Ended at the client's request or with its order.
    Cancelled,
    /// Its order was fraudulent; never set up.
    Fraud,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Pending, Status::Active, Status::Suspended, Status::Terminated, Status::Cancelled, Status::Fraud];

    /// The statuses of a service that holds (or is about to hold) an account on its server.
    pub const LIVE: [Status; 3] = [Status::Pending, Status::Active, Status::Suspended];

    pub fn key(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Active => "active",
            Status::Suspended => "suspended",
            Status::Terminated => "terminated",
            Status::Cancelled => "cancelled",
            Status::Fraud => "fraud",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Active => "Active",
            Status::Suspended => "Suspended",
            Status::Terminated => "Terminated",
            Status::Cancelled => "Cancelled",
            Status::Fraud => "Fraud",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }

    /// Whether the service still exists on a server (or is about to).
    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }
}
