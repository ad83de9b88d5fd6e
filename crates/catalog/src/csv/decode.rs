//! Reading the bytes of an uploaded CSV: UTF-8 (a BOM is dropped), else Shift_JIS (Windows-31J,
//! what Japanese Excel writes). Text PostgreSQL cannot store (the NUL character) is refused here,
//! naming its line.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    Utf8,
    Utf8Bom,
    ShiftJis,
}

pub struct Decoded {
    pub text: String,
    pub encoding: Encoding,
}

pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let decoded = decode_text(bytes)?;
    if let Some(line) = kernel::text::nul_line(&decoded.text) {
        return Err(format!("line {line} contains the NUL character, which text cannot hold"));
    }
    Ok(decoded)
}

fn decode_text(bytes: &[u8]) -> Result<Decoded, String> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return std::str::from_utf8(rest)
            .map(|t| Decoded { text: t.to_string(), encoding: Encoding::Utf8Bom })
            .map_err(|e| format!("invalid UTF-8 after the byte-order mark at byte {}", e.valid_up_to() + 3));
    }
    if let Ok(t) = std::str::from_utf8(bytes) {
        return Ok(Decoded { text: t.to_string(), encoding: Encoding::Utf8 });
    }
    let (text, had_errors) = encoding_rs::SHIFT_JIS.decode_without_bom_handling(bytes);
    if had_errors {
        return Err("the file is neither UTF-8 nor Shift_JIS text".into());
    }
    Ok(Decoded { text: text.into_owned(), encoding: Encoding::ShiftJis })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_encoding() {
        let text = "Handle,Title\nryokucha,緑茶\n";
        assert_eq!(decode(text.as_bytes()).unwrap().encoding, Encoding::Utf8);
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let d = decode(&bom).unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (Encoding::Utf8Bom, text));
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(text);
        let d = decode(&sjis).unwrap();
        assert_eq!((d.encoding, d.text.as_str()), (Encoding::ShiftJis, text));
        assert!(decode(&[0xff, 0xfe, 0x00, 0x81]).is_err());
        assert_eq!(
            decode(b"Handle\nx\0y\n").err().as_deref(),
            Some("line 2 contains the NUL character, which text cannot hold")
        );
    }

    proptest::proptest! {
        /// Any text reads back as it was written, in each encoding a spreadsheet may save.
        #[test]
        fn text_reads_back_from_each_encoding(text in "[^\\x00\u{feff}][^\\x00]{0,63}", bom in proptest::bool::ANY) {
            let mut bytes = if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(text.as_bytes());
            let d = decode(&bytes).unwrap();
            proptest::prop_assert_eq!(&d.text, &text);
            let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
            // (Shift_JIS has no ¥ of its own: 0x5C reads back as a backslash; such text is not
            // the decoder's to restore)
            let exact = encoding_rs::SHIFT_JIS.decode_without_bom_handling(&sjis).0 == text.as_str();
            if !unmappable && !bom && exact {
                proptest::prop_assert_eq!(decode(&sjis).unwrap().text, text);
            }
        }

        /// No bytes make the decoder panic, and what it accepts holds no NUL.
        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            if let Ok(d) = decode(&bytes) {
                proptest::prop_assert!(!d.text.contains('\0'));
            }
        }
    }
}
