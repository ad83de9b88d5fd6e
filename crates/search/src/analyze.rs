//! Text analysis for the embedded index: folding, then tokens. The same rules apply to
//! documents and queries, so whatever a shopper types is folded the way the catalog was.
//!
//! Folding (per character):
//! * full-width ASCII (`ＧＲＥＥＮ`, `１０８０`) becomes ASCII, the ideographic space a space;
//! * half-width katakana becomes full-width, voiced marks composed (`ｸﾞﾘｰﾝ` → `グリーン`);
//! * hiragana becomes katakana (`まっちゃ` and `マッチャ` match each other);
//! * Latin letters are lower-cased and common accents dropped (`Café` → `cafe`).
//!
//! Tokens:
//! * a run of letters or digits of non-CJK scripts is one **word** (`green`, `100g` is `100`+`g`
//!   only when the script changes: `100g` stays one word);
//! * a run of CJK characters (kanji, katakana, the long-vowel mark `ー`, `々`) gives, in
//!   documents, every **single character and every pair of neighbours** (`緑茶ラテ` → `緑`, `茶`,
//!   `ラ`, `テ`, `緑茶`, `茶ラ`, `ラテ`); in queries, its pairs, or the character itself when the run
//!   is one character long, so `茶` finds every product with 茶 and `緑茶` only those with the pair.
//!   No dictionary is needed, and any substring of two or more characters is found.
//! * everything else (punctuation, spaces, `・`, symbols) separates tokens.

/// One token of a query, with how it may match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryToken {
    /// A Latin-script word (or number): matched exactly, with typos, and as a prefix when it is
    /// the last word typed.
    Word(String),
    /// A CJK single character or pair: matched exactly.
    Gram(String),
}

/// Folds one character; half-width voiced marks are handled by [`fold`].
fn fold_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        // hiragana (and its iteration marks) to katakana
        '\u{3041}'..='\u{3096}' | '\u{309D}' | '\u{309E}' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        '\u{FF61}'..='\u{FF9F}' => half_width_kana(c),
        _ => c,
    }
}

/// Half-width katakana and punctuation (U+FF61..U+FF9F) to their full-width forms.
fn half_width_kana(c: char) -> char {
    const TABLE: &str = "。「」、・ヲァィゥェォャュョッーアイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン゛゜";
    let i = c as usize - 0xFF61;
    TABLE.chars().nth(i).unwrap_or(c)
}

/// The voiced (dakuten) or semi-voiced (handakuten) form of a katakana, if it has one.
fn voiced(base: char, semi: bool) -> Option<char> {
    let n = base as u32;
    if semi {
        // ハ ヒ フ ヘ ホ -> パ ピ プ ペ ポ
        return matches!(base, 'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ').then(|| char::from_u32(n + 2)).flatten();
    }
    match base {
        'ウ' => Some('ヴ'),
        'カ' | 'キ' | 'ク' | 'ケ' | 'コ' | 'サ' | 'シ' | 'ス' | 'セ' | 'ソ' | 'タ' | 'チ' | 'ツ' | 'テ' | 'ト' => {
            char::from_u32(n + 1)
        }
        'ハ' | 'ヒ' | 'フ' | 'ヘ' | 'ホ' => char::from_u32(n + 1),
        'ワ' => Some('ヷ'),
        _ => None,
    }
}

fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' | 'ē' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' => 'u',
        'ý' | 'ÿ' => 'y',
        _ => c,
    }
}

/// The folded form of a text (see the module documentation).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let f = fold_char(c);
        // voiced marks: half-width ﾞ/ﾟ (now ゛/゜) and the combining ones join the kana before
        if matches!(f, '゛' | '゜' | '\u{3099}' | '\u{309A}') {
            let semi = matches!(f, '゜' | '\u{309A}');
            if let Some(prev) = out.chars().last()
                && let Some(v) = voiced(prev, semi)
            {
                out.pop();
                out.push(v);
            }
            continue;
        }
        for l in f.to_lowercase() {
            out.push(strip_accent(l));
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Cjk,
    Separator,
}

