use std::time::Duration;

use serde::Deserialize;

/// `[webhooks]` in the configuration (README, docs/WEBHOOKS.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// Allow URLs on loopback, private, link-local and metadata addresses, and plain `http`
    /// (tests, receivers on the premises). Off: such URLs are refused with a 422, and the
    /// worker refuses to connect to a name that resolves to one.
    pub allow_private_targets: bool,
    /// The waits between attempts, comma-separated (`5s,5m,30m,2h,...`; units ms, s, m, h, d).
    /// After the last wait's attempt fails, the delivery is given up.
    pub retry_schedule: String,
    /// Each wait is drawn from ±this percentage around its value.
    pub retry_jitter_percent: u32,
    /// How long a rotated-out secret keeps signing, unless the rotation says otherwise.
    pub rotation_overlap_secs: u64,
    /// An endpoint failing for this long without a success is disabled.
    pub disable_after_secs: u64,
    /// How long the delivery log keeps an attempt.
    pub log_retention_days: u32,
    /// Deliveries in flight at once, in all.
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one endpoint (across workers).
    pub max_per_endpoint: i32,
    /// How long a worker holds a claimed delivery; above the request timeout.
    pub lease_secs: u64,
    /// How often the worker looks for due deliveries when nothing wakes it.
    pub poll_ms: u64,
    pub connect_timeout_secs: u64,
    /// The whole request, from connecting to the last byte of the answer read.
    pub timeout_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            retry_schedule: "5s,5m,30m,2h,5h,10h,14h,20h,24h".into(),
            retry_jitter_percent: 10,
            rotation_overlap_secs: 24 * 3600,
            disable_after_secs: 3 * 86_400,
            log_retention_days: 30,
            max_in_flight: 32,
            max_per_endpoint: 4,
            lease_secs: 60,
            poll_ms: 1000,
            connect_timeout_secs: 5,
            timeout_secs: 15,
        }
    }
}

impl WebhookSettings {
    /// The retry schedule, parsed.
    pub fn schedule(&self) -> Result<Vec<Duration>, String> {
        self.retry_schedule
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(parse_duration)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("webhooks.retry_schedule: {e}"))
    }

    pub fn validate(&self) -> Result<(), String> {
        self.schedule()?;
        if self.max_in_flight == 0 || self.max_per_endpoint < 1 {
            return Err("webhooks.max_in_flight and webhooks.max_per_endpoint must be at least 1".into());
        }
        if self.lease_secs <= self.timeout_secs {
            return Err("webhooks.lease_secs must be longer than webhooks.timeout_secs".into());
        }
        if self.retry_jitter_percent > 50 {
            return Err("webhooks.retry_jitter_percent is at most 50".into());
        }
        Ok(())
    }
}

/// `500ms`, `5s`, `5m`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("{s:?} is not a duration like 5s or 2h"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{s:?}: the unit is ms, s, m, h or d")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_is_the_standard_webhooks_one() {
        let s = WebhookSettings::default().schedule().unwrap();
        let secs: Vec<u64> = s.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5 s").is_err() && parse_duration("5y").is_err() && parse_duration("s").is_err());
        assert!(WebhookSettings::default().validate().is_ok());
    }
}
