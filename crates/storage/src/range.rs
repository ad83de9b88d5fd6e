//! HTTP `Range` / `If-Range` handling for serving local files (RFC 9110 §14).

use chrono::{DateTime, NaiveDateTime, Utc};

/// Bytes `start..end` (end exclusive) of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

/// What to send for a `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeDecision {
    /// No range, an invalid one, or several: 200 with the whole file.
    Full,
    /// 206 with these bytes.
    Partial(ByteRange),
    /// 416 with `Content-Range: bytes */<len>`.
    Unsatisfiable,
}

impl RangeDecision {
    /// Decides for a `Range` header value over a file of `len` bytes. Only single `bytes` ranges
    /// are served partially; a header that does not parse is ignored, as RFC 9110 requires.
    pub fn of(header: Option<&str>, len: u64) -> RangeDecision {
        let Some(header) = header else {
            return RangeDecision::Full;
        };
        let Some((unit, set)) = header.trim().split_once('=') else {
            return RangeDecision::Full;
        };
        if !unit.trim().eq_ignore_ascii_case("bytes") {
            return RangeDecision::Full;
        }
        let specs: Vec<&str> = set.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
        let [spec] = specs.as_slice() else {
            return RangeDecision::Full;
        };
        let Some((first, last)) = spec.split_once('-') else {
            return RangeDecision::Full;
        };
        let (first, last) = (first.trim(), last.trim());
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if first.is_empty() {
            // suffix range: the last N bytes
            if !digits(last) {
                return RangeDecision::Full;
            }
            let Ok(n) = last.parse::<u64>() else {
                return RangeDecision::Full;
            };
            if n == 0 || len == 0 {
                return RangeDecision::Unsatisfiable;
            }
            return RangeDecision::Partial(ByteRange { start: len.saturating_sub(n), end: len });
        }
        if !digits(first) || !(last.is_empty() || digits(last)) {
            return RangeDecision::Full;
        }
        let Ok(start) = first.parse::<u64>() else {
            return RangeDecision::Unsatisfiable;
        };
        let end_inclusive = if last.is_empty() {
            u64::MAX
        } else {
            match last.parse::<u64>() {
                Ok(l) if l < start => return RangeDecision::Full,
                Ok(l) => l,
                Err(_) => u64::MAX,
            }
        };
        if start >= len {
            return RangeDecision::Unsatisfiable;
        }
        RangeDecision::Partial(ByteRange { start, end: end_inclusive.min(len - 1) + 1 })
    }
}

/// Whether an `If-Range` precondition lets the `Range` apply: a strong entity tag equal to
/// `etag`, or an HTTP date equal to `modified` (to the second). Anything else means "send the
/// whole file".
pub fn if_range_allows(if_range: &str, etag: &str, modified: Option<DateTime<Utc>>) -> bool {
    let cond = if_range.trim();
    if cond.starts_with('"') || cond.starts_with("W/") {
        return cond == etag;
    }
    match (parse_http_date(cond), modified) {
        (Some(date), Some(m)) => date.timestamp() == m.timestamp(),
        _ => false,
    }
}

const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

/// IMF-fixdate, as in `Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format(HTTP_DATE).to_string()
}

fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, HTTP_DATE).ok().map(|d| d.and_utc())
}

#[cfg(test)]
mod tests {
    use super::RangeDecision::*;
    use super::*;

    fn part(start: u64, end: u64) -> RangeDecision {
        Partial(ByteRange { start, end })
    }

    #[test]
    fn single_ranges() {
        assert_eq!(RangeDecision::of(None, 10), Full);
        assert_eq!(RangeDecision::of(Some("bytes=0-0"), 10), part(0, 1));
        assert_eq!(RangeDecision::of(Some("bytes=2-5"), 10), part(2, 6));
        assert_eq!(RangeDecision::of(Some("bytes=2-"), 10), part(2, 10));
        assert_eq!(RangeDecision::of(Some("bytes=2-100"), 10), part(2, 10));
        assert_eq!(RangeDecision::of(Some("bytes=-3"), 10), part(7, 10));
        assert_eq!(RangeDecision::of(Some("bytes=-30"), 10), part(0, 10));
        assert_eq!(RangeDecision::of(Some("Bytes = 1-2"), 10), part(1, 3));
        assert_eq!(RangeDecision::of(Some("bytes=0-99999999999999999999999"), 10), part(0, 10));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(RangeDecision::of(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(RangeDecision::of(Some("bytes=10-20"), 10), Unsatisfiable);
        assert_eq!(RangeDecision::of(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(RangeDecision::of(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(RangeDecision::of(Some("bytes=-5"), 0), Unsatisfiable);
    }

    #[test]
    fn ignored_ranges() {
        for h in ["items=0-1", "bytes=5-2", "bytes=a-b", "bytes=0-1,3-4", "bytes=", "bytes=-", "0-1", "bytes=1-2-3"] {
            assert_eq!(RangeDecision::of(Some(h), 10), Full, "{h}");
        }
    }

    #[test]
    fn if_range() {
        let m = "2026-01-02T03:04:05Z".parse::<DateTime<Utc>>().unwrap();
        assert_eq!(http_date(m), "Fri, 02 Jan 2026 03:04:05 GMT");
        assert!(if_range_allows("\"abc\"", "\"abc\"", Some(m)));
        assert!(!if_range_allows("\"abd\"", "\"abc\"", Some(m)));
        assert!(!if_range_allows("W/\"abc\"", "\"abc\"", Some(m)));
        assert!(if_range_allows("Fri, 02 Jan 2026 03:04:05 GMT", "\"abc\"", Some(m)));
        assert!(!if_range_allows("Fri, 02 Jan 2026 03:04:06 GMT", "\"abc\"", Some(m)));
        assert!(!if_range_allows("yesterday", "\"abc\"", Some(m)));
    }
}
