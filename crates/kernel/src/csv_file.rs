//! CSV files as spreadsheets want them: one encoder for every export, and the line numbers and
//! quoting checks every import reports with.
//!
//! Exports are written as UTF-8 text by their domain, then encoded here in the encoding the
//! caller asked for: UTF-8 with a byte-order mark (Excel on Windows opens it as UTF-8), plain
//! UTF-8 (programs), or Shift_JIS (Windows-31J, what older Japanese accounting and carrier
//! software reads). A character Shift_JIS cannot hold refuses the export naming its line; the
//! only substitutions are the characters Windows itself writes in their place (〜 for ～ and the
//! like), which every Japanese reader shows the same.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::Problem;

/// How a CSV export is encoded (`?encoding=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum CsvEncoding {
    /// UTF-8 with a byte-order mark: Excel opens it as UTF-8.
    #[serde(rename = "utf-8-bom")]
    Utf8Bom,
    /// Shift_JIS (Windows-31J), for older Japanese software.
    #[serde(rename = "shift_jis")]
    ShiftJis,
    /// UTF-8 without a byte-order mark, for programs.
    #[serde(rename = "utf-8")]
    Utf8,
}

impl CsvEncoding {
    /// The `Content-Type` of a file in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            CsvEncoding::Utf8Bom | CsvEncoding::Utf8 => "text/csv; charset=utf-8",
            CsvEncoding::ShiftJis => "text/csv; charset=shift_jis",
        }
    }
}

/// An encoded CSV file on its way to a download.
#[derive(Debug, Clone)]
pub struct CsvFile {
    pub bytes: Vec<u8>,
    pub encoding: CsvEncoding,
    /// The name the browser saves it under (`orders.csv`).
    pub filename: &'static str,
}

impl CsvFile {
    pub fn content_type(&self) -> &'static str {
        self.encoding.content_type()
    }
    pub fn content_disposition(&self) -> String {
        format!("attachment; filename=\"{}\"", self.filename)
    }
}

/// A character the asked encoding cannot hold, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "line {line} holds {character:?} (U+{code:04X}), which Shift_JIS cannot hold; download the file as utf-8-bom or change that text",
    code = *character as u32
)]
pub struct CsvUnencodable {
    /// Line of the file (the header is line 1).
    pub line: usize,
    pub character: char,
}

impl Problem for CsvUnencodable {
    fn status(&self) -> u16 {
        422
    }
    fn code(&self) -> &'static str {
        "csv_unencodable"
    }
}

/// Characters Windows' Shift_JIS (Windows-31J) writes in place of Unicode's own: the text is
/// the same to a Japanese reader, and Excel writes these very code points.
fn windows_lookalike(c: char) -> Option<char> {
    Some(match c {
        '\u{301C}' => '\u{FF5E}', // 〜 WAVE DASH → ～
        '\u{2212}' => '\u{FF0D}', // − MINUS SIGN → －
        '\u{2016}' => '\u{2225}', // ‖ → ∥
        '\u{2014}' => '\u{2015}', // — EM DASH → ―
        '\u{00A2}' => '\u{FFE0}', // ¢ → ￠
        '\u{00A3}' => '\u{FFE1}', // £ → ￡
        '\u{00AC}' => '\u{FFE2}', // ¬ → ￢
        _ => return None,
    })
}

fn sjis_holds(c: char) -> bool {
    let mut buf = [0u8; 4];
    !encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut buf)).2
}

/// Text in Shift_JIS, with Windows' look-alikes substituted; the first character it cannot
/// hold refuses it, naming the line.
pub fn shift_jis(text: &str) -> Result<Vec<u8>, CsvUnencodable> {
    let text: String = text.chars().map(|c| windows_lookalike(c).unwrap_or(c)).collect();
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    if !unmappable {
        return Ok(bytes.into_owned());
    }
    let mut line = 1;
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        } else if !sjis_holds(c) {
            return Err(CsvUnencodable { line, character: c });
        }
    }
    // the encoder and the per-character check agree; kept for safety
    Err(CsvUnencodable { line: 1, character: '\u{FFFD}' })
}

/// An export's UTF-8 text as a file in the asked encoding.
pub fn encode(text: &str, encoding: CsvEncoding, filename: &'static str) -> Result<CsvFile, CsvUnencodable> {
    let bytes = match encoding {
        CsvEncoding::Utf8 => text.as_bytes().to_vec(),
        CsvEncoding::Utf8Bom => {
            let mut out = Vec::with_capacity(text.len() + 3);
            out.extend_from_slice(b"\xEF\xBB\xBF");
            out.extend_from_slice(text.as_bytes());
            out
        }
        CsvEncoding::ShiftJis => shift_jis(text)?,
    };
    Ok(CsvFile { bytes, encoding, filename })
}

