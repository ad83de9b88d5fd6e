use serde::Deserialize;

/// `[nats]` in the configuration (README, docs/NATS.md). NATS is off until `url` is set.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// `nats://host:4222` (several comma-separated); unset: events are not sent to NATS.
    pub url: Option<String>,
    /// The JetStream stream the publisher creates or updates at start; it takes `<prefix>.>`.
    pub stream: String,
    /// The subjects' first token (`tenpo`): another one lets several Tenpo deployments share
    /// one NATS account, each with its own stream.
    pub subject_prefix: String,
    /// How long the stream keeps a message.
    pub max_age_secs: u64,
    /// How long the server remembers a `Nats-Msg-Id` to drop a second copy (at least 600).
    pub duplicate_window_secs: u64,
    /// Events published per round (their acks are awaited together).
    pub batch_size: i32,
    /// How long a publisher holds claimed events; after it another may publish them again.
    pub lease_secs: u64,
    /// How long to wait for the server's ack of a message.
    pub ack_timeout_secs: u64,
    /// How often the publisher looks for events when nothing wakes it.
    pub poll_ms: u64,
}

impl Default for NatsSettings {
    fn default() -> Self {
        NatsSettings {
            url: None,
            stream: "TENPO".into(),
            subject_prefix: "tenpo".into(),
            max_age_secs: 7 * 86_400,
            duplicate_window_secs: 20 * 60,
            batch_size: 256,
            lease_secs: 30,
            ack_timeout_secs: 5,
            poll_ms: 1000,
        }
    }
}

impl NatsSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.stream.is_empty() || self.stream.contains(['.', ' ', '*', '>', '\t', '/', '\\']) {
            return Err(format!("stream {:?}: a name without spaces, dots, wildcards or slashes", self.stream));
        }
        if self.subject_prefix.is_empty()
            || !self.subject_prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(format!("subject_prefix {:?}: one token of letters, digits, _ or -", self.subject_prefix));
        }
        if self.duplicate_window_secs < 600 {
            return Err("duplicate_window_secs must be at least 600 (10 minutes)".into());
        }
        if self.max_age_secs != 0 && self.max_age_secs < self.duplicate_window_secs {
            return Err("max_age_secs must be 0 (forever) or at least duplicate_window_secs".into());
        }
        if self.batch_size <= 0 || self.lease_secs == 0 || self.ack_timeout_secs == 0 {
            return Err("batch_size, lease_secs and ack_timeout_secs must be positive".into());
        }
        if self.lease_secs <= self.ack_timeout_secs {
            return Err("lease_secs must be above ack_timeout_secs".into());
        }
        Ok(())
    }
}
