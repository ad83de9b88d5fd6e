//! Japanese input as people type it: phone numbers, postal codes and prefectures, in
//! full-width or half-width forms, with or without separators, normalised for storage; and the
//! identifiers Japanese business needs: qualified-invoice registration numbers (適格請求書発行事業者
//! 登録番号) and bank accounts for transfers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Validator;

/// Japan Standard Time, UTC+9 all year (Japan keeps no daylight saving time).
pub fn jst() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(9 * 3600).expect("a valid offset")
}

/// Today in Japan (Asia/Tokyo).
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&jst()).date_naive()
}

/// Folds full-width ASCII (０-９, Ａ-Ｚ, ＋, －, ...) to ASCII, the ideographic space to a space,
/// and the many dash-like characters to '-'.
pub fn fold_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}' | '\u{2043}' | '\u{FE63}' => '-',
            _ => c,
        })
        .collect()
}

/// Compatibility folding (Unicode NFKC, then [`fold_width`]): every way of typing the same
/// letters becomes one string: full-width and half-width forms, circled and styled letters,
/// ligatures. For identities (emails) that must match however they were typed.
///
/// ```
/// use tenpo_kernel::jp::fold_compat;
/// assert_eq!(fold_compat("ａ＠ｅｘａｍｐｌｅ．ｊｐ"), "a@example.jp");
/// assert_eq!(fold_compat("ﬁ①"), "fi1");
/// ```
pub fn fold_compat(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    fold_width(&s.nfkc().collect::<String>())
}

/// A name as a search compares it: Unicode NFKC (half-width katakana become full-width,
/// full-width letters and digits ASCII) with every space, of either width, dropped. The long
/// vowel mark stays (unlike [`fold_width`], which makes it a dash).
///
/// ```
/// use tenpo_kernel::jp::fold_name;
/// assert_eq!(fold_name("ﾔﾏﾀﾞ ﾊﾅｺ"), "ヤマダハナコ");
/// assert_eq!(fold_name("山田　花子"), "山田花子");
/// assert_eq!(fold_name("ルーシー"), "ルーシー");
/// ```
pub fn fold_name(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc().filter(|c| !c.is_whitespace()).collect()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpInputError {
    #[error("not a phone number: use forms like 090-1234-5678, 03-1234-5678 or +81 90 1234 5678")]
    Phone,
    #[error("a postal code has 7 digits, as 123-4567 or 1234567")]
    PostalCode,
    #[error("not one of the 47 prefectures (give its name, e.g. 東京都, 東京 or Tokyo, or its code 01-47)")]
    Prefecture,
    #[error(
        "a qualified-invoice registration number is T and 13 digits whose first is the check digit (e.g. T7123456789012)"
    )]
    RegistrationNumber,
}

/// Normalises a qualified-invoice registration number (適格請求書発行事業者登録番号) to
/// `T` + 13 digits, checking it as the National Tax Agency defines it.
///
/// The 13 digits are a corporation's 法人番号, or for sole proprietors a number from the same
/// scheme (never a My Number). Their first digit is a check digit over the 12 that follow
/// (財務省令第七十号 第二条): with Pn the nth of those digits counted from the right and Qn 1 for odd
/// n and 2 for even n, it is 9 − (Σ Pn × Qn mod 9). Full-width forms, a lower-case t, spaces and
/// hyphens are accepted.
///
/// ```
/// use tenpo_kernel::jp::normalize_registration_number;
/// assert_eq!(normalize_registration_number("T7123456789012").unwrap(), "T7123456789012");
/// assert_eq!(normalize_registration_number("ｔ７１２３－４５６７－８９０１２").unwrap(), "T7123456789012");
/// assert!(normalize_registration_number("T1123456789012").is_err()); // wrong check digit
/// ```
pub fn normalize_registration_number(input: &str) -> Result<String, JpInputError> {
    let folded = fold_width(input);
    let compact: String = folded.trim().chars().filter(|c| *c != '-' && *c != ' ').collect();
    let digits = compact.strip_prefix(['T', 't']).ok_or(JpInputError::RegistrationNumber)?;
    if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JpInputError::RegistrationNumber);
    }
    let d: Vec<u32> = digits.bytes().map(|b| (b - b'0') as u32).collect();
    // the 12 base digits, n = 1 at the rightmost
    let sum: u32 = (1..=12).map(|n| d[13 - n] * if n % 2 == 1 { 1 } else { 2 }).sum();
    if d[0] != 9 - sum % 9 {
        return Err(JpInputError::RegistrationNumber);
    }
    Ok(format!("T{digits}"))
}

