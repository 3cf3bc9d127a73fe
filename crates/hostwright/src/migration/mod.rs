//! Forward-only, portable migrations: the same files build the SQLite and PostgreSQL schema.
//!
//! Never edit a migration that has shipped; add a new one. Changes are expand/contract so a
//! rolling deploy with old and new nodes side by side keeps working.

use sea_orm_migration::prelude::*;

mod m20261121_000001_foundation;
mod m20261122_000002_client_records;
mod m20261122_000003_catalog;
mod m20261122_000004_invoices;
mod m20261122_000005_client_search_index;
mod m20261122_000006_invoice_list_index;
mod m20261122_000007_credit;
mod m20261122_000008_catalog_options;
mod m20261122_000009_client_contacts;
mod m20261122_000010_client_fields;
mod m20261122_000011_open_invoices_index;
mod m20261122_000012_orders_services;
mod m20261202_000013_order_terms_pending_upgrade;
mod m20261203_000014_jobs;
mod m20261203_000015_automation;
mod m20261203_000016_dunning;
mod m20261204_000017_services_fillfactor;
mod m20261204_000018_outbox_dedupe_key;
mod m20261204_000019_payments;
mod m20261205_000020_refunds_and_funds;
mod m20261206_000021_provisioning;
mod m20261207_000022_nodes;
mod m20261207_000023_hardening;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_foundation::Migration),
            Box::new(m20261122_000002_client_records::Migration),
            Box::new(m20261122_000003_catalog::Migration),
            Box::new(m20261122_000004_invoices::Migration),
            Box::new(m20261122_000005_client_search_index::Migration),
            Box::new(m20261122_000006_invoice_list_index::Migration),
            Box::new(m20261122_000007_credit::Migration),
            Box::new(m20261122_000008_catalog_options::Migration),
            Box::new(m20261122_000009_client_contacts::Migration),
            Box::new(m20261122_000010_client_fields::Migration),
            Box::new(m20261122_000011_open_invoices_index::Migration),
            Box::new(m20261122_000012_orders_services::Migration),
            Box::new(m20261202_000013_order_terms_pending_upgrade::Migration),
            Box::new(m20261203_000014_jobs::Migration),
            Box::new(m20261203_000015_automation::Migration),
            Box::new(m20261203_000016_dunning::Migration),
            Box::new(m20261204_000017_services_fillfactor::Migration),
            Box::new(m20261204_000018_outbox_dedupe_key::Migration),
            Box::new(m20261204_000019_payments::Migration),
            Box::new(m20261205_000020_refunds_and_funds::Migration),
            Box::new(m20261206_000021_provisioning::Migration),
            Box::new(m20261207_000022_nodes::Migration),
            Box::new(m20261207_000023_hardening::Migration),
        ]
    }
}