fn class(c: char) -> Class {
    match c {
        // katakana (after folding hiragana is katakana too), with the long-vowel mark; not ・ or ゠
        '\u{30A1}'..='\u{30FA}' | '\u{30FC}'..='\u{30FF}' => Class::Cjk,
        '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}' => {
            Class::Cjk
        }
        '々' | '〆' => Class::Cjk,
        // Hangul syllables behave best as grams too
        '\u{AC00}'..='\u{D7AF}' => Class::Cjk,
        c if c.is_alphanumeric() => Class::Word,
        _ => Class::Separator,
    }
}

/// Runs of one class over the folded text.
fn runs(folded: &str) -> Vec<(Class, Vec<char>)> {
    let mut out: Vec<(Class, Vec<char>)> = Vec::new();
    for c in folded.chars() {
        let k = class(c);
        match out.last_mut() {
            Some((last, chars)) if *last == k && k != Class::Separator => chars.push(c),
            _ if k == Class::Separator => out.push((k, Vec::new())),
            _ => out.push((k, vec![c])),
        }
    }
    out.retain(|(k, chars)| *k != Class::Separator && !chars.is_empty());
    out
}

/// The tokens a document's text is indexed under.
pub fn index_tokens(text: &str) -> Vec<String> {
    let folded = fold(text);
    let mut out = Vec::new();
    for (k, chars) in runs(&folded) {
        match k {
            Class::Word => out.push(chars.iter().collect()),
            Class::Cjk => {
                for c in &chars {
                    out.push(c.to_string());
                }
                for w in chars.windows(2) {
                    out.push(w.iter().collect());
                }
            }
            Class::Separator => {}
        }
    }
    out
}

/// The tokens of a query, each of which a matching document must contain.
pub fn query_tokens(text: &str) -> Vec<QueryToken> {
    let folded = fold(text);
    let mut out: Vec<QueryToken> = Vec::new();
    for (k, chars) in runs(&folded) {
        match k {
            Class::Word => out.push(QueryToken::Word(chars.iter().collect())),
            Class::Cjk if chars.len() == 1 => out.push(QueryToken::Gram(chars[0].to_string())),
            Class::Cjk => {
                for w in chars.windows(2) {
                    let g = QueryToken::Gram(w.iter().collect());
                    if !out.contains(&g) {
                        out.push(g);
                    }
                }
            }
            Class::Separator => {}
        }
    }
    out
}

/// How many typos a query word may contain: none up to 2 characters (or for numbers), one
/// from 3, two from 8.
pub fn typo_budget(word: &str) -> u8 {
    let n = word.chars().count();
    if word.chars().all(|c| c.is_ascii_digit()) || n < 3 {
        0
    } else if n < 8 {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_widths_kana_and_case() {
        assert_eq!(fold("ｸﾞﾘｰﾝ"), "グリーン");
        assert_eq!(fold("ﾊﾟｳﾀﾞｰ"), "パウダー");
        assert_eq!(fold("ＧＲＥＥＮ　ＴＥＡ"), "green tea");
        assert_eq!(fold("まっちゃ"), "マッチャ");
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("ほうじ茶"), "ホウジ茶");
    }

    #[test]
    fn cjk_runs_give_unigrams_and_bigrams() {
        let t = index_tokens("オーガニック緑茶 ティーバッグ");
        for want in ["緑茶", "緑", "茶", "ティ", "バッ", "ッグ"] {
            assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
        }
        assert_eq!(query_tokens("茶"), vec![QueryToken::Gram("茶".into())]);
        assert_eq!(query_tokens("緑茶"), vec![QueryToken::Gram("緑茶".into())]);
        assert_eq!(query_tokens("ラテ"), vec![QueryToken::Gram("ラテ".into())]);
    }

    #[test]
    fn latin_words_and_mixed_scripts() {
        assert_eq!(index_tokens("Organic Green-Tea, 100g"), vec!["organic", "green", "tea", "100g"]);
        assert_eq!(query_tokens("GREEN 緑茶"), vec![QueryToken::Word("green".into()), QueryToken::Gram("緑茶".into())]);
        assert_eq!(query_tokens("ｸﾞﾘｰﾝ"), query_tokens("グリーン"));
        assert!(query_tokens(" ・、!? ").is_empty());
    }

    #[test]
    fn typo_budget_grows_with_length() {
        assert_eq!(typo_budget("te"), 0);
        assert_eq!(typo_budget("tae"), 1);
        assert_eq!(typo_budget("1080"), 0);
        assert_eq!(typo_budget("strawberry"), 2);
    }
}
