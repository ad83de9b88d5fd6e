//! Japan's public holidays (国民の祝日), computed from the holiday law (国民の祝日に関する法律) as it
//! stands, never from a downloaded list:
//!
//! * fixed days (元日, 建国記念の日, 天皇誕生日, 昭和の日, 憲法記念日, みどりの日, こどもの日, 山の日,
//!   文化の日, 勤労感謝の日);
//! * "happy Mondays" (成人の日, 海の日, 敬老の日, スポーツの日: the nth Monday of their month);
//! * the equinoxes (春分の日, 秋分の日) by the usual formula of the astronomical observatory's
//!   announcements, valid 1980-2099;
//! * a substitute holiday (振替休日): a holiday on a Sunday moves the rest day to the next day
//!   that is not a holiday;
//! * 国民の休日: a day between two holidays is a rest day too (e.g. 2026-09-22).
//!
//! The special days of 2019 (the enthronement) and the Olympic moves of 2020 and 2021 are kept.
//! Years before 2000 follow today's rules, which they did not always have: the shop calendar
//! asks only about dates around now.

use chrono::{Datelike, NaiveDate, Weekday};

/// The holiday's name, when `date` is a public holiday or a rest day the holiday law makes.
///
/// ```
/// use chrono::NaiveDate;
/// use tenpo_kernel::holidays::holiday;
/// let d = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
/// assert_eq!(holiday(d(3, 20)), Some("春分の日"));
/// assert_eq!(holiday(d(5, 6)), Some("振替休日"));
/// assert_eq!(holiday(d(9, 22)), Some("国民の休日"));
/// assert_eq!(holiday(d(12, 2)), None);
/// ```
pub fn holiday(date: NaiveDate) -> Option<&'static str> {
    if let Some(name) = named(date) {
        return Some(name);
    }
    if substitute(date) {
        return Some("振替休日");
    }
    // between two holidays of the law (not substitutes), and not a Sunday's own rest
    let (before, after) = (date.pred_opt()?, date.succ_opt()?);
    if named(before).is_some() && named(after).is_some() {
        return Some("国民の休日");
    }
    None
}

/// Whether `date` is a public holiday or a rest day of the holiday law.
pub fn is_holiday(date: NaiveDate) -> bool {
    holiday(date).is_some()
}

