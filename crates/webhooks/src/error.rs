use kernel::{FieldError, PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no such webhook endpoint")]
    EndpointNotFound,
    #[error("no such webhook delivery")]
    DeliveryNotFound,
    #[error("webhook URLs must use https (webhooks.allow_private_targets allows http)")]
    HttpsRequired,
    #[error(
        "{0}: webhooks cannot reach loopback, private, link-local or metadata addresses unless the operator allows them (TENPO_WEBHOOKS_ALLOW_PRIVATE_TARGETS=true)"
    )]
    PrivateTarget(String),
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Permission(#[from] kernel::access::PermissionDenied),
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
}

impl Problem for WebhookError {
    fn status(&self) -> u16 {
        use WebhookError::*;
        match self {
            EndpointNotFound | DeliveryNotFound => 404,
            HttpsRequired | PrivateTarget(_) => 422,
            Validation(e) => e.status(),
            Permission(e) => e.status(),
            Page(e) => e.status(),
            Db(_) => 500,
        }
    }

    fn code(&self) -> &'static str {
        use WebhookError::*;
        match self {
            EndpointNotFound => "webhook_not_found",
            DeliveryNotFound => "webhook_delivery_not_found",
            HttpsRequired => "webhook_https_required",
            PrivateTarget(_) => "webhook_private_target",
            Validation(e) => e.code(),
            Permission(e) => e.code(),
            Page(e) => e.code(),
            Db(_) => "internal",
        }
    }

    fn fields(&self) -> Vec<FieldError> {
        match self {
            WebhookError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }
}
