//! Text PostgreSQL cannot store. Its `text` type holds any Unicode but the NUL character (a Rust
//! `String` can hold it; the database refuses the statement). Input is checked where it enters:
//! the HTTP layer for paths, queries and headers (`%00`), `ApiJson` for bodies (`\u0000`), the
//! CSV readers for files.

/// The 1-based line of the first NUL character in `text`, if there is one.
///
/// ```
/// assert_eq!(tenpo_kernel::text::nul_line("a\nb\0c"), Some(2));
/// assert_eq!(tenpo_kernel::text::nul_line("a\nb"), None);
/// ```
pub fn nul_line(text: &str) -> Option<usize> {
    text.find('\0').map(|at| text[..at].matches('\n').count() + 1)
}

/// Whether percent-encoded text (a URI's path or query string) decodes to a NUL character.
/// A URI cannot carry NUL itself, only its escape.
///
/// ```
/// assert!(tenpo_kernel::text::encodes_nul("/stores/x%00/products"));
/// assert!(!tenpo_kernel::text::encodes_nul("q=%2500"));
/// ```
pub fn encodes_nul(s: &str) -> bool {
    s.contains("%00")
}
