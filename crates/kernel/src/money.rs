//! Money as integer minor units plus an ISO 4217 currency. No floats anywhere near a price.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const JPY: Currency = Currency(*b"JPY");

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (JPY has none). Used only for display and CSV; amounts
    /// are always stored and computed in minor units.
    pub fn minor_digits(&self) -> u32 {
        match self.as_str() {
            "JPY" | "KRW" | "VND" | "CLP" | "ISK" | "TWD" => 0,
            "BHD" | "KWD" | "OMR" | "JOD" | "TND" => 3,
            _ => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be a three-letter ISO 4217 code such as JPY")]
    InvalidCurrency,
    #[error("currencies differ: {0} and {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("amount out of range")]
    Overflow,
    #[error("not a valid amount for {0}")]
    InvalidAmount(Currency),
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.trim().as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(MoneyError::InvalidCurrency);
        }
        Ok(Currency([b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()]))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^[A-Z]{3}$"))
            .examples([serde_json::json!("JPY")])
            .description(Some("ISO 4217 currency code"))
            .into()
    }
}
impl ToSchema for Currency {}

impl sqlx::Type<sqlx::Postgres> for Currency {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <String as sqlx::Type<sqlx::Postgres>>::type_info()
    }
    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, sqlx::Postgres> for Currency {
    fn encode_by_ref(
        &self,
        buf: &mut sqlx::postgres::PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
    }
}

impl sqlx::Decode<'_, sqlx::Postgres> for Currency {
    fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
        Ok(s.parse()?)
    }
}

/// An amount in minor units of a currency (yen for JPY).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub struct Money {
    /// Integer amount in the currency's minor unit (JPY: yen).
    #[schema(example = 1200)]
    pub amount: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Self {
        Money { amount, currency }
    }

    pub fn zero(currency: Currency) -> Self {
        Money { amount: 0, currency }
    }

    pub fn jpy(amount: i64) -> Self {
        Money::new(amount, Currency::JPY)
    }

    fn same(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        let amount = self.amount.checked_add(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same(&other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    pub fn checked_mul(self, qty: i64) -> Result<Money, MoneyError> {
        let amount = self.amount.checked_mul(qty).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `self * bps / 10_000`, rounded down (toward zero for positive amounts). Basis points are
    /// how rates are stored (commission, percent discounts).
    pub fn mul_bps_floor(self, bps: i64) -> Result<Money, MoneyError> {
        let wide = (self.amount as i128) * (bps as i128);
        let amount = wide.div_euclid(10_000);
        let amount = i64::try_from(amount).map_err(|_| MoneyError::Overflow)?;
        Ok(Money::new(amount, self.currency))
    }

    /// Parses a decimal string in major units ("1200", "12.50") into minor units, as found in
    /// CSV files. Rejects more fractional digits than the currency has.
    pub fn parse_major(s: &str, currency: Currency) -> Result<Money, MoneyError> {
        let s = s.trim().replace(',', "");
        let digits = currency.minor_digits();
        let bad = || MoneyError::InvalidAmount(currency);
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, s),
        };
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i.to_string(), f.trim_end_matches('0').to_string()),
            None => (s.clone(), String::new()),
        };
        if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() as u32 > digits {
            return Err(bad());
        }
        let mut minor: i64 = int.parse().map_err(|_| MoneyError::Overflow)?;
        minor = minor.checked_mul(10i64.pow(digits)).ok_or(MoneyError::Overflow)?;
        if !frac.is_empty() {
            let f: i64 = frac.parse().map_err(|_| bad())?;
            minor = minor.checked_add(f * 10i64.pow(digits - frac.len() as u32)).ok_or(MoneyError::Overflow)?;
        }
        Ok(Money::new(if neg { -minor } else { minor }, currency))
    }

    /// The amount in major units as a decimal string ("1200" for JPY, "12.50" for USD).
    pub fn format_major(&self) -> String {
        let digits = self.currency.minor_digits();
        if digits == 0 {
            return self.amount.to_string();
        }
        let scale = 10i64.pow(digits);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        format!("{sign}{}.{:0width$}", abs / scale as u64, abs % scale as u64, width = digits as usize)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.format_major(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_parsing() {
        assert_eq!("jpy".parse::<Currency>().unwrap(), Currency::JPY);
        assert!("JP".parse::<Currency>().is_err());
        assert!("J1Y".parse::<Currency>().is_err());
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies() {
        let usd = Money::new(100, "USD".parse().unwrap());
        assert_eq!(Money::jpy(1).checked_add(usd), Err(MoneyError::CurrencyMismatch(Currency::JPY, usd.currency)));
        assert_eq!(Money::jpy(1).checked_add(Money::jpy(2)), Ok(Money::jpy(3)));
    }

    #[test]
    fn basis_points_round_down() {
        // 15% of 999 yen = 149.85 -> 149
        assert_eq!(Money::jpy(999).mul_bps_floor(1500).unwrap(), Money::jpy(149));
    }

    #[test]
    fn major_units_round_trip() {
        let usd: Currency = "USD".parse().unwrap();
        assert_eq!(Money::parse_major("12.5", usd).unwrap().amount, 1250);
        assert_eq!(Money::parse_major("1,200", Currency::JPY).unwrap().amount, 1200);
        assert_eq!(Money::parse_major("1200.00", Currency::JPY).unwrap().amount, 1200);
        assert!(Money::parse_major("12.5", Currency::JPY).is_err());
        assert!(Money::parse_major("abc", Currency::JPY).is_err());
        assert_eq!(Money::new(1250, usd).format_major(), "12.50");
        assert_eq!(Money::jpy(1200).format_major(), "1200");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn with_thousands(digits: &str) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    proptest! {
        #[test]
        fn an_amount_reads_back_from_its_major_units(amount in -1_000_000_000_000i64..1_000_000_000_000, usd in any::<bool>()) {
            let currency = if usd { "USD".parse().unwrap() } else { Currency::JPY };
            let m = Money::new(amount, currency);
            prop_assert_eq!(Money::parse_major(&m.format_major(), currency), Ok(m));
        }

        #[test]
        fn yen_with_thousands_separators(amount in 0i64..10_000_000_000) {
            let typed = with_thousands(&amount.to_string());
            prop_assert_eq!(Money::parse_major(&typed, Currency::JPY), Ok(Money::jpy(amount)));
        }

        #[test]
        fn yen_refuse_fractions_and_text(amount in 0i64..1_000_000, frac in "[1-9]{1,2}", junk in "[a-zA-Z¥円 ]{1,3}") {
            let fractional = format!("{amount}.{frac}");
            prop_assert!(Money::parse_major(&fractional, Currency::JPY).is_err(), "{}", fractional);
            let text = format!("{amount}{junk}");
            prop_assert!(Money::parse_major(&text, Currency::JPY).is_err() || junk.trim().is_empty(), "{}", text);
        }

        #[test]
        fn no_text_panics_or_overflows_silently(s in "\\PC{0,30}") {
            if let Ok(m) = Money::parse_major(&s, Currency::JPY) {
                prop_assert_eq!(Money::parse_major(&m.format_major(), Currency::JPY), Ok(m));
            }
        }
    }
}
