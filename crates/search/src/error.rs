use kernel::{PageError, Problem, ValidationErrors};

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The external engine cannot be reached or answered with a server error.
    #[error("the search engine is unavailable: {0}")]
    Unavailable(String),
    /// The engine refused a request or failed a task (a bug or a misconfigured index).
    #[error("the search engine rejected a request: {0}")]
    Rejected(String),
    /// This process opened the embedded index for reading only.
    #[error("the embedded search index is written by another process")]
    ReadOnly,
    #[error("search index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Validation(#[from] ValidationErrors),
    #[error(transparent)]
    Page(#[from] PageError),
}

impl Problem for SearchError {
    fn status(&self) -> u16 {
        match self {
            SearchError::Unavailable(_) => 503,
            SearchError::Validation(e) => e.status(),
            SearchError::Page(e) => e.status(),
            _ => 500,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            SearchError::Unavailable(_) => "search_unavailable",
            SearchError::Validation(e) => e.code(),
            SearchError::Page(e) => e.code(),
            _ => "internal",
        }
    }

    fn fields(&self) -> Vec<kernel::FieldError> {
        match self {
            SearchError::Validation(e) => e.fields(),
            _ => Vec::new(),
        }
    }

    fn retry_after(&self) -> Option<u64> {
        matches!(self, SearchError::Unavailable(_)).then_some(5)
    }
}
