//! What crosses domains: the job registry, every kind of background job Hostwright runs,
//! which each node's worker is handed (the domains define their own jobs), and the jobs that
//! follow one domain's event into others (`invoice.paid`).

mod invoice_paid;

use crate::jobs::Registry;

/// Every kind of job Hostwright has. A node claims only kinds it knows, so during a rolling
/// upgrade an older node leaves a newer kind to the newer nodes.
pub fn job_registry() -> Registry {
    Registry::default()
        .with::<crate::invoices::paid::InvoicePaid>()
        .with::<crate::invoices::batch::IssuedEmails>()
        .with::<crate::services::jobs::Overdue>()
        .with::<crate::services::jobs::Unsuspend>()
        .with::<crate::services::cancellations::CancelAtPeriodEnd>()
        .with::<crate::orders::manage::CancelUnpaidOrder>()
        .with::<crate::payments::jobs::ProcessEvent>()
        .with::<crate::payments::jobs::CapturePayment>()
        .with::<crate::payments::autopay::ChargeInvoice>()
        .with::<crate::payments::autopay::ResolvePayment>()
        .with::<crate::payments::refunds::RefundPayment>()
        .with::<crate::services::lifecycle::ServiceCommand>()
        .with::<crate::provisioning::jobs::TestServer>()
        .with::<crate::services::module_access::AnswerTicket>()
        .with::<crate::services::module_access::RefreshUsage>()
        .with::<crate::orders::manage::CloseOrder>()
        .with::<crate::orders::manage::AcceptOrder>()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_kind_is_claimed_for_its_own_lease_unless_one_is_set() {
        let groups = job_registry().lease_groups();
        let lease_of = |kind: &str| groups.iter().find(|(_, kinds)| kinds.contains(&kind)).map(|(lease, _)| *lease);
        assert_eq!(lease_of("payment.event"), Some(Duration::from_secs(90)));
        assert_eq!(lease_of("service.client_call"), Some(Duration::from_secs(90)));
        assert_eq!(lease_of("service.module"), Some(Duration::from_secs(210)));
        assert!(groups.windows(2).all(|w| w[0].0 < w[1].0), "shortest first");
        let set = job_registry().with_lease(Some(Duration::from_secs(5))).lease_groups();
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].1.len(), job_registry().kinds().len());
    }
}
