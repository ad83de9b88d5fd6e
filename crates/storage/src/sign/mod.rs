//! Query-string signing for download URLs, with the clock as a parameter.
//!
//! [`S3Presigner`] (AWS Signature Version 4) and [`GcsSigner`] (Google's V4 signing,
//! `GOOG4-RSA-SHA256`) share the V4 canonical-request scheme implemented here. They are public
//! so that known-answer vectors can be checked against them directly; application code goes
//! through [`Storage::download_url`](crate::Storage::download_url).

mod gcs;
mod s3;

pub use gcs::GcsSigner;
pub use s3::S3Presigner;

use sha2::{Digest, Sha256};

/// The longest validity either cloud accepts for a V4 signed URL: 7 days.
pub const MAX_EXPIRES_SECS: u64 = 604_800;

/// Percent-encodes everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`),
/// with upper-case hex, as both V4 schemes require; `/` is kept when `keep_slash` (paths).
pub(crate) fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for &b in input.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// The canonical query string: names and values encoded, sorted by name then value, joined.
pub(crate) fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> =
        params.iter().map(|(k, v)| (uri_encode(k, false), uri_encode(v, false))).collect();
    encoded.sort();
    encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The canonical request of a presigned URL whose only signed header is `host` and whose
/// payload is not signed (the form both S3 and GCS use for query-string authentication).
pub(crate) fn canonical_request(method: &str, canonical_uri: &str, canonical_query: &str, host: &str) -> String {
    format!("{method}\n{canonical_uri}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD")
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `host` or `host:port` of a URL, as the `host` header carries it (default ports omitted).
pub(crate) fn host_header(url: &url::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_rfc3986() {
        assert_eq!(uri_encode("a-b_c.d~e", false), "a-b_c.d~e");
        assert_eq!(uri_encode("a/b c", true), "a/b%20c");
        assert_eq!(uri_encode("a/b c", false), "a%2Fb%20c");
        assert_eq!(uri_encode("soufflé", false), "souffl%C3%A9");
        assert_eq!(uri_encode("=%+", false), "%3D%25%2B");
    }

    #[test]
    fn canonical_query_sorts_encoded_names() {
        let q = canonical_query(&[
            ("prefix".into(), "/foo".into()),
            ("X-Goog-Meta-Foo".into(), "bar".into()),
            ("X-Goog-Algorithm".into(), "GOOG4-RSA-SHA256".into()),
        ]);
        assert_eq!(q, "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Meta-Foo=bar&prefix=%2Ffoo");
    }
}
