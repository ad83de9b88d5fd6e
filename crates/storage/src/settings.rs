//! Configuration, meant to be embedded in the binary's settings as a `[storage]` table.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Where objects live. Stored in the `provider` column of `digital_assets` and
/// `digital_deliveries` as [`Provider::as_str`] (`local`, `s3`, `gcs`; the column's `other` is
/// never produced by this crate).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Files under a local directory, served by Tenpo itself through HMAC-signed URLs.
    #[default]
    Local,
    /// Amazon S3 or an S3-compatible service.
    S3,
    /// Google Cloud Storage.
    Gcs,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::S3 => "s3",
            Provider::Gcs => "gcs",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(Provider::Local),
            "s3" => Ok(Provider::S3),
            "gcs" => Ok(Provider::Gcs),
            other => Err(format!("unknown storage provider {other:?} (local, s3 or gcs)")),
        }
    }
}

/// A secret string: deserialised like a string, never printed by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The `[storage]` settings. Every field has a default, so an empty table (or none) means local
/// storage under `<data dir>/objects`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// `local` (default), `s3` or `gcs`. Its table (`local`, `s3`, `gcs`) configures it.
    pub provider: Provider,
    /// Largest object `put` accepts, in bytes (default 2 GiB).
    pub max_object_bytes: u64,
    /// Lifetime of a download URL, in seconds, unless the delivery expires sooner (default 300;
    /// at most 604800, the clouds' limit).
    pub download_url_ttl_secs: u64,
    pub local: LocalSettings,
    pub s3: Option<S3Settings>,
    pub gcs: Option<GcsSettings>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            provider: Provider::Local,
            max_object_bytes: 2 * 1024 * 1024 * 1024,
            download_url_ttl_secs: 300,
            local: LocalSettings::default(),
            s3: None,
            gcs: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LocalSettings {
    /// Directory of the objects (default `<data dir>/objects`).
    pub dir: Option<PathBuf>,
    /// Key of the HMAC that signs download URLs, at least 32 characters. When absent, a random
    /// key is generated once and kept in `<data dir>/storage-signing.key`; set it explicitly
    /// when several Tenpo processes serve the same files.
    pub signing_secret: Option<Secret>,
    /// Where Tenpo serves the files: a path (`/files`, the default, for a redirect relative to
    /// the API's origin) or an absolute URL (`https://shop.example.com/files`). Download URLs
    /// are `<url_prefix>/<key>?expires=..&sig=..`.
    pub url_prefix: String,
}

impl Default for LocalSettings {
    fn default() -> Self {
        LocalSettings { dir: None, signing_secret: None, url_prefix: "/files".into() }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Endpoint of an S3-compatible service (`http://127.0.0.1:9000`); absent for AWS, where it
    /// is `https://s3.<region>.amazonaws.com`.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Region, part of every signature (default `us-east-1`, which most S3-compatible services
    /// accept).
    #[serde(default = "default_region")]
    pub region: String,
    pub bucket: String,
    pub access_key_id: String,
    /// Name of the environment variable that holds the secret access key (default
    /// `TENPO_S3_SECRET_ACCESS_KEY`); the secret itself is never in the file.
    #[serde(default = "default_s3_secret_env")]
    pub secret_access_key_env: String,
    /// Name of an environment variable holding a session token, for temporary credentials.
    #[serde(default)]
    pub session_token_env: Option<String>,
    /// `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`; most
    /// S3-compatible services want it (default false).
    #[serde(default)]
    pub path_style: bool,
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_s3_secret_env() -> String {
    "TENPO_S3_SECRET_ACCESS_KEY".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcsSettings {
    pub bucket: String,
    /// A service account's JSON key file: it authenticates the transfers and signs the URLs.
    pub credentials_file: PathBuf,
}
