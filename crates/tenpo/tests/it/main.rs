//! Tenpo's integration tests: one binary (link time matters on small machines), a fresh
//! database per test cloned from the migrated template, Tenpo started on a random port and
//! driven over HTTP like a client would.

mod support;

mod catalog;
mod checkout;
mod console;
mod customers;
mod digital;
mod foundation;
mod inventory;
mod mall;
mod nats;
mod routing;
mod search;
mod storefront_pages;
mod webhooks;
