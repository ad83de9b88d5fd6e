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
    fn repeated_fields_are_kept_and_nul_refused() {
        let f = Fields::parse(b"order=a&order=b&_csrf=x").unwrap();
        assert_eq!(f.all("order"), vec!["a", "b"]);
        assert_eq!(f.get("missing"), "");
        assert!(Fields::parse(b"name=a%00b").is_err());
    }
}