/// Every holiday of a year, in order, with its name.
pub fn of_year(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let Some(mut d) = NaiveDate::from_ymd_opt(year, 1, 1) else { return Vec::new() };
    let mut out = Vec::new();
    while d.year() == year {
        if let Some(name) = holiday(d) {
            out.push((d, name));
        }
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

/// A Sunday holiday's rest moves to the next day that is not a holiday itself (since 1973; the
/// "next non-holiday" form since 2007, which is what matters for 5/3 on a Sunday).
fn substitute(date: NaiveDate) -> bool {
    if named(date).is_some() {
        return false;
    }
    // walk back over consecutive holidays: the run must start on (or contain) a Sunday
    let mut d = date;
    loop {
        let Some(prev) = d.pred_opt() else { return false };
        if named(prev).is_none() {
            return false;
        }
        if prev.weekday() == Weekday::Sun {
            return true;
        }
        d = prev;
    }
}

/// The holidays the law names for a day (without substitutes and 国民の休日).
fn named(date: NaiveDate) -> Option<&'static str> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let monday = |n: u32| date.weekday() == Weekday::Mon && (d - 1) / 7 + 1 == n;
    match (y, m, d) {
        // the enthronement of 2019
        (2019, 4, 30) | (2019, 5, 2) => return Some("国民の休日"),
        (2019, 5, 1) => return Some("天皇の即位の日"),
        (2019, 10, 22) => return Some("即位礼正殿の儀の行われる日"),
        // the Olympics moved 海の日, スポーツの日 and 山の日 in 2020 and 2021
        (2020, 7, 23) | (2021, 7, 22) => return Some("海の日"),
        (2020, 7, 24) | (2021, 7, 23) => return Some("スポーツの日"),
        (2020, 8, 10) | (2021, 8, 8) => return Some("山の日"),
        _ => {}
    }
    let olympic = y == 2020 || y == 2021;
    match m {
        1 if d == 1 => Some("元日"),
        1 if monday(2) => Some("成人の日"),
        2 if d == 11 => Some("建国記念の日"),
        2 if d == 23 && y >= 2020 => Some("天皇誕生日"),
        3 if d == spring_equinox(y)? => Some("春分の日"),
        4 if d == 29 => Some("昭和の日"),
        5 if d == 3 => Some("憲法記念日"),
        5 if d == 4 => Some("みどりの日"),
        5 if d == 5 => Some("こどもの日"),
        7 if monday(3) && !olympic => Some("海の日"),
        8 if d == 11 && y >= 2016 && !olympic => Some("山の日"),
        9 if monday(3) => Some("敬老の日"),
        9 if d == autumn_equinox(y)? => Some("秋分の日"),
        10 if monday(2) && !olympic => Some(if y >= 2020 { "スポーツの日" } else { "体育の日" }),
        11 if d == 3 => Some("文化の日"),
        11 if d == 23 => Some("勤労感謝の日"),
        12 if d == 23 && (1989..=2018).contains(&y) => Some("天皇誕生日"),
        _ => None,
    }
}

/// 春分の日 of a year (March), by the formula that matches the announced days 1980-2099.
fn spring_equinox(year: i32) -> Option<u32> {
    equinox(year, 20.8431)
}

/// 秋分の日 of a year (September).
fn autumn_equinox(year: i32) -> Option<u32> {
    equinox(year, 23.2488)
}

fn equinox(year: i32, base: f64) -> Option<u32> {
    if !(1980..=2099).contains(&year) {
        return None;
    }
    let n = f64::from(year - 1980);
    Some((base + 0.242194 * n - (n / 4.0).floor()).floor() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dates(year: i32) -> Vec<String> {
        of_year(year).into_iter().map(|(d, _)| d.format("%m-%d").to_string()).collect()
    }

    #[test]
    fn the_cabinet_offices_list_of_2026() {
        // 内閣府「国民の祝日について」: 2026 has a substitute holiday (5/6, for 5/3 on a Sunday) and a
        // 国民の休日 (9/22, between 敬老の日 and 秋分の日)
        assert_eq!(
            dates(2026),
            [
                "01-01", "01-12", "02-11", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06", "07-20",
                "08-11", "09-21", "09-22", "09-23", "10-12", "11-03", "11-23"
            ]
        );
    }

    #[test]
    fn the_cabinet_offices_list_of_2025_and_2024() {
        assert_eq!(
            dates(2025),
            [
                "01-01", "01-13", "02-11", "02-23", "02-24", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
                "07-21", "08-11", "09-15", "09-23", "10-13", "11-03", "11-23", "11-24"
            ]
        );
        assert_eq!(
            dates(2024),
            [
                "01-01", "01-08", "02-11", "02-12", "02-23", "03-20", "04-29", "05-03", "05-04", "05-05", "05-06",
                "07-15", "08-11", "08-12", "09-16", "09-22", "09-23", "10-14", "11-03", "11-04", "11-23"
            ]
        );
    }

    #[test]
    fn special_years_keep_their_days() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(holiday(d(2019, 5, 1)), Some("天皇の即位の日"));
        assert_eq!(holiday(d(2019, 4, 30)), Some("国民の休日"));
        assert_eq!(holiday(d(2019, 12, 23)), None);
        assert_eq!(holiday(d(2018, 12, 23)), Some("天皇誕生日"));
        assert_eq!(holiday(d(2021, 7, 23)), Some("スポーツの日"));
        assert_eq!(holiday(d(2021, 8, 9)), Some("振替休日"));
        assert_eq!(holiday(d(2021, 10, 11)), None);
        assert_eq!(holiday(d(2021, 8, 11)), None);
    }

    #[test]
    fn equinoxes_match_the_announced_days() {
        // 国立天文台: 春分 2027-03-21, 2028-03-20, 2030-03-20; 秋分 2027-09-23, 2028-09-22, 2030-09-23
        assert_eq!(spring_equinox(2027), Some(21));
        assert_eq!(spring_equinox(2028), Some(20));
        assert_eq!(spring_equinox(2030), Some(20));
        assert_eq!(autumn_equinox(2027), Some(23));
        assert_eq!(autumn_equinox(2028), Some(22));
        assert_eq!(autumn_equinox(2030), Some(23));
    }
}
