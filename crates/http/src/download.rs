//! CSV downloads: every export's `?encoding=` and its answer, one way.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use kernel::csv_file::{self, CsvEncoding, CsvFile};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::ApiError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    /// `utf-8-bom` (Excel), `shift_jis` (older Japanese software; a character it cannot hold is
    /// 422 `csv_unencodable` naming the line) or `utf-8` (no byte-order mark, for programs).
    /// The default is the export's own (see its description).
    #[param(inline)]
    pub encoding: Option<CsvEncoding>,
}

/// An export's UTF-8 text, encoded as asked (`default` when not), as a download.
pub fn csv(text: &str, q: &CsvQuery, default: CsvEncoding, filename: &'static str) -> Result<Response, ApiError> {
    Ok(answer(csv_file::encode(text, q.encoding.unwrap_or(default), filename)?))
}

pub fn answer(file: CsvFile) -> Response {
    let disposition = file.content_disposition();
    ([(header::CONTENT_TYPE, file.content_type().to_string()), (header::CONTENT_DISPOSITION, disposition)], file.bytes)
        .into_response()
}
