//! Test helpers: byte streams; the s3rver process is `tenpo_storage::testing::S3rver`.

use std::convert::Infallible;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};

/// `len` bytes that are not all alike, so a misplaced range or chunk shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

/// `data` as a stream of `chunk`-sized pieces, as a request body arrives.
pub fn chunks(data: &[u8], chunk: usize) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + use<> {
    let pieces: Vec<Result<Bytes, Infallible>> = data.chunks(chunk).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    futures::stream::iter(pieces)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub async fn read_all(storage: &tenpo_storage::Storage, key: &tenpo_storage::ObjectKey) -> Vec<u8> {
    let mut stream = storage.get(key).await.expect("get");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

/// Every file under `dir` (objects, staging files, anything left behind).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

pub use tenpo_storage::testing::S3rver;
