//! Object keys: the names objects are stored under, the same on every backend.

use std::fmt;
use std::str::FromStr;

/// The name of a stored object, such as `t/0190.../assets/0190.../0190...`.
///
/// A key is 1 to [`ObjectKey::MAX_LEN`] bytes of `/`-separated segments. Each segment is
/// non-empty, made of ASCII letters, digits, `-`, `_` and `.`, and does not start with `.`
/// (so no `.`/`..`, nothing hidden, and no clash with the staging files of the local backend).
/// Keys so restricted are valid S3 and GCS object names and safe file paths, and need no
/// escaping in URLs. The `object_key` column of `digital_assets`/`digital_deliveries` holds
/// [`ObjectKey::as_str`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey(String);

/// Why a string is not an [`ObjectKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object key: {0}")]
pub struct InvalidKey(&'static str);

impl ObjectKey {
    /// The longest key, in bytes (the `object_key` column allows 1024 characters).
    pub const MAX_LEN: usize = 1024;

    /// Checks `key` against the rules above.
    pub fn parse(key: impl Into<String>) -> Result<Self, InvalidKey> {
        let key = key.into();
        if key.is_empty() {
            return Err(InvalidKey("empty"));
        }
        if key.len() > Self::MAX_LEN {
            return Err(InvalidKey("longer than 1024 bytes"));
        }
        for segment in key.split('/') {
            if segment.is_empty() {
                return Err(InvalidKey("empty segment (leading, trailing or double '/')"));
            }
            if segment.starts_with('.') {
                return Err(InvalidKey("a segment starts with '.'"));
            }
            if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
                return Err(InvalidKey("only ASCII letters, digits, '-', '_', '.' and '/' are allowed"));
            }
        }
        Ok(ObjectKey(key))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn to_path(&self) -> object_store::path::Path {
        // Every character is legal in an object_store path, so this cannot fail or re-encode.
        object_store::path::Path::from(self.0.as_str())
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl FromStr for ObjectKey {
    type Err = InvalidKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ObjectKey::parse(s)
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = InvalidKey;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        ObjectKey::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        for k in ["a", "test.txt", "t/0190a/assets/x_y-z.pdf", "A/B/c.d.e"] {
            assert_eq!(ObjectKey::parse(k).unwrap().as_str(), k);
            assert_eq!(ObjectKey::parse(k).unwrap().to_path().as_ref(), k);
        }
        assert!(ObjectKey::parse("a".repeat(1024)).is_ok());
    }

    #[test]
    fn refuses_unsafe_keys() {
        for k in [
            "", "/a", "a/", "a//b", "../a", "a/../b", ".hidden", "a/.b", "a b", "a#1", "a?b", "a%2F", "a\\b", "日本",
            "a\nb", "a=b",
        ] {
            assert!(ObjectKey::parse(k).is_err(), "{k:?} should be refused");
        }
        assert!(ObjectKey::parse("a".repeat(1025)).is_err());
    }
}
