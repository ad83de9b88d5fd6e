//! Reading the bytes of an uploaded CSV: UTF-8 (a BOM is dropped), else Shift_JIS (Windows-31J,
//! what Japanese Excel writes).

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
    }
}
