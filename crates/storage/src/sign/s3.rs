//! AWS Signature Version 4 query-string presigning ("presigned URLs") for S3 GET requests.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{MAX_EXPIRES_SECS, canonical_query, canonical_request, host_header, sha256_hex, uri_encode};
use crate::StorageError;
use crate::settings::Secret;

/// Presigns S3 GET URLs with static credentials at a given instant.
///
/// `bucket_url` is where the bucket's objects live: `https://examplebucket.s3.amazonaws.com`
/// (virtual-hosted style) or `http://127.0.0.1:4568/examplebucket` (path style); an object's URL
/// is that plus `/` and its encoded key.
///
/// ```
/// # use tenpo_storage::sign::S3Presigner;
/// let signer = S3Presigner::new(
///     "https://examplebucket.s3.amazonaws.com",
///     "us-east-1",
///     "AKIAIOSFODNN7EXAMPLE",
///     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
///     None,
/// )
/// .unwrap();
/// let at = "2013-05-24T00:00:00Z".parse().unwrap();
/// let url = signer.presign_get("test.txt", &[], at, 86_400).unwrap();
/// assert!(url.ends_with("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"));
/// ```
#[derive(Clone)]
pub struct S3Presigner {
    scheme: String,
    host: String,
    base_path: String,
    region: String,
    access_key_id: String,
    secret_access_key: Secret,
    session_token: Option<Secret>,
}

impl std::fmt::Debug for S3Presigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Presigner")
            .field("bucket_url", &format!("{}://{}{}", self.scheme, self.host, self.base_path))
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl S3Presigner {
    pub fn new(
        bucket_url: &str,
        region: &str,
        access_key_id: &str,
        secret_access_key: &str,
        session_token: Option<&str>,
    ) -> Result<Self, StorageError> {
        let url = url::Url::parse(bucket_url)
            .map_err(|e| StorageError::Config(format!("S3 bucket URL {bucket_url:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
            return Err(StorageError::Config(format!("S3 bucket URL {bucket_url:?} must be http(s) without a query")));
        }
        let host = host_header(&url)
            .ok_or_else(|| StorageError::Config(format!("S3 bucket URL {bucket_url:?} has no host")))?;
        if region.is_empty() || access_key_id.is_empty() || secret_access_key.is_empty() {
            return Err(StorageError::Config(
                "S3 presigning needs a region, an access key id and a secret access key".into(),
            ));
        }
        Ok(S3Presigner {
            scheme: url.scheme().to_string(),
            host,
            base_path: url.path().trim_end_matches('/').to_string(),
            region: region.to_string(),
            access_key_id: access_key_id.to_string(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: session_token.map(Secret::new),
        })
    }

    /// A GET URL for `key`, signed at `now`, valid for `expires_in_secs` (1 to 604800) seconds
    /// from `now` truncated to the second. `extra_query` parameters (such as
    /// `response-content-disposition`) are signed too.
    pub fn presign_get(
        &self,
        key: &str,
        extra_query: &[(&str, &str)],
        now: DateTime<Utc>,
        expires_in_secs: u64,
    ) -> Result<String, StorageError> {
        if !(1..=MAX_EXPIRES_SECS).contains(&expires_in_secs) {
            return Err(StorageError::InvalidExpiry(format!(
                "X-Amz-Expires must be 1 to {MAX_EXPIRES_SECS} seconds, not {expires_in_secs}"
            )));
        }
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = now.format("%Y%m%d").to_string();
        let scope = format!("{date}/{}/s3/aws4_request", self.region);

        let mut params: Vec<(String, String)> = vec![
            ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
            ("X-Amz-Credential".into(), format!("{}/{scope}", self.access_key_id)),
            ("X-Amz-Date".into(), amz_date.clone()),
            ("X-Amz-Expires".into(), expires_in_secs.to_string()),
            ("X-Amz-SignedHeaders".into(), "host".into()),
        ];
        if let Some(token) = &self.session_token {
            params.push(("X-Amz-Security-Token".into(), token.expose().to_string()));
        }
        params.extend(extra_query.iter().map(|(k, v)| (k.to_string(), v.to_string())));

        let canonical_uri = format!("{}/{}", self.base_path, uri_encode(key, true));
        let query = canonical_query(&params);
        let request = canonical_request("GET", &canonical_uri, &query, &self.host);
        let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(request.as_bytes()));

        let mut k = hmac(format!("AWS4{}", self.secret_access_key.expose()).as_bytes(), date.as_bytes());
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            k = hmac(&k, part.as_bytes());
        }
        let signature = hex::encode(hmac(&k, string_to_sign.as_bytes()));
        Ok(format!("{}://{}{canonical_uri}?{query}&X-Amz-Signature={signature}", self.scheme, self.host))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}
