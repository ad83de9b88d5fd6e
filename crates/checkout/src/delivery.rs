//! Delivery dates and time slots: when a shopper may ask for the parcel, and the carriers'
//! slot presets with the codes their label software reads.
//!
//! The window is counted in the store's business days (a day it ships: not a closed weekday,
//! not one of its closed dates and, if it says so, not a public holiday of
//! `kernel::holidays`). An order placed at or after the cut-off hour (Japan time), or on a day
//! the store is closed, counts from the next business day; the parcel leaves `lead_days`
//! business days after that day; it arrives the next day, plus the extra days of the
//! destination (a postal-code prefix, for remote islands, or else its prefecture: Okinawa);
//! the shopper may choose from that earliest day through `window_days` days. Carriers deliver
//! every day, so only the shipping side counts business days.
//!
//! A store that sets nothing ships every day, same day, with no extra days: the window is
//! tomorrow through 60 days, as it always was.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the store's calendar says about a day and a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRules {
    /// Business days between the day an order counts from and the day it ships.
    pub lead_days: u32,
    /// Orders at or after this hour (Japan time, 1-23) count from the next business day.
    pub cutoff_hour: Option<u32>,
    /// How many days the shopper may choose from, the earliest included.
    pub window_days: u32,
    pub closed_weekdays: Vec<Weekday>,
    pub closed_dates: Vec<NaiveDate>,
    pub closed_on_holidays: bool,
    pub extra_days: Vec<ExtraDays>,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        DeliveryRules {
            lead_days: 0,
            cutoff_hour: None,
            window_days: 60,
            closed_weekdays: Vec::new(),
            closed_dates: Vec::new(),
            closed_on_holidays: false,
            extra_days: Vec::new(),
        }
    }
}

/// Extra transit days to an area: a prefecture, or the postal codes starting with a prefix
/// (remote islands: 100-21 for the Ogasawara islands, say). A prefix is more specific than a
/// prefecture and wins over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraDays {
    pub area: Area,
    pub days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Area {
    /// JIS code 1-47.
    Prefecture(u8),
    /// 1 to 7 digits, no hyphen.
    PostalPrefix(String),
}

/// Where the parcel goes, as far as the shopper told.
#[derive(Debug, Clone, Copy, Default)]
pub struct Destination<'a> {
    pub prefecture: Option<u8>,
    /// Digits only or `123-4567`.
    pub postal_code: Option<&'a str>,
}

/// The days a shopper may choose from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeliveryWindow {
    /// The day the store ships, in Japan.
    pub ships_on: NaiveDate,
    /// The earliest delivery date the shopper may ask for.
    pub earliest: NaiveDate,
    /// The latest.
    pub latest: NaiveDate,
}

impl DeliveryWindow {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.earliest <= date && date <= self.latest
    }
}

/// A calendar with every weekday closed cannot ship; settings refuse that, and this bounds
/// the search for a business day anyway.
const SEARCH_DAYS: u32 = 800;

impl DeliveryRules {
    /// Whether the store ships on `date`.
    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        let closed = self.closed_weekdays.contains(&date.weekday())
            || self.closed_dates.contains(&date)
            || (self.closed_on_holidays && kernel::holidays::is_holiday(date));
        !closed
    }

    /// The first business day on or after `date`.
    fn business_day_from(&self, date: NaiveDate) -> NaiveDate {
        let mut d = date;
        for _ in 0..SEARCH_DAYS {
            if self.is_business_day(d) {
                return d;
            }
            d += Duration::days(1);
        }
        d
    }

    /// The extra transit days to a destination: the longest matching postal-code prefix, else
    /// the prefecture's, else none.
    pub fn extra_days_to(&self, to: Destination<'_>) -> u32 {
        let digits: String = to.postal_code.unwrap_or("").chars().filter(char::is_ascii_digit).collect();
        let by_prefix = self
            .extra_days
            .iter()
            .filter_map(|e| match &e.area {
                Area::PostalPrefix(p) if !digits.is_empty() && digits.starts_with(p.as_str()) => {
                    Some((p.len(), e.days))
                }
                _ => None,
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, days)| days);
        let by_prefecture = || {
            self.extra_days.iter().find_map(|e| match e.area {
                Area::Prefecture(code) if Some(code) == to.prefecture => Some(e.days),
                _ => None,
            })
        };
        by_prefix.or_else(by_prefecture).unwrap_or(0)
    }

    /// The window for an order placed at `now` to `to`.
    pub fn window(&self, now: DateTime<Utc>, to: Destination<'_>) -> DeliveryWindow {
        let local = now.with_timezone(&kernel::jp::jst());
        let mut counts_from = local.date_naive();
        if self.cutoff_hour.is_some_and(|h| local.hour() >= h) {
            counts_from += Duration::days(1);
        }
        let mut ships_on = self.business_day_from(counts_from);
        for _ in 0..self.lead_days {
            ships_on = self.business_day_from(ships_on + Duration::days(1));
        }
        let earliest = ships_on + Duration::days(1 + i64::from(self.extra_days_to(to)));
        let latest = earliest + Duration::days(i64::from(self.window_days.max(1)) - 1);
        DeliveryWindow { ships_on, earliest, latest }
    }
}

