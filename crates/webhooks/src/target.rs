//! Where a webhook may go: the rule every URL a user gives Tenpo follows (crates/outbound).
//! Unless the operator allows private targets (`webhooks.allow_private_targets`), a URL must be
//! `https` and must not reach loopback, private, link-local or metadata addresses; URLs are
//! checked when staff save them and every connection again at delivery.

pub use outbound::{Refusal, check, check_syntax, is_private, resolve_public};
