//! What a download URL carries besides the key: the expiry, and the headers the file is served
//! with.

use chrono::{DateTime, Utc};

use crate::StorageError;

/// Response headers a signed download URL asks for. Both are signed into the URL, so a shopper
/// cannot change them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownloadOptions {
    /// The name the browser saves the file as (`Content-Disposition: attachment`), such as the
    /// asset's original filename; any Unicode (Japanese names included), 1 to 255 characters,
    /// no control characters.
    pub filename: Option<String>,
    /// `Content-Type` of the response, such as the asset's recorded content type.
    pub content_type: Option<String>,
}

impl DownloadOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StorageError> {
        if let Some(f) = &self.filename {
            validate_filename(f)?;
        }
        if let Some(ct) = &self.content_type {
            validate_content_type(ct)?;
        }
        Ok(())
    }

    /// The `Content-Disposition` value for the filename, if any.
    pub fn content_disposition(&self) -> Option<String> {
        self.filename.as_deref().map(content_disposition)
    }
}

/// A signed download URL and the instant it stops working (never later than asked for).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedUrl {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// Checks a content type such as `application/pdf` or `text/plain; charset=utf-8`: printable
/// ASCII, `type/subtype` made of token characters, at most 255 bytes.
pub fn validate_content_type(ct: &str) -> Result<(), StorageError> {
    let bad = |why: &str| Err(StorageError::InvalidContentType(format!("{why}: {ct:?}")));
    if ct.is_empty() || ct.len() > 255 {
        return bad("must be 1 to 255 bytes");
    }
    if !ct.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
        return bad("must be printable ASCII");
    }
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let is_token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    match essence.split_once('/') {
        Some((t, s)) if is_token(t) && is_token(s) => Ok(()),
        _ => bad("must be type/subtype"),
    }
}

pub(crate) fn validate_filename(name: &str) -> Result<(), StorageError> {
    let n = name.chars().count();
    if n == 0 || n > 255 {
        return Err(StorageError::InvalidFilename("must be 1 to 255 characters".into()));
    }
    if name.chars().any(char::is_control) {
        return Err(StorageError::InvalidFilename("must not contain control characters".into()));
    }
    Ok(())
}

/// `attachment; filename="..."`, adding RFC 6266's `filename*=UTF-8''...` when the name is not
/// plain ASCII (the plain form then carries an ASCII stand-in with `_` for the rest). The result
/// is always ASCII, so it is a valid header value.
pub fn content_disposition(filename: &str) -> String {
    let plain = |c: char| (c == ' ' || c.is_ascii_graphic()) && c != '"' && c != '\\';
    if filename.chars().all(plain) {
        return format!("attachment; filename=\"{filename}\"");
    }
    let fallback: String = filename.chars().map(|c| if plain(c) { c } else { '_' }).collect();
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{}", crate::sign::uri_encode(filename, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        for ok in ["application/pdf", "text/plain; charset=utf-8", "application/vnd.ms-excel", "audio/x-flac"] {
            assert!(validate_content_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "pdf", "text/", "/x", "text/plain\r\nX-Evil: 1", "テキスト/plain", "a b/c"] {
            assert!(validate_content_type(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("book.pdf"), "attachment; filename=\"book.pdf\"");
        assert_eq!(
            content_disposition("写真集 1.zip"),
            "attachment; filename=\"___ 1.zip\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%E9%9B%86%201.zip"
        );
        assert_eq!(content_disposition("a\"b.txt"), "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt");
        assert!(validate_filename("a\nb").is_err());
        assert!(validate_filename("").is_err());
        assert!(validate_filename(&"あ".repeat(255)).is_ok());
    }
}
