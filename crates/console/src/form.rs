//! Posted form fields (`application/x-www-form-urlencoded`), repeated names kept (checkbox
//! lists), and the turning of text fields into the domain's input types.

use axum::http::StatusCode;
use kernel::{FieldError, Money};

use crate::error::Failure;

#[derive(Debug, Clone, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses a form body. Text PostgreSQL cannot store (NUL) is refused here, for every field.
    pub fn parse(body: &[u8]) -> Result<Fields, Failure> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        if pairs.iter().any(|(k, v)| k.contains('\0') || v.contains('\0')) {
            return Err(Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "fields must not contain the NUL character",
            ));
        }
        Ok(Fields(pairs))
    }

    /// Fields from pairs (a form filled in with what is stored).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Fields {
        Fields(pairs)
    }

    /// The field's value ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    /// The field's value trimmed, or None when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        let v = self.get(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    /// Every value of a repeated field (checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        matches!(self.get(name), "on" | "true" | "1")
    }
}

/// Collects the field errors of reading a form's text into the domain's types, to report them
/// all at once (before the domain is called).
#[derive(Default)]
pub struct Reading(Vec<FieldError>);

impl Reading {
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    pub fn done(self) -> Result<(), Failure> {
        if self.0.is_empty() { Ok(()) } else { Err(Failure::invalid(self.0)) }
    }
}

/// One part of a `multipart/form-data` body: a text field or an uploaded file.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    /// The file's name, for a file input.
    pub filename: Option<String>,
    /// The part's `Content-Type`, as the browser sent it (a file's type by its name).
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

/// The boundary of a `multipart/form-data` Content-Type, if it is one.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a `multipart/form-data` body (RFC 7578) into its parts: what a browser sends for a
/// form with a file input. What is not such a body is a 400.
pub fn multipart(body: &[u8], boundary: &str) -> Result<Vec<Part>, Failure> {
    let bad = || Failure::new(StatusCode::BAD_REQUEST, "invalid_body", "the form's multipart body is malformed");
    if boundary.is_empty() || boundary.len() > 200 {
        return Err(bad());
    }
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let mut at = find(body, d, 0).ok_or_else(bad)? + d.len();
    let mut out = Vec::new();
    loop {
        if body[at..].starts_with(b"--") {
            return Ok(out);
        }
        if !body[at..].starts_with(b"\r\n") {
            return Err(bad());
        }
        at += 2;
        let head_end = find(body, b"\r\n\r\n", at).ok_or_else(bad)?;
        let head = std::str::from_utf8(&body[at..head_end]).map_err(|_| bad())?;
        let next = find(body, &[b"\r\n", d].concat(), head_end + 4).ok_or_else(bad)?;
        let data = body[head_end + 4..next].to_vec();
        at = next + 2 + d.len();
        let header = |name: &str| {
            head.split("\r\n").find_map(|line| {
                let (k, v) = line.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then_some(v)
            })
        };
        let disposition = header("content-disposition").ok_or_else(bad)?;
        let content_type = header("content-type").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let param = |key: &str| {
            disposition.split(';').find_map(|p| {
                let (k, v) = p.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        let name = param("name").ok_or_else(bad)?;
        let filename = param("filename");
        if name.contains('\0') || filename.as_deref().is_some_and(|f| f.contains('\0')) {
            return Err(bad());
        }
        out.push(Part { name, filename, content_type, data });
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() {
        return None;
    }
    hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from)
}

/// A whole number typed by a person ("１２", " 12 ", "-3"); what is no number is a field error.
pub fn int(field: &str, raw: &str) -> Result<i32, FieldError> {
    let folded = kernel::jp::fold_width(raw);
    let cleaned: String = folded.trim().chars().filter(|c| *c != ',').collect();
    match cleaned.parse::<i32>() {
        Ok(n) => Ok(n),
        Err(_) if cleaned.is_empty() => Err(FieldError::new(field, "required", "must not be empty")),
        Err(_) => Err(FieldError::new(field, "invalid", "must be a whole number")),
    }
}

/// A yen amount typed by a person: "1,200", "１２００", "¥1200" and "1200円" all read as 1200.
/// What is no amount is the field error the API gives for a value of the wrong type.
pub fn yen(field: &str, raw: &str) -> Result<Money, FieldError> {
    let folded = kernel::jp::fold_width(raw);
    let cleaned: String =
        folded.trim().trim_start_matches('¥').trim_end_matches('円').chars().filter(|c| *c != ',').collect();
    match cleaned.trim().parse::<i64>() {
        Ok(n) => Ok(Money::jpy(n)),
        Err(_) if cleaned.trim().is_empty() => Err(FieldError::new(field, "required", "must not be empty")),
        Err(_) => Err(FieldError::new(field, "invalid", "must be a whole number of yen")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_people_type_them() {
        for raw in ["1200", "1,200", "１２００", "¥1,200", "1200円", " 1200 "] {
            assert_eq!(yen("received", raw).unwrap(), Money::jpy(1200), "{raw}");
        }
        assert_eq!(yen("received", "").unwrap_err().code, "required");
        assert_eq!(yen("received", "twelve").unwrap_err().code, "invalid");
    }

    #[test]
    fn multipart_bodies_as_browsers_send_them() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nabc\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\nContent-Type: text/csv\r\n\r\nHandle,Title\r\ntea,Tea\r\n\r\n--XyZ--\r\n";
        let b = multipart_boundary("multipart/form-data; boundary=XyZ").unwrap();
        let parts = multipart(body, &b).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!((parts[0].name.as_str(), parts[0].data.as_slice()), ("_csrf", b"abc".as_slice()));
        assert_eq!(parts[1].filename.as_deref(), Some("p.csv"));
        assert_eq!(parts[1].content_type.as_deref(), Some("text/csv"));
        assert_eq!(parts[1].data, b"Handle,Title\r\ntea,Tea\r\n");
        assert!(multipart(b"garbage", "XyZ").is_err());
        assert!(multipart_boundary("application/x-www-form-urlencoded").is_none());
        assert_eq!(int("q", "１２").unwrap(), 12);
        assert_eq!(int("q", "-3").unwrap(), -3);
        assert_eq!(int("q", "x").unwrap_err().message, "must be a whole number");
    }

    #[test]
    fn repeated_fields_are_kept_and_nul_refused() {
        let f = Fields::parse(b"order=a&order=b&_csrf=x").unwrap();
        assert_eq!(f.all("order"), vec!["a", "b"]);
        assert_eq!(f.get("missing"), "");
        assert!(Fields::parse(b"name=a%00b").is_err());
    }
}
