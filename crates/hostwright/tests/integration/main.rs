//! The one integration-test binary. Every test runs on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod add_funds;
mod automation;
mod autopay;
mod billing_days;
mod catalog;
mod catalog_options;
mod cli;
mod client_fields;
mod clients;
mod clients_admin;
mod contacts;
mod coupons;
mod credit;
mod failover;
mod hardening;
mod invoices;
mod jobs;
mod journey;
mod orders;
mod payments;
mod paypal;
mod platform;
mod provisioning;
mod refunds;
mod services;
mod sessions;
mod staff;
mod totals_agree;
mod upgrades;