/// A Japanese bank account to transfer to (振込先): where shoppers pay a store, where a mall pays
/// its vendors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BankAccount {
    #[serde(default)]
    pub bank_name: String,
    #[serde(default)]
    pub branch_name: String,
    /// 普通 (`futsu`) or 当座 (`toza`).
    #[serde(default)]
    pub account_type: String,
    #[serde(default)]
    pub account_number: String,
    /// The account holder's name in katakana, as banks show it.
    #[serde(default)]
    pub account_holder_kana: String,
}

impl BankAccount {
    /// Records an error for every bad field, named under `prefix` (e.g. `bank_account.`).
    pub fn check(&self, v: &mut Validator, prefix: &str) {
        for (field, value) in [
            ("bank_name", &self.bank_name),
            ("branch_name", &self.branch_name),
            ("account_holder_kana", &self.account_holder_kana),
        ] {
            v.opt_text(&format!("{prefix}{field}"), Some(value), 100);
        }
        if !matches!(self.account_type.as_str(), "" | "futsu" | "toza") {
            v.push(&format!("{prefix}account_type"), "invalid", "futsu (普通) or toza (当座)");
        }
        if !self.account_number.is_empty()
            && (self.account_number.len() > 8 || !self.account_number.bytes().all(|b| b.is_ascii_digit()))
        {
            v.push(&format!("{prefix}account_number"), "invalid", "up to 8 digits");
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == BankAccount::default()
    }

    /// The fields a shopper needs to pay into the account that are still missing: bank,
    /// branch, type (普通/当座), number and the holder's name in kana. Empty when complete.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        for (field, value) in [
            ("bank_name", &self.bank_name),
            ("branch_name", &self.branch_name),
            ("account_type", &self.account_type),
            ("account_number", &self.account_number),
            ("account_holder_kana", &self.account_holder_kana),
        ] {
            if value.trim().is_empty() {
                missing.push(field);
            }
        }
        missing
    }

    /// All five fields are there: shoppers can be told where to pay.
    pub fn is_complete(&self) -> bool {
        self.missing().is_empty()
    }
}

/// Normalises a phone number to E.164. Domestic Japanese numbers (0 + 9 or 10 digits) become
/// +81 numbers; numbers given with a + country code are kept (with Japan's trunk 0 dropped).
///
/// ```
/// use tenpo_kernel::jp::normalize_phone;
/// assert_eq!(normalize_phone("090-1234-5678").unwrap(), "+819012345678");
/// assert_eq!(normalize_phone("+81 90 1234 5678").unwrap(), "+819012345678");
/// assert_eq!(normalize_phone("０９０－１２３４－５６７８").unwrap(), "+819012345678");
/// ```
pub fn normalize_phone(input: &str) -> Result<String, JpInputError> {
    let folded = fold_width(input);
    let mut digits = String::with_capacity(16);
    let mut plus = false;
    for (i, c) in folded.trim().chars().enumerate() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if i == 0 => plus = true,
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return Err(JpInputError::Phone),
        }
    }
    let e164 = if plus {
        match digits.strip_prefix("81") {
            // "+81 090..." is a common mistake: the trunk 0 does not belong after +81
            Some(national) => format!("+81{}", national.strip_prefix('0').unwrap_or(national)),
            None => format!("+{digits}"),
        }
    } else if let Some(national) = digits.strip_prefix('0') {
        if national.starts_with('0') || !(9..=10).contains(&national.len()) {
            return Err(JpInputError::Phone);
        }
        format!("+81{national}")
    } else {
        return Err(JpInputError::Phone);
    };
    let n = e164.len() - 1;
    let ok = if let Some(national) = e164.strip_prefix("+81") {
        (9..=10).contains(&national.len()) && !national.starts_with('0')
    } else {
        (7..=15).contains(&n) && !e164[1..].starts_with('0')
    };
    if ok { Ok(e164) } else { Err(JpInputError::Phone) }
}

