//! The events webhooks record (docs/EVENTS.md).

use chrono::{DateTime, Utc};
use kernel::WebhookEndpointId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `webhook_endpoint.disabled`: Tenpo stopped delivering to an endpoint.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointDisabled {
    pub endpoint_id: WebhookEndpointId,
    pub url: String,
    /// `gone` (the receiver answered 410) or `failing` (every attempt failed for
    /// `webhooks.disable_after_secs`, 3 days by default).
    pub reason: String,
    /// The first failed attempt since the last success.
    pub failing_since: Option<DateTime<Utc>>,
}
events::payload!(WebhookEndpointDisabled => WebhookEndpointDisabled, |p| p.endpoint_id);

/// `webhook_endpoint.ping`: a test event staff sent; only the endpoint it names receives it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WebhookEndpointPing {
    pub endpoint_id: WebhookEndpointId,
}
events::payload!(WebhookEndpointPing => WebhookEndpointPing, |p| p.endpoint_id);