/// A carrier whose slots a store can take as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SlotPreset {
    /// ヤマト運輸 (宅急便), B2 Cloud's time codes.
    Yamato,
    /// 佐川急便 (飛脚宅配便), e-飛伝's time codes.
    Sagawa,
}

impl SlotPreset {
    /// The carrier's slots: (code, label, the carrier's time code).
    pub fn slots(self) -> &'static [(&'static str, &'static str, &'static str)] {
        match self {
            // Yamato's windows since 2017-06 (no 12-14, 20-21 folded into 19-21)
            SlotPreset::Yamato => &[
                ("am", "午前中", "0812"),
                ("14-16", "14時〜16時", "1416"),
                ("16-18", "16時〜18時", "1618"),
                ("18-20", "18時〜20時", "1820"),
                ("19-21", "19時〜21時", "1921"),
            ],
            SlotPreset::Sagawa => &[
                ("am", "午前中", "01"),
                ("12-14", "12時〜14時", "12"),
                ("14-16", "14時〜16時", "14"),
                ("16-18", "16時〜18時", "16"),
                ("18-21", "18時〜21時", "04"),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn jst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        kernel::jp::jst().with_ymd_and_hms(y, m, d, h, 0, 0).unwrap().with_timezone(&Utc)
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn weekday_shop() -> DeliveryRules {
        DeliveryRules {
            lead_days: 1,
            cutoff_hour: Some(12),
            window_days: 14,
            closed_weekdays: vec![Weekday::Sat, Weekday::Sun],
            closed_on_holidays: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_store_that_sets_nothing_offers_tomorrow_through_60_days() {
        let w = DeliveryRules::default().window(jst(2026, 12, 2, 23), Destination::default());
        assert_eq!((w.ships_on, w.earliest, w.latest), (day(2026, 12, 2), day(2026, 12, 3), day(2027, 1, 31)));
    }

    #[test]
    fn lead_time_skips_weekends_and_holidays() {
        let r = weekday_shop();
        // Friday 2026-09-18 at 10:00: counts from Friday, ships one business day later; the
        // weekend, 敬老の日 (21), 国民の休日 (22) and 秋分の日 (23) are closed: Thursday the 24th
        let w = r.window(jst(2026, 9, 18, 10), Destination::default());
        assert_eq!((w.ships_on, w.earliest, w.latest), (day(2026, 9, 24), day(2026, 9, 25), day(2026, 10, 8)));
        // on Sunday the 20th: the first business day is Thursday the 24th, one more is the 25th
        let w = r.window(jst(2026, 9, 20, 9), Destination::default());
        assert_eq!(w.ships_on, day(2026, 9, 25));
    }

    #[test]
    fn the_cut_off_hour_moves_the_count_to_the_next_business_day() {
        let r = weekday_shop();
        // Tuesday 2026-12-01, 11:00 JST (02:00 UTC): ships Wednesday, earliest Thursday
        assert_eq!(r.window(jst(2026, 12, 1, 11), Destination::default()).earliest, day(2026, 12, 3));
        // 12:00 JST is past the cut-off: counts from Wednesday, ships Thursday, earliest Friday
        assert_eq!(r.window(jst(2026, 12, 1, 12), Destination::default()).earliest, day(2026, 12, 4));
        // the hour is Japan's: 23:30 UTC on Monday is 08:30 on Tuesday in Japan
        let early = Utc.with_ymd_and_hms(2026, 11, 30, 23, 30, 0).unwrap();
        assert_eq!(r.window(early, Destination::default()).earliest, day(2026, 12, 3));
    }

    #[test]
    fn extra_days_by_prefecture_and_by_postal_prefix() {
        let r = DeliveryRules {
            extra_days: vec![
                ExtraDays { area: Area::Prefecture(47), days: 2 },
                ExtraDays { area: Area::Prefecture(13), days: 0 },
                ExtraDays { area: Area::PostalPrefix("1002".into()), days: 5 },
                ExtraDays { area: Area::PostalPrefix("10021".into()), days: 6 },
            ],
            ..Default::default()
        };
        let okinawa = Destination { prefecture: Some(47), postal_code: Some("900-0001") };
        assert_eq!(r.extra_days_to(okinawa), 2);
        let tokyo = Destination { prefecture: Some(13), postal_code: Some("150-0001") };
        assert_eq!(r.extra_days_to(tokyo), 0);
        // 小笠原村 (100-2101): the longest prefix wins over the prefecture
        let ogasawara = Destination { prefecture: Some(13), postal_code: Some("100-2101") };
        assert_eq!(r.extra_days_to(ogasawara), 6);
        let w = r.window(jst(2026, 12, 2, 9), okinawa);
        assert_eq!((w.earliest, w.latest), (day(2026, 12, 5), day(2027, 2, 2)));
    }

    #[test]
    fn closed_dates_are_not_business_days() {
        let r = DeliveryRules {
            closed_dates: vec![day(2026, 12, 30), day(2026, 12, 31), day(2027, 1, 2), day(2027, 1, 3)],
            closed_on_holidays: true,
            ..Default::default()
        };
        // 12-29 after nothing closed ships the same day; 12-30 waits until 1-4 (1-1 元日)
        assert_eq!(r.window(jst(2026, 12, 29, 9), Destination::default()).ships_on, day(2026, 12, 29));
        assert_eq!(r.window(jst(2026, 12, 30, 9), Destination::default()).ships_on, day(2027, 1, 4));
    }
}
