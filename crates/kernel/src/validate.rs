//! Field validation that collects every problem in a request before answering, so a caller
//! fixes a form in one round trip.

use crate::problem::{FieldError, Problem};

/// A set of field errors; a 422 with code `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe(.0))]
pub struct ValidationErrors(pub Vec<FieldError>);

fn describe(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("{}: {}", one.field, one.message),
        many => format!("{} fields are invalid", many.len()),
    }
}

impl ValidationErrors {
    pub fn one(field: &str, code: &str, message: impl Into<String>) -> Self {
        ValidationErrors(vec![FieldError::new(field, code, message)])
    }
}

impl Problem for ValidationErrors {
    fn status(&self) -> u16 {
        422
    }
    fn code(&self) -> &'static str {
        "validation_failed"
    }
    fn fields(&self) -> Vec<FieldError> {
        self.0.clone()
    }
}

/// Collects field errors while input is parsed into domain types.
#[derive(Debug, Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: &str, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, code, message));
    }

    /// Records the result of a parse; returns the value when it parsed.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.push(field, "invalid", e.to_string());
                None
            }
        }
    }

    /// A required text field: trimmed, non-empty, at most `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) -> String {
        let v = value.trim();
        if v.is_empty() {
            self.push(field, "required", "must not be empty");
        } else if v.chars().count() > max {
            self.push(field, "too_long", format!("must be at most {max} characters"));
        }
        v.to_string()
    }

    /// An optional text field: trimmed; empty becomes `None`; at most `max` characters.
    pub fn opt_text(&mut self, field: &str, value: Option<&str>, max: usize) -> Option<String> {
        let v = value.map(str::trim).filter(|v| !v.is_empty())?;
        if v.chars().count() > max {
            self.push(field, "too_long", format!("must be at most {max} characters"));
        }
        Some(v.to_string())
    }

    /// An integer within an inclusive range.
    pub fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, field: &str, value: T, min: T, max: T) -> T {
        if value < min || value > max {
            self.push(field, "out_of_range", format!("must be between {min} and {max}"));
        }
        value
    }

    /// Whether `field` already has an error.
    pub fn has(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok(value)` when no field failed.
    pub fn finish<T>(self, value: T) -> Result<T, ValidationErrors> {
        if self.errors.is_empty() { Ok(value) } else { Err(ValidationErrors(self.errors)) }
    }

    pub fn into_result(self) -> Result<(), ValidationErrors> {
        self.finish(())
    }
}

/// For `#[serde(default, deserialize_with = "kernel::validate::nullable")]` on an
/// `Option<Option<T>>` field of a JSON patch: tells "absent" (`None`: leave as is) from `null`
/// (`Some(None)`: clear).
pub fn nullable<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_field() {
        let mut v = Validator::new();
        v.text("name", "  ", 10);
        v.text("title", "abcdefghijk", 10);
        let ok = v.text("city", " 渋谷区 ", 10);
        assert_eq!(ok, "渋谷区");
        let err = v.into_result().unwrap_err();
        let codes: Vec<_> = err.0.iter().map(|e| (e.field.as_str(), e.code.as_str())).collect();
        assert_eq!(codes, [("name", "required"), ("title", "too_long")]);
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut v = Validator::new();
        v.text("name", "東京都渋谷区", 6);
        assert!(v.is_ok());
    }
}
