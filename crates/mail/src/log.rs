//! The send log: every message Tenpo sends, recorded in the transaction of the change it
//! tells about, then delivered by the [`crate::sender`].

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::StoreId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::templates::{Locale, Shop, Template};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting to be sent (or to be retried).
    Queued,
    /// A sender holds it (until its lease passes).
    Sending,
    /// The SMTP server accepted it. Never sent again.
    Sent,
    /// Given up: refused by the server, or out of attempts.
    Failed,
}

/// One recipient of one message, to record with [`send`].
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub store: StoreId,
    /// What makes the message once-only, e.g. `order.placed:<event id>`; with the template's
    /// kind and the recipient it is the message's dedupe key, and names its `Message-ID`.
    pub key: &'a str,
    pub to: &'a str,
}

/// A message of the send log, as staff see it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct SentMessage {
    pub id: Uuid,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub status: MessageStatus,
    pub attempts: i32,
    pub message_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Who a store's messages come from and in which language.
async fn store_identity(tx: &mut Tx, store: StoreId) -> Result<(String, Locale), sqlx::Error> {
    let (name, locale) = tenancy::settings::mail_identity(tx, store).await?;
    Ok((name, if locale == "en" { Locale::En } else { Locale::Ja }))
}

/// The stable part of a message's `Message-ID`: the same for the same dedupe key, always.
pub fn message_token(tenant: kernel::TenantId, dedupe_key: &str) -> String {
    hex::encode(&Sha256::digest(format!("{tenant}:{dedupe_key}").as_bytes())[..16])
}

/// Renders `template` in the store's language under its sender name and records it for `to`
/// in the caller's transaction. Answers `None` when a message with the same dedupe key was
/// recorded before (an event delivered again): nothing is sent twice.
pub async fn send(
    tx: &mut Tx,
    out: Outgoing<'_>,
    template: &(dyn Template + Sync),
) -> Result<Option<Uuid>, sqlx::Error> {
    let to = out.to.trim().to_lowercase();
    let (sender_name, locale) = store_identity(tx, out.store).await?;
    let rendered = template.render(locale, &Shop { name: sender_name.clone() });
    let kind = template.kind();
    let dedupe_key = format!("{}:{kind}:{to}", out.key);
    let token = message_token(tx.tenant(), &dedupe_key);
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO email_messages
           (id, tenant_id, store_id, kind, dedupe_key, message_token, to_address, from_name, locale, subject, body_text, sensitive)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (tenant_id, dedupe_key) DO NOTHING RETURNING id",
    )
    .bind(Uuid::now_v7())
    .bind(tx.tenant())
    .bind(out.store)
    .bind(kind)
    .bind(&dedupe_key)
    .bind(&token)
    .bind(&to)
    .bind(&sender_name)
    .bind(locale)
    .bind(&rendered.subject)
    .bind(&rendered.text)
    .bind(template.sensitive())
    .fetch_optional(&mut **tx)
    .await?;
    if id.is_some() {
        tracing::debug!(kind, store_id = %out.store, "email recorded");
    }
    Ok(id)
}

/// The store's send log, newest first.
pub async fn list(
    tx: &mut Tx,
    store: StoreId,
    limit: i64,
    before: Option<Uuid>,
) -> Result<Vec<SentMessage>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, to_address, subject, status, attempts, message_id, last_error, created_at, sent_at
           FROM email_messages WHERE store_id = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
    )
    .bind(store)
    .bind(before)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}
