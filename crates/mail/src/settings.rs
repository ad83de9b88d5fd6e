//! SMTP settings (`[mail]` in the configuration file, `TENPO_SMTP_*` in the environment).

use std::time::Duration;

use serde::Deserialize;

/// How the connection to the SMTP server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain text (a relay on the same host or network only).
    None,
    /// Plain connection upgraded with STARTTLS, required (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

impl std::str::FromStr for TlsMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "plain" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::Starttls),
            "tls" | "smtps" => Ok(TlsMode::Tls),
            other => Err(format!("{other:?}: use none, starttls or tls")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The SMTP server; sending is off without it.
    pub smtp_host: Option<String>,
    /// Default by TLS mode: 25 (none), 587 (starttls), 465 (tls).
    pub smtp_port: Option<u16>,
    pub tls: TlsMode,
    /// SMTP user, when the server wants authentication.
    pub username: Option<String>,
    /// The variable holding the SMTP password (never the password itself in the file).
    pub password_env: String,
    /// The envelope and `From` address, e.g. `shop@example.jp`; sending is off without it.
    pub from_address: Option<String>,
    /// How often the sender looks for due messages.
    pub poll_ms: u64,
    /// Attempts before a message is marked failed.
    pub max_attempts: i32,
    /// Connection and command timeout.
    pub timeout_secs: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            smtp_host: None,
            smtp_port: None,
            tls: TlsMode::Starttls,
            username: None,
            password_env: "TENPO_SMTP_PASSWORD".into(),
            from_address: None,
            poll_ms: 1000,
            max_attempts: 10,
            timeout_secs: 30,
        }
    }
}

impl MailSettings {
    /// Whether sending is configured; when not, says what is missing.
    pub fn enabled(&self) -> Result<(), &'static str> {
        match (&self.smtp_host, &self.from_address) {
            (Some(_), Some(_)) => Ok(()),
            (None, _) => Err("no SMTP host (mail.smtp_host / TENPO_SMTP_HOST)"),
            (_, None) => Err("no from address (mail.from_address / TENPO_MAIL_FROM)"),
        }
    }

    pub fn port(&self) -> u16 {
        self.smtp_port.unwrap_or(match self.tls {
            TlsMode::None => 25,
            TlsMode::Starttls => 587,
            TlsMode::Tls => 465,
        })
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }

    /// Checks the values that can be checked before connecting.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(from) = &self.from_address
            && from.parse::<lettre::Address>().is_err()
        {
            return Err(format!("mail from address {from:?} is not an email address"));
        }
        if self.max_attempts < 1 {
            return Err("mail.max_attempts must be at least 1".into());
        }
        Ok(())
    }
}
