//! Cursor pagination: `?limit=&cursor=`; the answer carries `next_cursor` until the last page.
//!
//! A cursor is the sort key of the last row seen, serialised as JSON and base64url-encoded.
//! It is opaque to callers; a tampered or foreign cursor is a 400 `invalid_cursor`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::problem::Problem;

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageRequest {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the cursor is not one this endpoint issued")]
    InvalidCursor,
    #[error("limit must be between 1 and {MAX_LIMIT}")]
    InvalidLimit,
}

impl Problem for PageError {
    fn status(&self) -> u16 {
        400
    }
    fn code(&self) -> &'static str {
        match self {
            PageError::InvalidCursor => "invalid_cursor",
            PageError::InvalidLimit => "invalid_limit",
        }
    }
}

impl PageRequest {
    pub fn limit(&self) -> Result<u32, PageError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(PageError::InvalidLimit),
        }
    }

    /// The decoded cursor, if any. `K` is the sort key of the endpoint.
    pub fn after<K: DeserializeOwned>(&self) -> Result<Option<K>, PageError> {
        self.cursor.as_deref().map(Cursor::decode).transpose()
    }
}

pub struct Cursor;

impl Cursor {
    pub fn encode<K: Serialize>(key: &K) -> String {
        let json = serde_json::to_vec(key).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode<K: DeserializeOwned>(s: &str) -> Result<K, PageError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| PageError::InvalidCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| PageError::InvalidCursor)
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows fetched in order: the extra row, if present,
    /// only tells that another page exists.
    pub fn from_rows<K: Serialize>(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> K) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more { rows.last().map(|r| Cursor::encode(&key(r))) } else { None };
        Page { items: rows, next_cursor }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_from_rows_sets_cursor_only_when_more() {
        let p = Page::from_rows(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(p.items, vec![1, 2]);
        let next: i32 = Cursor::decode(p.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(next, 2);
        let last = Page::from_rows(vec![1, 2], 2, |n| *n);
        assert!(last.next_cursor.is_none());
    }

    #[test]
    fn garbage_cursor_is_rejected() {
        let req = PageRequest { limit: None, cursor: Some("%%%".into()) };
        assert!(matches!(req.after::<i64>(), Err(PageError::InvalidCursor)));
        let req = PageRequest { limit: Some(0), cursor: None };
        assert!(req.limit().is_err());
    }
}
