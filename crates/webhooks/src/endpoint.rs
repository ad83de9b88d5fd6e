//! Webhook endpoints: where a store's events go, which topics, and the secrets that sign them.

use chrono::{DateTime, Utc};
use db::Tx;
use kernel::access::{Permission, StaffContext};
use kernel::{Page, PageRequest, StoreId, ValidationErrors, Validator, WebhookEndpointId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::WebhookError;
use crate::settings::WebhookSettings;
use crate::signature;
use crate::target::{self, Refusal};

/// A webhook endpoint as the admin API shows it (never its secrets).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Endpoint {
    pub id: WebhookEndpointId,
    pub store_id: StoreId,
    pub url: String,
    /// Topic filters: event types (`order.placed`), prefixes (`order.*`) or `*`.
    #[sqlx(rename = "event_types")]
    pub topics: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// Why Tenpo or staff disabled it: `staff`, `gone` (410) or `failing`.
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed (none since the last success: `null`).
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the previous secret still signs, during a rotation's overlap.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its signing secret: the answer to creating it or rotating its secret, the
/// only times the secret is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    /// `whsec_` + base64 of 32 random bytes: verify `webhook-signature` with it.
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// `https://...`; a private or loopback address is refused unless the operator allows it.
    pub url: String,
    /// Topic filters (default `["*"]`, every event).
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// Enabling again clears `disabled_reason` and `failing_since`; deliveries still pending go out.
    #[serde(default)]
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// How long the old secret keeps signing beside the new one, 0 to 7 days (default
    /// `webhooks.rotation_overlap_secs`, 24 hours). A second rotation within the overlap ends
    /// the oldest secret at once.
    #[serde(default)]
    pub overlap_secs: Option<u32>,
}

const COLUMNS: &str = "id, store_id, url, event_types, description, status = 'active' AS enabled, disabled_reason,
                       failing_since, previous_secret_expires_at, created_at, updated_at";

fn checked_topics(v: &mut Validator, topics: &[String]) -> Vec<String> {
    if topics.is_empty() {
        v.push("topics", "required", "give at least one topic filter (`*` for every event)");
    }
    if topics.len() > 100 {
        v.push("topics", "too_many", "at most 100 topic filters");
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        let t = t.trim();
        if let Err(why) = events::check_topic(t) {
            v.push(&format!("topics[{i}]"), "unknown_topic", format!("{t:?}: {why}"));
        } else if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

async fn checked_url(v: &mut Validator, url: &str, settings: &WebhookSettings) -> Result<String, WebhookError> {
    match target::check(url, settings.allow_private_targets).await {
        Ok(u) => Ok(u.to_string()),
        Err(Refusal::Invalid(why)) => {
            v.push("url", "invalid", why);
            Ok(String::new())
        }
        Err(Refusal::HttpsRequired) => Err(WebhookError::HttpsRequired),
        Err(Refusal::Private(why)) => Err(WebhookError::PrivateTarget(why)),
    }
}

fn description(v: &mut Validator, d: Option<&str>) -> String {
    v.opt_text("description", d, 500).unwrap_or_default()
}

pub async fn create(
    tx: &mut Tx,
    ctx: &StaffContext,
    settings: &WebhookSettings,
    input: CreateEndpoint,
) -> Result<EndpointWithSecret, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let mut v = Validator::new();
    let topics = checked_topics(&mut v, input.topics.as_deref().unwrap_or(&["*".to_string()]));
    let description = description(&mut v, input.description.as_deref());
    let url = checked_url(&mut v, &input.url, settings).await?;
    v.into_result()?;
    let secret = signature::new_secret();
    let status = if input.enabled.unwrap_or(true) { "active" } else { "disabled" };
    let endpoint: Endpoint = sqlx::query_as(&format!(
        "INSERT INTO webhook_endpoints (tenant_id, store_id, url, description, secret, event_types, status, disabled_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 = 'disabled' THEN 'staff' END)
         RETURNING {COLUMNS}"
    ))
    .bind(ctx.tenant_id)
    .bind(ctx.store_id)
    .bind(&url)
    .bind(&description)
    .bind(&secret)
    .bind(&topics)
    .bind(status)
    .fetch_one(&mut **tx)
    .await?;
    tracing::info!(endpoint = %endpoint.id, store = %ctx.store_id, "webhook endpoint created");
    Ok(EndpointWithSecret { endpoint, secret })
}

/// The store's endpoints, oldest first.
pub async fn list(tx: &mut Tx, ctx: &StaffContext, page: &PageRequest) -> Result<Page<Endpoint>, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let limit = page.limit()?;
    let after: Option<WebhookEndpointId> = page.after()?;
    let rows: Vec<Endpoint> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints
          WHERE store_id = $1 AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
    ))
    .bind(ctx.store_id)
    .bind(after)
    .bind(i64::from(limit) + 1)
    .fetch_all(&mut **tx)
    .await?;
    Ok(Page::from_rows(rows, limit, |e| e.id))
}

