//! Product handles: URL slugs unique per store, generated from the title when not given.
//!
//! Latin letters and digits are kept (lower-cased, full-width folded); hiragana and katakana are
//! romanised (Hepburn: オーガニック -> oganikku, ティーバッグ -> tibaggu); kanji cannot be
//! romanised without a dictionary and become separators. When too little is left
//! ("緑茶" -> ""), the handle is a short random id such as `p-k3x9q2`.

use rand::Rng;

pub const MAX_LEN: usize = 80;

/// Whether a handle given by a merchant is acceptable as is.
pub fn is_valid(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 200
        && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !h.starts_with('-')
}

/// Normalises a merchant-given handle: trimmed, lower-cased, spaces to dashes.
pub fn normalize(raw: &str) -> String {
    kernel::jp::fold_width(raw).trim().to_lowercase().replace([' ', '_'], "-")
}

/// A slug from a title, or a short random id when the title gives too little.
pub fn from_title(title: &str) -> String {
    let slug = slugify(title);
    let letters = slug.bytes().filter(u8::is_ascii_lowercase).count();
    if slug.is_empty() {
        short_id()
    } else if letters < 3 {
        // "2026" or "a1": too little to be a name of its own
        format!("{slug}-{}", &short_id()[2..])
    } else {
        slug
    }
}

pub fn short_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    let id: String = (0..6).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("p-{id}")
}

pub fn slugify(title: &str) -> String {
    // full-width Latin folds to ASCII; the long vowel mark stays a mark (fold_width would turn
    // it into a dash)
    let chars: Vec<char> = title
        .chars()
        .map(|c| match c {
            'ー' | 'ｰ' | '〜' => 'ー',
            c => kernel::jp::fold_width(&c.to_string()).chars().next().unwrap_or(c),
        })
        .collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            i += 1;
        } else if is_kana(c) {
            let start = i;
            while i < chars.len() && (is_kana(chars[i]) || chars[i] == 'ー') {
                i += 1;
            }
            let run = &chars[start..i];
            // short hiragana runs between kanji are particles and okurigana (の, れ in 淹れ方):
            // noise in a slug. Katakana words and longer hiragana words are kept.
            let katakana = run.iter().any(|c| ('ァ'..='ヶ').contains(c));
            if katakana || run.len() >= 3 {
                out.push_str(&romanise(run));
            } else {
                out.push('-');
            }
        } else {
            out.push('-');
            i += 1;
        }
    }
    let mut slug = String::new();
    for part in out.split('-').filter(|p| !p.is_empty()) {
        if slug.len() + part.len() + 1 > MAX_LEN {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(part);
    }
    slug
}

fn is_kana(c: char) -> bool {
    ('ぁ'..='ゖ').contains(&c) || ('ァ'..='ヶ').contains(&c)
}

/// Hepburn romanisation of a run of kana (long vowels written without macrons).
fn romanise(run: &[char]) -> String {
    let chars: Vec<char> = run.iter().map(|c| katakana_to_hiragana(*c)).collect();
    let mut out = String::new();
    let mut double_next = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == 'っ' {
            double_next = true;
        } else if let Some(mut syllable) = romaji(c).map(str::to_string) {
            // a small kana modifies the syllable before it: きゃ kya, しゃ sha, ティ ti, ファ fa
            if let Some(joined) = chars.get(i + 1).and_then(|next| combine(&syllable, *next)) {
                syllable = joined;
                i += 1;
            }
            if double_next {
                let first = syllable.chars().next().unwrap_or('x');
                if syllable.starts_with("ch") {
                    out.push('t');
                } else if !"aiueon".contains(first) {
                    out.push(first);
                }
                double_next = false;
            }
            out.push_str(&syllable);
        }
        i += 1;
    }
    out
}

fn katakana_to_hiragana(c: char) -> char {
    match c {
        'ァ'..='ヶ' => char::from_u32(c as u32 - 0x60).unwrap_or(c),
        _ => c,
    }
}

fn combine(syllable: &str, small: char) -> Option<String> {
    let y = match small {
        'ゃ' => Some('a'),
        'ゅ' => Some('u'),
        'ょ' => Some('o'),
        _ => None,
    };
    if let Some(v) = y {
        let stem = syllable.strip_suffix('i')?;
        return Some(match stem {
            "sh" | "ch" | "j" => format!("{stem}{v}"),
            _ => format!("{stem}y{v}"),
        });
    }
    let v = match small {
        'ぁ' => 'a',
        'ぃ' => 'i',
        'ぅ' => 'u',
        'ぇ' => 'e',
        'ぉ' => 'o',
        _ => return None,
    };
    let stem = syllable.trim_end_matches(['a', 'i', 'u', 'e', 'o']);
    let stem = match stem {
        "" => "w",
        "ts" => "ts",
        "ch" => "ch",
        s => s,
    };
    Some(format!("{stem}{v}"))
}

