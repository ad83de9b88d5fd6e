//! Google Cloud Storage V4 signed URLs (`GOOG4-RSA-SHA256`) with a service account's key.

use base64::Engine;
use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

use super::{MAX_EXPIRES_SECS, canonical_query, canonical_request, host_header, sha256_hex, uri_encode};
use crate::StorageError;

/// Signs GCS GET URLs with a service account's private key, at a given instant.
///
/// Built from the service account's JSON key file (`client_email` and the PKCS#8
/// `private_key`). URLs are path-style: `https://storage.googleapis.com/<bucket>/<object>`.
pub struct GcsSigner {
    client_email: String,
    key: RsaKeyPair,
    rng: SystemRandom,
    scheme: String,
    host: String,
}

impl std::fmt::Debug for GcsSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsSigner")
            .field("client_email", &self.client_email)
            .field("endpoint", &format!("{}://{}", self.scheme, self.host))
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
}

impl GcsSigner {
    /// From the text of a service account JSON key file.
    pub fn from_service_account_json(json: &str) -> Result<Self, StorageError> {
        let sa: ServiceAccountKey = serde_json::from_str(json).map_err(|e| {
            StorageError::Config(format!(
                "GCS credentials are not a service account key (client_email, private_key): {e}"
            ))
        })?;
        Self::new(&sa.client_email, &sa.private_key)
    }

    /// From a service account's email and its PEM `-----BEGIN PRIVATE KEY-----` (PKCS#8) key.
    pub fn new(client_email: &str, private_key_pem: &str) -> Result<Self, StorageError> {
        let body: String = private_key_pem
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| *l != "-----END PRIVATE KEY-----")
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| StorageError::Config("GCS private_key is not a PEM PKCS#8 private key".into()))?;
        let key = RsaKeyPair::from_pkcs8(&der)
            .map_err(|e| StorageError::Config(format!("GCS private_key is not a usable RSA key: {e}")))?;
        Ok(GcsSigner {
            client_email: client_email.to_string(),
            key,
            rng: SystemRandom::new(),
            scheme: "https".into(),
            host: "storage.googleapis.com".into(),
        })
    }

    /// Signs for another endpoint than `https://storage.googleapis.com` (an emulator).
    pub fn with_endpoint(mut self, endpoint: &str) -> Result<Self, StorageError> {
        let url =
            url::Url::parse(endpoint).map_err(|e| StorageError::Config(format!("GCS endpoint {endpoint:?}: {e}")))?;
        self.host =
            host_header(&url).ok_or_else(|| StorageError::Config(format!("GCS endpoint {endpoint:?} has no host")))?;
        self.scheme = url.scheme().to_string();
        Ok(self)
    }

    /// The service account the URLs are signed as.
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// A GET URL for `object` in `bucket`, signed at `now`, valid for `expires_in_secs`
    /// (1 to 604800) seconds. `extra_query` parameters (such as `response-content-disposition`)
    /// are signed too.
    pub fn presign_get(
        &self,
        bucket: &str,
        object: &str,
        extra_query: &[(&str, &str)],
        now: DateTime<Utc>,
        expires_in_secs: u64,
    ) -> Result<String, StorageError> {
        if !(1..=MAX_EXPIRES_SECS).contains(&expires_in_secs) {
            return Err(StorageError::InvalidExpiry(format!(
                "X-Goog-Expires must be 1 to {MAX_EXPIRES_SECS} seconds, not {expires_in_secs}"
            )));
        }
        let goog_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let scope = format!("{}/auto/storage/goog4_request", now.format("%Y%m%d"));

        let mut params: Vec<(String, String)> = vec![
            ("X-Goog-Algorithm".into(), "GOOG4-RSA-SHA256".into()),
            ("X-Goog-Credential".into(), format!("{}/{scope}", self.client_email)),
            ("X-Goog-Date".into(), goog_date.clone()),
            ("X-Goog-Expires".into(), expires_in_secs.to_string()),
            ("X-Goog-SignedHeaders".into(), "host".into()),
        ];
        params.extend(extra_query.iter().map(|(k, v)| (k.to_string(), v.to_string())));

        let canonical_uri = format!("/{}/{}", uri_encode(bucket, false), uri_encode(object, true));
        let query = canonical_query(&params);
        let request = canonical_request("GET", &canonical_uri, &query, &self.host);
        let string_to_sign = format!("GOOG4-RSA-SHA256\n{goog_date}\n{scope}\n{}", sha256_hex(request.as_bytes()));

        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, string_to_sign.as_bytes(), &mut signature)
            .map_err(|_| StorageError::Config("RSA signing failed".into()))?;
        Ok(format!(
            "{}://{}{canonical_uri}?{query}&X-Goog-Signature={}",
            self.scheme,
            self.host,
            hex::encode(signature)
        ))
    }
}
