//! The time rules read "now" from: the system clock, or a fixed instant that tests set (delivery
//! dates depend on today's date and hour in Japan, and a test must not depend on when it runs).

use chrono::{DateTime, Utc};

/// Where "now" comes from. The default is the system clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    fixed: Option<DateTime<Utc>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock { fixed: None }
    }

    /// A clock that always answers `at` (tests).
    pub fn fixed(at: DateTime<Utc>) -> Clock {
        Clock { fixed: Some(at) }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.fixed.unwrap_or_else(Utc::now)
    }
}
