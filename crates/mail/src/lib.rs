//! Transactional email.
//!
//! * [`send`] renders a [`Template`] in the store's language, under the store's sender name,
//!   and records the message in the send log (`email_messages`) **in the caller's
//!   transaction**: the message exists exactly when the change it tells about does. Each
//!   message has a dedupe key (for example `order.placed:<event id>:<recipient>`); a second
//!   message with the same key is not recorded, so an event delivered twice mails once.
//! * [`sender`] (in the worker) claims due messages with a lease, delivers them over SMTP and
//!   records each send. A recorded send is never repeated. A send that failed is retried with
//!   backoff (30 s doubling, at most an hour apart) up to `max_attempts`, then marked failed.
//!   A worker that dies between the SMTP server's acceptance and the record loses its lease
//!   and the message goes again with the **same `Message-ID`** (derived from the dedupe key),
//!   so a duplicate after a crash is recognisable as one.
//! * [`templates`]: the messages Tenpo sends (order confirmation, bank-transfer instructions,
//!   payment received, shipped, download ready, account verification, password reset), in
//!   Japanese (the default) and English. A new message is a struct implementing [`Template`].
//!
//! Sending is off until an SMTP host and a from address are configured ([`MailSettings`]);
//! messages are still recorded meanwhile and go out once it is on.

pub mod log;
pub mod sender;
pub mod settings;
pub mod templates;

pub use log::{MessageStatus, Outgoing, SentMessage, send};
pub use settings::{MailSettings, TlsMode};
pub use templates::{Locale, Rendered, Template};
