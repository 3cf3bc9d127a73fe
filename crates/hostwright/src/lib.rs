//! Hostwright: billing, automation and support for web-hosting businesses.
//!
//! The crate is the `hostwright` binary's whole application; `startup::app` builds the
//! HTTP router from an [`state::AppState`], which tests drive in-process.

pub mod audit;
pub mod auth;
pub mod automation;
pub mod catalog;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
#[cfg(feature = "dev-tools")]
pub mod dev;
pub mod documents;
pub mod files;
pub mod ids;
pub mod invoices;
pub mod jobs;
pub mod mail;
pub mod migration;
pub mod ops;
pub mod orders;
pub mod overviews;
pub mod payments;
pub mod permissions;
pub mod provisioning;
pub mod services;
pub mod signin;
pub mod site_settings;
pub mod staff;
pub mod startup;
pub mod state;
pub mod theme;
pub mod web;
pub mod workflows;
