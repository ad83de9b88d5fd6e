//! What `tenpo check` reports. Each domain checks the invariants of its own tables (in the
//! transaction of one tenant) and answers what it looked at and what broke, in this shape.

use serde::Serialize;

/// One rule broken by one row (or group of rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// What broke it, as staff would name it: `order 1003`, `stock row <id>`.
    pub subject: String,
    /// How, with the numbers that disagree.
    pub detail: String,
}

impl Violation {
    pub fn new(subject: impl Into<String>, detail: impl Into<String>) -> Violation {
        Violation { subject: subject.into(), detail: detail.into() }
    }
}

/// The outcome of one invariant over one tenant: how many rows it looked at, and what broke.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub checked: i64,
    pub violations: Vec<Violation>,
}

impl Checked {
    pub fn new(checked: i64, violations: Vec<Violation>) -> Checked {
        Checked { checked, violations }
    }
}
