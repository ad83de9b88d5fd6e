//! Japanese first, English switchable (the `tenpo_lang` cookie). Every text the console shows
//! is written in both at the place it is used: `lang.t("注文", "Orders")`. Messages that come
//! from the domain (validation, refusals) are the API's own.

use chrono::{DateTime, NaiveDate, Utc};
use kernel::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    pub fn t(self, ja: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }

    /// Yen as Japanese shops write it: ¥1,234 (other currencies: 12.50 USD).
    pub fn money(self, m: &Money) -> String {
        if m.currency.as_str() == "JPY" {
            let sign = if m.amount < 0 { "-" } else { "" };
            format!("{sign}¥{}", group(m.amount.unsigned_abs()))
        } else {
            format!("{} {}", m.format_major(), m.currency.as_str())
        }
    }

    /// A moment in Japan time: 2026年12月1日 14:05 (en: 2026-12-01 14:05).
    pub fn datetime(self, at: &DateTime<Utc>) -> String {
        let local = at.with_timezone(&kernel::jp::jst());
        match self {
            Lang::Ja => local.format("%Y年%-m月%-d日 %H:%M").to_string(),
            Lang::En => local.format("%Y-%m-%d %H:%M").to_string(),
        }
    }

    pub fn date(self, d: &NaiveDate) -> String {
        match self {
            Lang::Ja => d.format("%Y年%-m月%-d日").to_string(),
            Lang::En => d.format("%Y-%m-%d").to_string(),
        }
    }
}

/// 1234567 -> "1,234,567"
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_and_dates_read_as_in_japan() {
        assert_eq!(Lang::Ja.money(&Money::jpy(1_234_567)), "¥1,234,567");
        assert_eq!(Lang::Ja.money(&Money::jpy(0)), "¥0");
        assert_eq!(Lang::Ja.money(&Money::jpy(-800)), "-¥800");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        let at = DateTime::parse_from_rfc3339("2026-12-01T15:05:00Z").unwrap().with_timezone(&Utc);
        // 15:05 UTC is past midnight in Tokyo
        assert_eq!(Lang::Ja.datetime(&at), "2026年12月2日 00:05");
        assert_eq!(Lang::En.datetime(&at), "2026-12-02 00:05");
    }
}
