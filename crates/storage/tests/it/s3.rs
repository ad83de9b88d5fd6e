//! S3 against a real S3-compatible server: s3rver, started by each test.
//!
//! s3rver checks the expiry of V4 presigned URLs (403 "Request has expired") but not their
//! signatures; the byte-for-byte vectors in `vectors.rs` prove the signatures.

use chrono::{Duration, Utc};
use tenpo_storage::{DownloadOptions, ObjectKey, Provider, S3Settings, Storage, StorageError, StorageSettings};

use crate::support::{S3rver, chunks, pattern, read_all, sha256_hex};

const BUCKET: &str = "tenpo-test-assets";

async fn s3_storage(server: &S3rver, max_object_bytes: u64) -> Storage {
    server.create_bucket(BUCKET).await;
    let settings = StorageSettings {
        provider: Provider::S3,
        max_object_bytes,
        s3: Some(S3Settings {
            endpoint: Some(server.endpoint()),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key_id: S3rver::ACCESS_KEY_ID.into(),
            secret_access_key_env: "S3RVER_SECRET".into(),
            session_token_env: None,
            path_style: true,
        }),
        ..StorageSettings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    Storage::from_settings_with_env(&settings, dir.path(), |name| {
        (name == "S3RVER_SECRET").then(|| S3rver::SECRET_ACCESS_KEY.to_string())
    })
    .unwrap()
    // S3's minimum part size, so an 11 MiB object goes up in three parts.
    .with_part_size(5 * 1024 * 1024)
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

#[tokio::test]
async fn s3_upload_then_presigned_download_returns_the_exact_bytes_until_it_expires() {
    let server = S3rver::start().await;
    let storage = s3_storage(&server, 64 * 1024 * 1024).await;
    let http = reqwest::Client::new();

    // A multipart upload (11 MiB in 5 MiB parts) and a single-request one.
    let big = pattern(11 * 1024 * 1024 + 123);
    let big_key = key("t/1/assets/2/course.zip");
    let stored = storage.put(&big_key, "application/zip", chunks(&big, 64 * 1024)).await.unwrap();
    assert_eq!(stored.provider.as_str(), "s3");
    assert_eq!(stored.size, big.len() as u64);
    assert_eq!(stored.sha256, sha256_hex(&big));

    let small = b"%PDF-1.7 a very small book".to_vec();
    let small_key = key("t/1/assets/3/book.pdf");
    storage.put(&small_key, "application/pdf", chunks(&small, 5)).await.unwrap();

    let info = storage.head(&big_key).await.unwrap().expect("stored");
    assert_eq!(info.size, big.len() as u64);
    assert_eq!(info.content_type.as_deref(), Some("application/zip"));
    assert_eq!(read_all(&storage, &small_key).await, small);
    assert!(storage.head(&key("t/1/absent")).await.unwrap().is_none());

    // Presign and fetch with a plain HTTP client: the exact bytes, with the signed headers.
    let now = Utc::now();
    let opts = DownloadOptions::new().filename("講座 第1回.zip").content_type("application/zip");
    let signed = storage.download_url_at(&big_key, now, now + Duration::seconds(300), &opts).unwrap();
    assert!(signed.url.starts_with(&format!("{}/{BUCKET}/t/1/assets/2/course.zip?", server.endpoint())));
    let response = http.get(&signed.url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"__ _1_.zip\"; filename*=UTF-8''%E8%AC%9B%E5%BA%A7%20%E7%AC%AC1%E5%9B%9E.zip"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), big.as_slice());

    // The same URL after its expiry is refused by the server.
    // (5 s: the first fetch must come in time on a loaded machine; 2 s sometimes did not)
    let short = storage.download_url(&small_key, Utc::now() + Duration::seconds(5), &DownloadOptions::new()).unwrap();
    assert!(short.url.contains("X-Amz-Expires=4&") || short.url.contains("X-Amz-Expires=5&"), "{}", short.url);
    let response = http.get(&short.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), small.as_slice());
    tokio::time::sleep(
        (short.expires_at - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(1100),
    )
    .await;
    let response = http.get(&short.url).send().await.unwrap();
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("<Code>AccessDenied</Code>") && text.contains("Request has expired"), "{text}");

    // A URL signed two hours ago for a minute is refused the same way.
    let then = Utc::now() - Duration::hours(2);
    let old = storage.download_url_at(&small_key, then, then + Duration::seconds(60), &DownloadOptions::new()).unwrap();
    assert_eq!(http.get(&old.url).send().await.unwrap().status(), 403);

    storage.delete(&big_key).await.unwrap();
    assert!(storage.head(&big_key).await.unwrap().is_none());
    assert_eq!(http.get(&signed.url).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn s3_upload_over_the_limit_is_aborted_and_leaves_no_object() {
    let server = S3rver::start().await;
    let storage = s3_storage(&server, 6 * 1024 * 1024).await;
    let k = key("t/1/assets/9/too-big.bin");

    // Past the first 5 MiB part, so a multipart upload is under way when the limit is hit.
    let err =
        storage.put(&k, "application/octet-stream", chunks(&pattern(7 * 1024 * 1024), 256 * 1024)).await.unwrap_err();
    assert!(matches!(err, StorageError::TooLarge { limit } if limit == 6 * 1024 * 1024), "{err}");
    assert!(storage.head(&k).await.unwrap().is_none());

    // Replacing an existing object with a too-large one keeps the original.
    storage.put(&k, "text/plain", chunks(b"original", 3)).await.unwrap();
    let err =
        storage.put(&k, "application/octet-stream", chunks(&pattern(7 * 1024 * 1024), 1024 * 1024)).await.unwrap_err();
    assert!(matches!(err, StorageError::TooLarge { .. }));
    assert_eq!(read_all(&storage, &k).await, b"original");
    assert_eq!(storage.head(&k).await.unwrap().unwrap().content_type.as_deref(), Some("text/plain"));
}