/// One endpoint of the staff member's store.
pub async fn get(tx: &mut Tx, ctx: &StaffContext, id: WebhookEndpointId) -> Result<Endpoint, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    find(tx, ctx.store_id, id).await
}

pub(crate) async fn find(tx: &mut Tx, store: StoreId, id: WebhookEndpointId) -> Result<Endpoint, WebhookError> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1 AND store_id = $2"))
        .bind(id)
        .bind(store)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(WebhookError::EndpointNotFound)
}

pub async fn update(
    tx: &mut Tx,
    ctx: &StaffContext,
    settings: &WebhookSettings,
    id: WebhookEndpointId,
    input: UpdateEndpoint,
) -> Result<Endpoint, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let mut v = Validator::new();
    let topics = input.topics.as_deref().map(|t| checked_topics(&mut v, t));
    let description = input.description.as_deref().map(|d| description(&mut v, Some(d)));
    let url = match &input.url {
        Some(u) => Some(checked_url(&mut v, u, settings).await?),
        None => None,
    };
    v.into_result()?;
    find(tx, ctx.store_id, id).await?;
    sqlx::query_as(&format!(
        "UPDATE webhook_endpoints
            SET url = coalesce($3, url), event_types = coalesce($4, event_types), description = coalesce($5, description),
                status = CASE $6::boolean WHEN true THEN 'active' WHEN false THEN 'disabled' ELSE status END,
                disabled_reason = CASE $6::boolean WHEN true THEN NULL
                                    WHEN false THEN coalesce(disabled_reason, 'staff') ELSE disabled_reason END,
                failing_since = CASE WHEN $6::boolean THEN NULL ELSE failing_since END
          WHERE id = $1 AND store_id = $2
          RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(ctx.store_id)
    .bind(url)
    .bind(topics)
    .bind(description)
    .bind(input.enabled)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(WebhookError::EndpointNotFound)
}

/// Deletes an endpoint with its deliveries and their log.
pub async fn delete(tx: &mut Tx, ctx: &StaffContext, id: WebhookEndpointId) -> Result<(), WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let gone = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND store_id = $2")
        .bind(id)
        .bind(ctx.store_id)
        .execute(&mut **tx)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(WebhookError::EndpointNotFound);
    }
    Ok(())
}

/// A new secret; the current one keeps signing for the overlap (both signatures are sent).
pub async fn rotate_secret(
    tx: &mut Tx,
    ctx: &StaffContext,
    settings: &WebhookSettings,
    id: WebhookEndpointId,
    input: RotateSecret,
) -> Result<EndpointWithSecret, WebhookError> {
    ctx.require(Permission::WebhooksManage)?;
    let overlap = match input.overlap_secs {
        Some(s) if s > 7 * 86_400 => {
            return Err(ValidationErrors::one("overlap_secs", "out_of_range", "must be between 0 and 604800").into());
        }
        Some(s) => u64::from(s),
        None => settings.rotation_overlap_secs,
    };
    let secret = signature::new_secret();
    let endpoint: Endpoint = sqlx::query_as(&format!(
        "UPDATE webhook_endpoints
            SET previous_secret = CASE WHEN $4 > 0 THEN secret END,
                previous_secret_expires_at = CASE WHEN $4 > 0 THEN now() + make_interval(secs => $4) END,
                secret = $3
          WHERE id = $1 AND store_id = $2
          RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(ctx.store_id)
    .bind(&secret)
    .bind(overlap as f64)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(WebhookError::EndpointNotFound)?;
    tracing::info!(endpoint = %id, overlap_secs = overlap, "webhook secret rotated");
    Ok(EndpointWithSecret { endpoint, secret })
}