/// Normalises a postal code to `123-4567`; accepts `1234567`, full-width digits and a leading 〒.
pub fn normalize_postal_code(input: &str) -> Result<String, JpInputError> {
    let folded = fold_width(input);
    let s = folded.trim().trim_start_matches('〒').trim();
    let digits: String = s.chars().filter(|c| *c != '-' && *c != ' ').collect();
    let shape_ok = match s.find('-') {
        None => true,
        Some(pos) => pos == 3 && s.matches('-').count() == 1,
    };
    if !shape_ok || digits.len() != 7 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(JpInputError::PostalCode);
    }
    Ok(format!("{}-{}", &digits[..3], &digits[3..]))
}

/// One of the 47 prefectures, by its JIS X 0401 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Prefecture {
    pub code: u8,
    pub name: &'static str,
    pub name_en: &'static str,
}

/// (JIS code, name with suffix, romanised name)
pub const PREFECTURES: [(u8, &str, &str); 47] = [
    (1, "北海道", "Hokkaido"),
    (2, "青森県", "Aomori"),
    (3, "岩手県", "Iwate"),
    (4, "宮城県", "Miyagi"),
    (5, "秋田県", "Akita"),
    (6, "山形県", "Yamagata"),
    (7, "福島県", "Fukushima"),
    (8, "茨城県", "Ibaraki"),
    (9, "栃木県", "Tochigi"),
    (10, "群馬県", "Gunma"),
    (11, "埼玉県", "Saitama"),
    (12, "千葉県", "Chiba"),
    (13, "東京都", "Tokyo"),
    (14, "神奈川県", "Kanagawa"),
    (15, "新潟県", "Niigata"),
    (16, "富山県", "Toyama"),
    (17, "石川県", "Ishikawa"),
    (18, "福井県", "Fukui"),
    (19, "山梨県", "Yamanashi"),
    (20, "長野県", "Nagano"),
    (21, "岐阜県", "Gifu"),
    (22, "静岡県", "Shizuoka"),
    (23, "愛知県", "Aichi"),
    (24, "三重県", "Mie"),
    (25, "滋賀県", "Shiga"),
    (26, "京都府", "Kyoto"),
    (27, "大阪府", "Osaka"),
    (28, "兵庫県", "Hyogo"),
    (29, "奈良県", "Nara"),
    (30, "和歌山県", "Wakayama"),
    (31, "鳥取県", "Tottori"),
    (32, "島根県", "Shimane"),
    (33, "岡山県", "Okayama"),
    (34, "広島県", "Hiroshima"),
    (35, "山口県", "Yamaguchi"),
    (36, "徳島県", "Tokushima"),
    (37, "香川県", "Kagawa"),
    (38, "愛媛県", "Ehime"),
    (39, "高知県", "Kochi"),
    (40, "福岡県", "Fukuoka"),
    (41, "佐賀県", "Saga"),
    (42, "長崎県", "Nagasaki"),
    (43, "熊本県", "Kumamoto"),
    (44, "大分県", "Oita"),
    (45, "宮崎県", "Miyazaki"),
    (46, "鹿児島県", "Kagoshima"),
    (47, "沖縄県", "Okinawa"),
];