fn romaji(c: char) -> Option<&'static str> {
    Some(match c {
        'あ' | 'ぁ' => "a",
        'い' | 'ぃ' => "i",
        'う' | 'ぅ' => "u",
        'え' | 'ぇ' => "e",
        'お' | 'ぉ' => "o",
        'か' => "ka",
        'き' => "ki",
        'く' => "ku",
        'け' => "ke",
        'こ' => "ko",
        'が' => "ga",
        'ぎ' => "gi",
        'ぐ' => "gu",
        'げ' => "ge",
        'ご' => "go",
        'さ' => "sa",
        'し' => "shi",
        'す' => "su",
        'せ' => "se",
        'そ' => "so",
        'ざ' => "za",
        'じ' => "ji",
        'ず' => "zu",
        'ぜ' => "ze",
        'ぞ' => "zo",
        'た' => "ta",
        'ち' => "chi",
        'つ' => "tsu",
        'て' => "te",
        'と' => "to",
        'だ' => "da",
        'ぢ' => "ji",
        'づ' => "zu",
        'で' => "de",
        'ど' => "do",
        'な' => "na",
        'に' => "ni",
        'ぬ' => "nu",
        'ね' => "ne",
        'の' => "no",
        'は' => "ha",
        'ひ' => "hi",
        'ふ' => "fu",
        'へ' => "he",
        'ほ' => "ho",
        'ば' => "ba",
        'び' => "bi",
        'ぶ' => "bu",
        'べ' => "be",
        'ぼ' => "bo",
        'ぱ' => "pa",
        'ぴ' => "pi",
        'ぷ' => "pu",
        'ぺ' => "pe",
        'ぽ' => "po",
        'ま' => "ma",
        'み' => "mi",
        'む' => "mu",
        'め' => "me",
        'も' => "mo",
        'や' | 'ゃ' => "ya",
        'ゆ' | 'ゅ' => "yu",
        'よ' | 'ょ' => "yo",
        'ら' => "ra",
        'り' => "ri",
        'る' => "ru",
        'れ' => "re",
        'ろ' => "ro",
        'わ' | 'ゎ' => "wa",
        'ゐ' => "i",
        'ゑ' => "e",
        'を' => "o",
        'ん' => "n",
        'ゔ' => "vu",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_titles() {
        assert_eq!(slugify("Organic Green Tea (50 bags)"), "organic-green-tea-50-bags");
        assert_eq!(slugify("  ＴＥＡ　Ｓｅｔ "), "tea-set");
    }

    #[test]
    fn kana_is_romanised() {
        assert_eq!(slugify("オーガニック緑茶 ティーバッグ"), "oganikku-tibaggu");
        assert_eq!(slugify("抹茶ラテ パウダー"), "rate-pauda");
        assert_eq!(slugify("しゃぶしゃぶ"), "shabushabu");
        assert_eq!(slugify("きっぷ"), "kippu");
        assert_eq!(slugify("マッチャ"), "matcha");
        assert_eq!(slugify("コーヒー豆"), "kohi");
        assert_eq!(slugify("ファミリー"), "famiri");
        assert_eq!(slugify("日本茶の淹れ方ガイド (PDF)"), "gaido-pdf");
        assert_eq!(slugify("ほうじ茶 リーフ 100g"), "houji-rifu-100g");
    }

    #[test]
    fn numbers_alone_get_a_suffix() {
        let h = from_title("限定 新茶 2026");
        assert!(h.starts_with("2026-") && h.len() == 11, "{h}");
    }

    #[test]
    fn kanji_only_titles_get_a_short_id() {
        let h = from_title("緑茶");
        assert!(h.starts_with("p-") && h.len() == 8, "{h}");
        assert!(is_valid(&h));
    }

    #[test]
    fn handles_are_bounded_and_valid() {
        let long = "word ".repeat(100);
        let h = from_title(&long);
        assert!(h.len() <= MAX_LEN && is_valid(&h));
        assert!(!is_valid("Has Caps"));
        assert!(!is_valid("-lead"));
        assert_eq!(normalize(" My Product_1 "), "my-product-1");
    }
}
