//! Delivers the send log over SMTP (module docs of the crate: once recorded as sent, never
//! again; failures retried with backoff; the same `Message-ID` on a resend after a crash).

use std::time::Duration;

use db::Db;
use kernel::TenantId;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::settings::{MailSettings, TlsMode};

/// How long a sender holds a claimed message before another may take it.
const LEASE_SECS: i32 = 120;
const BATCH: i32 = 20;

pub struct Sender {
    db: Db,
    settings: MailSettings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Address,
}

#[derive(sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    tenant_id: TenantId,
}

#[derive(sqlx::FromRow)]
struct Row {
    to_address: String,
    from_name: Option<String>,
    subject: String,
    body_text: String,
    message_token: String,
    attempts: i32,
}

/// What became of one attempt.
enum Outcome {
    Sent(String),
    Retry(String),
    GiveUp(String),
}

impl Sender {
    /// The sender, or why sending is off (logged once by the caller).
    pub fn new(db: Db, settings: MailSettings) -> Result<Sender, String> {
        settings.enabled().map_err(str::to_string)?;
        settings.validate()?;
        let host = settings.smtp_host.clone().unwrap_or_default();
        let from: Address = settings.from_address.clone().unwrap_or_default().parse().map_err(|e| format!("{e}"))?;
        let tls = |host: &str| TlsParameters::new(host.into()).map_err(|e| format!("TLS for {host}: {e}"));
        let mut builder = match settings.tls {
            TlsMode::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            TlsMode::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).tls(Tls::Required(tls(&host)?))
            }
            TlsMode::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host).tls(Tls::Wrapper(tls(&host)?))
            }
        }
        .port(settings.port())
        .timeout(Some(settings.timeout()));
        if let Some(user) = &settings.username {
            let password = std::env::var(&settings.password_env).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Sender { db, transport: builder.build(), from, settings })
    }

    /// Sends due messages until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms.max(10));
        loop {
            let sent = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "email sender round failed");
                    0
                }
            };
            if sent > 0 {
                continue;
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// One round: claims due messages and tries each once. Answers how many were tried.
    pub async fn run_once(&self) -> Result<usize, sqlx::Error> {
        let claimed: Vec<Claimed> = sqlx::query_as("SELECT id, tenant_id FROM tenpo_claim_email($1, $2)")
            .bind(BATCH)
            .bind(LEASE_SECS)
            .fetch_all(self.db.platform())
            .await?;
        for c in &claimed {
            self.deliver(c).await?;
        }
        Ok(claimed.len())
    }

    async fn deliver(&self, c: &Claimed) -> Result<(), sqlx::Error> {
        let mut tx = self.db.begin(c.tenant_id).await?;
        let row: Option<Row> = sqlx::query_as(
            "SELECT to_address, from_name, subject, body_text, message_token, attempts
               FROM email_messages WHERE id = $1 AND status = 'sending'",
        )
        .bind(c.id)
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(()) };
        let outcome = self.attempt(&row).await;
        let mut tx = self.db.begin(c.tenant_id).await?;
        match &outcome {
            Outcome::Sent(message_id) => {
                sqlx::query(
                    "UPDATE email_messages SET status = 'sent', sent_at = now(), message_id = $2, locked_until = NULL,
                            last_error = NULL, body_text = CASE WHEN sensitive THEN '' ELSE body_text END
                      WHERE id = $1 AND status = 'sending'",
                )
                .bind(c.id)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
                metrics_sent("sent");
            }
            Outcome::Retry(error) if row.attempts < self.settings.max_attempts => {
                let wait = backoff(row.attempts);
                sqlx::query(
                    "UPDATE email_messages SET status = 'queued', locked_until = NULL, last_error = left($2, 1000),
                            available_at = now() + make_interval(secs => $3)
                      WHERE id = $1 AND status = 'sending'",
                )
                .bind(c.id)
                .bind(error)
                .bind(wait.as_secs_f64())
                .execute(&mut *tx)
                .await?;
                tracing::warn!(message = %c.id, attempts = row.attempts, error = %error, "email not sent; will retry");
                metrics_sent("retry");
            }
            Outcome::Retry(error) | Outcome::GiveUp(error) => {
                sqlx::query(
                    "UPDATE email_messages SET status = 'failed', locked_until = NULL, last_error = left($2, 1000),
                            body_text = CASE WHEN sensitive THEN '' ELSE body_text END
                      WHERE id = $1 AND status = 'sending'",
                )
                .bind(c.id)
                .bind(error)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(message = %c.id, attempts = row.attempts, error = %error, "email given up");
                metrics_sent("failed");
            }
        }
        tx.commit().await
    }

    async fn attempt(&self, row: &Row) -> Outcome {
        let domain = self.from.domain().to_string();
        let message_id = format!("<{}@{domain}>", row.message_token);
        let to: Mailbox = match row.to_address.parse() {
            Ok(a) => a,
            Err(e) => return Outcome::GiveUp(format!("bad recipient: {e}")),
        };
        let from = Mailbox::new(row.from_name.clone(), self.from.clone());
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&row.subject)
            .message_id(Some(message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .body(row.body_text.clone());
        let message = match message {
            Ok(m) => m,
            Err(e) => return Outcome::GiveUp(format!("cannot build the message: {e}")),
        };
        match self.transport.send(message).await {
            Ok(_) => Outcome::Sent(message_id),
            Err(e) if e.is_permanent() => Outcome::GiveUp(e.to_string()),
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

fn metrics_sent(result: &'static str) {
    metrics::counter!("tenpo_email_attempts_total", "result" => result).increment(1);
}

/// 30 s after the first failure, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let exp = attempts.clamp(1, 8) - 1;
    Duration::from_secs((30u64 << exp).min(3600))
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let secs: Vec<u64> = (1..=9).map(|a| super::backoff(a).as_secs()).collect();
        assert_eq!(secs, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
