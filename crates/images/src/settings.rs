//! `[images]`: upload limit, the worker's pace and the Image Src downloader's bounds.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImageSettings {
    /// The largest image file accepted (upload or fetch), in bytes.
    pub max_bytes: u64,
    /// How often the worker looks for images to process when nothing wakes it.
    pub poll_ms: u64,
    /// How long a worker holds an image it works on before another may take it over.
    pub lease_secs: u64,
    /// Attempts (fetch, decode, store) before an image is marked failed.
    pub max_attempts: i32,
    /// The API's public origin (`https://api.example.com`), put before `/media/...` in an
    /// export's `Image Src`; unset, the export request's host (the CLI: relative paths).
    pub public_url: Option<String>,
    /// Fetching `Image Src` URLs of an imported CSV.
    pub fetch: FetchSettings,
}

impl Default for ImageSettings {
    fn default() -> Self {
        ImageSettings {
            max_bytes: 20 * 1024 * 1024,
            poll_ms: 500,
            lease_secs: 120,
            max_attempts: 5,
            public_url: None,
            fetch: FetchSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchSettings {
    pub connect_timeout_secs: u64,
    /// The whole request, body included.
    pub timeout_secs: u64,
    /// Redirects followed, each checked like the first URL.
    pub max_redirects: usize,
    /// Hosts (`name` or `name:port`) that may be fetched although they are on loopback or a
    /// private network, over plain http too (TENPO_IMAGES_FETCH_ALLOW_HOSTS, comma-separated).
    /// Empty by default: only public https URLs are fetched. For tests and private CDNs.
    pub allow_hosts: Vec<String>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings { connect_timeout_secs: 5, timeout_secs: 30, max_redirects: 3, allow_hosts: Vec::new() }
    }
}

impl ImageSettings {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes == 0 {
            return Err("images.max_bytes must be positive".into());
        }
        if self.max_attempts < 1 {
            return Err("images.max_attempts must be at least 1".into());
        }
        if self.lease_secs < 5 {
            return Err("images.lease_secs must be at least 5".into());
        }
        if self.fetch.timeout_secs == 0 || self.fetch.connect_timeout_secs == 0 {
            return Err("images.fetch timeouts must be positive".into());
        }
        Ok(())
    }
}