/// Line numbers of a CSV text, counted from its bytes (LF, CRLF and lone CR all end a line).
/// The csv crate's own record positions lag one line behind after a CRLF, which is what Excel
/// writes; importers ask this instead, with the record's byte offset.
pub struct Lines<'t> {
    text: &'t [u8],
    /// Byte offset of the start of each line after the first.
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Self {
        let b = text.as_bytes();
        let mut starts = Vec::new();
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                starts.push(i + 1);
            }
        }
        Lines { text: b, starts }
    }

    /// The line (from 1) a record starting at byte `at` is on: line ends before it (the rest
    /// of the previous record's terminator, blank lines) are skipped, as the reader skips them.
    pub fn line_of(&self, at: u64) -> u64 {
        let mut at = at as usize;
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        (self.starts.partition_point(|s| *s <= at) + 1) as u64
    }
}

/// A quote left open (a field that starts with `"` and never closes), or text after a closing
/// quote: the csv reader would silently read either as data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("line {line}: a quoted field is never closed (a \" opens it and no \" ends it)")]
    Unclosed { line: u64 },
    #[error("line {line}: text follows a closing quote; a \" inside a quoted field is written \"\"")]
    AfterClose { line: u64 },
}

/// Checks the quoting of a CSV text (RFC 4180: a field is quoted from its first character, a
/// quote inside is doubled, a closing quote is followed by a comma or a line end).
pub fn check_quotes(text: &str) -> Result<(), QuoteError> {
    let b = text.as_bytes();
    let mut line = 1u64;
    let mut i = 0;
    let mut field_start = true;
    while i < b.len() {
        let c = b[i];
        if field_start && c == b'"' {
            let opened = line;
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(QuoteError::Unclosed { line: opened }),
                    Some(b'"') if b.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b'\n') => {
                        line += 1;
                        i += 1;
                    }
                    Some(b'\r') => {
                        if b.get(i + 1) != Some(&b'\n') {
                            line += 1;
                        }
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
            }
            match b.get(i) {
                None | Some(b',' | b'\r' | b'\n') => {}
                Some(_) => return Err(QuoteError::AfterClose { line }),
            }
            field_start = false;
            continue;
        }
        match c {
            b',' => field_start = true,
            b'\n' => {
                line += 1;
                field_start = true;
            }
            b'\r' => {
                if b.get(i + 1) != Some(&b'\n') {
                    line += 1;
                }
                field_start = true;
            }
            _ => field_start = false,
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_way() {
        let text = "品名,数量\n緑茶〜抹茶,1\n";
        assert_eq!(encode(text, CsvEncoding::Utf8, "x.csv").unwrap().bytes, text.as_bytes());
        assert!(encode(text, CsvEncoding::Utf8Bom, "x.csv").unwrap().bytes.starts_with(b"\xEF\xBB\xBF\xE5\x93\x81"));
        let sjis = encode(text, CsvEncoding::ShiftJis, "x.csv").unwrap().bytes;
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad);
        assert_eq!(back, "品名,数量\n緑茶～抹茶,1\n");
    }

    #[test]
    fn unencodable_names_line_and_character() {
        let e = encode("a\nb\n🍵 tea\n", CsvEncoding::ShiftJis, "x.csv").unwrap_err();
        assert_eq!(e, CsvUnencodable { line: 3, character: '🍵' });
        assert!(e.to_string().contains("U+1F375"), "{e}");
        assert!(encode("🍵", CsvEncoding::Utf8Bom, "x.csv").is_ok());
    }

    #[test]
    fn line_numbers_for_each_line_end() {
        for (text, at, line) in [
            ("h\nr1\nr2\n", 5, 3),
            ("h\r\nr1\r\nr2\r\n", 6, 3),
            // the csv reader leaves the LF of a CRLF before the next record's offset
            ("h\r\nr1\r\nr2\r\n", 7, 3),
            ("h\r\n\r\nr1\r\n", 3, 3),
            ("h\rr1\r", 2, 2),
        ] {
            assert_eq!(Lines::new(text).line_of(at), line, "{text:?} at {at}");
        }
    }

    #[test]
    fn quoting_errors_name_their_line() {
        assert_eq!(check_quotes("a,b\r\n\"x,y\r\nz,w\r\n"), Err(QuoteError::Unclosed { line: 2 }));
        assert_eq!(check_quotes("a,b\n\"x\"y,1\n"), Err(QuoteError::AfterClose { line: 2 }));
        assert_eq!(check_quotes("a,b\n\"x \"\"q\"\" \r\nz\",1\nc,d\n"), Ok(()));
        assert_eq!(check_quotes("a,b\nx\"y,1\n"), Ok(()), "a quote inside an unquoted field is data");
    }
}
