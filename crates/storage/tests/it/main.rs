//! tenpo-storage's integration tests, one binary: known-answer vectors for the URL signers, the
//! local backend end to end, and S3 against a real S3-compatible server (s3rver, started here).

mod local;
mod s3;
mod support;
mod vectors;