impl Prefecture {
    pub fn from_code(code: u8) -> Option<Prefecture> {
        PREFECTURES.iter().find(|p| p.0 == code).map(|&(code, name, name_en)| Prefecture { code, name, name_en })
    }

    /// Reads a prefecture given as its name (東京都, 東京), its romanised name (Tokyo,
    /// tokyo-to, Tokyo Prefecture) or its JIS code (13, 01).
    pub fn parse(input: &str) -> Result<Prefecture, JpInputError> {
        let s = fold_width(input).trim().to_string();
        if s.is_empty() {
            return Err(JpInputError::Prefecture);
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().ok().and_then(Prefecture::from_code).ok_or(JpInputError::Prefecture);
        }
        let latin = s.to_ascii_lowercase().replace(['ō', 'ū'], "o");
        let latin = latin
            .trim_end_matches(" prefecture")
            .trim_end_matches(" metropolis")
            .trim_end_matches("-ken")
            .trim_end_matches("-fu")
            .trim_end_matches("-to")
            .trim_end_matches(" ken")
            .trim_end_matches(" fu")
            .trim_end_matches(" to");
        PREFECTURES
            .iter()
            .find(|(_, name, en)| {
                // one suffix only: 京都府 is 京都, never 京
                let short = name.strip_suffix(['都', '府', '県']).unwrap_or(name);
                // 北海道 keeps its 道: "北海" is not a way people write it
                *name == s || (short == s && *name != "北海道") || en.eq_ignore_ascii_case(latin)
            })
            .map(|&(code, name, name_en)| Prefecture { code, name, name_en })
            .ok_or(JpInputError::Prefecture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_numbers_of_real_corporations_pass_and_one_digit_off_fails() {
        // 国税庁 (法人番号 7000012050002) and トヨタ自動車 (1180301018771), as published
        for n in ["T7000012050002", "T1180301018771", "T7123456789012"] {
            assert_eq!(normalize_registration_number(n).as_deref(), Ok(n));
        }
        for bad in [
            "T6000012050002",
            "T1180301018772",
            "T2180301018771",
            "7000012050002",
            "T700001205000",
            "T70000120500021",
            "X7000012050002",
        ] {
            assert_eq!(normalize_registration_number(bad), Err(JpInputError::RegistrationNumber), "{bad}");
        }
    }

    #[test]
    fn phone_forms_normalise_to_one_e164() {
        for form in [
            "090-1234-5678",
            "09012345678",
            "+81 90 1234 5678",
            "+81-90-1234-5678",
            "+81 090 1234 5678",
            "０９０－１２３４－５６７８",
            "０９０ー１２３４ー５６７８",
            "(090) 1234-5678",
            "＋８１９０１２３４５６７８",
        ] {
            assert_eq!(normalize_phone(form).as_deref(), Ok("+819012345678"), "{form}");
        }
        assert_eq!(normalize_phone("03-1234-5678").unwrap(), "+81312345678");
        assert_eq!(normalize_phone("0120-123-456").unwrap(), "+81120123456");
        assert_eq!(normalize_phone("+1 415 555 0100").unwrap(), "+14155550100");
    }

    #[test]
    fn bad_phones_are_refused() {
        for bad in ["", "12345", "090-1234", "090-1234-5678-9", "phone", "0012345678", "+81 0", "090x12345678"] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn registration_numbers_carry_the_nta_check_digit() {
        // corporate numbers of the NTA's worked example and of a listed company
        for ok in
            ["T7123456789012", "T4011001098993", "t7123456789012", "Ｔ７１２３４５６７８９０１２", "T 7123-4567-89012"]
        {
            assert!(normalize_registration_number(ok).is_ok(), "{ok}");
        }
        assert_eq!(normalize_registration_number("t4011001098993").unwrap(), "T4011001098993");
        for bad in ["7123456789012", "T712345678901", "T71234567890123", "T8123456789012", "TX123456789012", "", "T"] {
            assert!(normalize_registration_number(bad).is_err(), "{bad}");
        }
        // every wrong check digit is caught
        for wrong in (0..=9).filter(|d| *d != 7) {
            assert!(normalize_registration_number(&format!("T{wrong}123456789012")).is_err());
        }
    }

    #[test]
    fn postal_codes() {
        for form in ["123-4567", "1234567", "１２３－４５６７", "〒123-4567", " 123 4567 "] {
            assert_eq!(normalize_postal_code(form).as_deref(), Ok("123-4567"), "{form}");
        }
        for bad in ["123456", "12-34567", "1234-567", "abc-defg", "123-45678", ""] {
            assert!(normalize_postal_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefecture_forms() {
        for form in ["東京都", "東京", "Tokyo", "tokyo", "TOKYO", "Tokyo-to", "13", "１３"] {
            assert_eq!(Prefecture::parse(form).map(|p| p.code), Ok(13), "{form}");
        }
        assert_eq!(Prefecture::parse("01").unwrap().name, "北海道");
        assert_eq!(Prefecture::parse("大阪").unwrap().name, "大阪府");
        assert_eq!(Prefecture::parse("京都").unwrap().name, "京都府");
        assert_eq!(Prefecture::parse("Kyoto-fu").unwrap().code, 26);
        assert_eq!(Prefecture::parse("Osaka Prefecture").unwrap().code, 27);
        for bad in ["", "0", "48", "東京府", "Edo", "北海"] {
            assert!(Prefecture::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_prefecture_reads_by_each_form() {
        for (code, name, en) in PREFECTURES {
            assert_eq!(Prefecture::parse(name).unwrap().code, code);
            assert_eq!(Prefecture::parse(en).unwrap().code, code);
            assert_eq!(Prefecture::parse(&format!("{code:02}")).unwrap().code, code);
        }
    }
}

/// Property tests: every form people type is read the same, whatever the decoration, and no
/// input makes a parser panic or return something malformed.
#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Full-width form of the ASCII in `s` (what a Japanese IME types).
    fn full_width(s: &str) -> String {
        s.chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                ' ' => '\u{3000}',
                c => c,
            })
            .collect()
    }

    /// Every form a prefecture is accepted in, for the one at `index` of [`PREFECTURES`].
    fn accepted_forms(index: usize) -> Vec<String> {
        let (code, name, en) = PREFECTURES[index];
        let mut forms = vec![name.to_string(), en.to_string(), en.to_lowercase(), en.to_uppercase()];
        forms.push(code.to_string());
        forms.push(format!("{code:02}"));
        if name != "北海道" {
            forms.push(name.strip_suffix(['都', '府', '県']).unwrap_or(name).to_string());
        }
        let suffix = match name.chars().last() {
            Some('都') => "to",
            Some('府') => "fu",
            Some('県') => "ken",
            _ => "",
        };
        if !suffix.is_empty() {
            forms.push(format!("{en}-{suffix}"));
            forms.push(format!("{en} {suffix}"));
        }
        forms.push(format!("{en} Prefecture"));
        forms
    }

    #[test]
    fn all_47_read_in_each_accepted_form_typed_half_or_full_width() {
        for (index, (code, ..)) in PREFECTURES.iter().enumerate() {
            for form in accepted_forms(index) {
                for typed in [form.clone(), full_width(&form)] {
                    assert_eq!(Prefecture::parse(&typed).map(|p| p.code), Ok(*code), "{typed}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn every_prefecture_reads_in_every_accepted_form(
            index in 0usize..47,
            pick in any::<prop::sample::Index>(),
            wide in any::<bool>(),
            pad in prop::sample::select(vec!["", " ", "\u{3000}", "  "]),
        ) {
            let forms = accepted_forms(index);
            let form = pick.get(&forms);
            let typed = if wide { full_width(form) } else { form.clone() };
            let input = format!("{pad}{typed}{pad}");
            let p = Prefecture::parse(&input);
            prop_assert_eq!(p.map(|p| p.code), Ok(PREFECTURES[index].0), "{:?}", input);
        }

        #[test]
        fn a_prefecture_reads_back_from_its_own_name(index in 0usize..47) {
            let p = Prefecture::parse(PREFECTURES[index].1).unwrap();
            prop_assert_eq!(Prefecture::parse(p.name), Ok(p));
            prop_assert_eq!(Prefecture::parse(p.name_en), Ok(p));
        }

        #[test]
        fn no_text_reads_as_a_prefecture_it_is_not(s in "\\PC{0,12}") {
            if let Ok(p) = Prefecture::parse(&s) {
                // whatever was read is one of the 47, and reading its name gives it back
                prop_assert_eq!(Prefecture::from_code(p.code), Some(p));
            }
        }

        #[test]
        fn postal_codes_in_every_form_normalise_to_one(
            digits in "[0-9]{7}",
            form in 0u8..4,
            wide in any::<bool>(),
        ) {
            let (a, b) = digits.split_at(3);
            let typed = match form {
                0 => format!("{a}-{b}"),
                1 => digits.clone(),
                2 => format!("〒{a}-{b}"),
                _ => format!(" {a} {b} "),
            };
            let typed = if wide { full_width(&typed) } else { typed };
            let want = format!("{a}-{b}");
            prop_assert_eq!(normalize_postal_code(&typed), Ok(want));
        }

        #[test]
        fn a_normalised_postal_code_has_its_shape(s in "\\PC{0,12}") {
            if let Ok(p) = normalize_postal_code(&s) {
                prop_assert!(p.len() == 8 && p.as_bytes()[3] == b'-', "{p}");
                prop_assert_eq!(normalize_postal_code(&p), Ok(p.clone()));
            }
        }

        #[test]
        fn mobile_numbers_in_every_form_normalise_to_e164(
            prefix in prop::sample::select(vec!["070", "080", "090"]),
            rest in "[0-9]{8}",
            form in 0u8..5,
            wide in any::<bool>(),
        ) {
            let (a, b) = rest.split_at(4);
            let national = &prefix[1..];
            let typed = match form {
                0 => format!("{prefix}-{a}-{b}"),
                1 => format!("{prefix}{rest}"),
                2 => format!("+81 {national} {a} {b}"),
                3 => format!("({prefix}) {a}-{b}"),
                _ => format!("+81-{prefix}-{a}-{b}"),
            };
            let typed = if wide { full_width(&typed) } else { typed };
            prop_assert_eq!(normalize_phone(&typed), Ok(format!("+81{national}{rest}")));
        }

        #[test]
        fn a_normalised_phone_is_e164_and_stable(s in "[0-9+() \\-ー－０-９]{0,20}") {
            if let Ok(p) = normalize_phone(&s) {
                prop_assert!(p.starts_with('+') && p[1..].bytes().all(|b| b.is_ascii_digit()), "{p}");
                prop_assert!((8..=16).contains(&p.len()), "{p}");
                prop_assert_eq!(normalize_phone(&p), Ok(p.clone()));
            }
        }

        #[test]
        fn width_folding_is_idempotent_and_keeps_ascii(s in "\\PC{0,32}", ascii in "[ -~]{0,32}") {
            let once = fold_width(&s);
            prop_assert_eq!(fold_width(&once), once.clone());
            prop_assert_eq!(fold_width(&ascii), ascii.clone());
            prop_assert_eq!(fold_width(&full_width(&ascii)).replace('\u{3000}', " "), ascii.replace('ー', "-"));
            let compat = fold_compat(&s);
            prop_assert_eq!(fold_compat(&compat), compat);
        }
    }
}
