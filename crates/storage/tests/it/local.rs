//! The local backend end to end: streamed put, head, signed links, their verification, serving
//! with Range, the size limit.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tenpo_storage::local::LocalFiles;
use tenpo_storage::{
    DownloadOptions, LinkError, LocalSettings, ObjectKey, Provider, Secret, Storage, StorageError, StorageSettings,
};

use crate::support::{chunks, files_under, pattern, read_all, sha256_hex};

struct Local {
    storage: Storage,
    dir: tempfile::TempDir,
}

impl Local {
    fn objects(&self) -> std::path::PathBuf {
        self.dir.path().join("objects")
    }
    fn files(&self) -> &LocalFiles {
        self.storage.local_files().expect("local provider")
    }
}

fn local(max_object_bytes: u64) -> Local {
    local_with_secret(max_object_bytes, "a test secret that is long enough!!")
}

fn local_with_secret(max_object_bytes: u64, secret: &str) -> Local {
    let dir = tempfile::tempdir().unwrap();
    let settings = StorageSettings {
        max_object_bytes,
        local: LocalSettings { signing_secret: Some(Secret::new(secret)), ..LocalSettings::default() },
        ..StorageSettings::default()
    };
    let storage = Storage::from_settings(&settings, dir.path()).unwrap();
    Local { storage, dir }
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::parse(s).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// The path and query of a local download URL (`/files/<key>?<query>`).
fn split_link(url: &str) -> (String, String) {
    let (path, query) = url.split_once('?').unwrap();
    (path.strip_prefix("/files/").unwrap().to_string(), query.to_string())
}

#[tokio::test]
async fn local_put_streams_into_a_file_and_head_describes_it() {
    let l = local(10 * 1024 * 1024);
    assert_eq!(l.storage.provider(), Provider::Local);
    let data = pattern(300_000);
    let k = key("t/1/assets/2/book.pdf");

    let stored = l.storage.put(&k, "application/pdf", chunks(&data, 16 * 1024)).await.unwrap();
    assert_eq!(stored.provider, Provider::Local);
    assert_eq!(stored.provider.as_str(), "local");
    assert_eq!(stored.key, k);
    assert_eq!(stored.size, 300_000);
    assert_eq!(stored.sha256, sha256_hex(&data));
    assert_eq!(stored.content_type, "application/pdf");

    let file = l.objects().join("t/1/assets/2/book.pdf");
    assert_eq!(std::fs::read(&file).unwrap(), data);
    assert_eq!(files_under(&l.objects()), vec![file], "no staging files left");

    let info = l.storage.head(&k).await.unwrap().expect("exists");
    assert_eq!(info.size, 300_000);
    assert_eq!(info.content_type, None);
    assert_eq!(read_all(&l.storage, &k).await, data);
    assert!(l.storage.head(&key("t/1/assets/2/other.pdf")).await.unwrap().is_none());

    // An empty object is an object.
    let empty = l.storage.put(&key("empty"), "text/plain", chunks(&[], 1)).await.unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(empty.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[tokio::test]
async fn local_put_replaces_and_delete_removes() {
    let l = local(1024 * 1024);
    let k = key("a/b/c.bin");
    l.storage.put(&k, "application/octet-stream", chunks(b"first", 2)).await.unwrap();
    let second = l.storage.put(&k, "application/octet-stream", chunks(b"second version", 3)).await.unwrap();
    assert_eq!(second.size, 14);
    assert_eq!(read_all(&l.storage, &k).await, b"second version");

    l.storage.delete(&k).await.unwrap();
    assert!(l.storage.head(&k).await.unwrap().is_none());
    assert!(matches!(l.storage.get(&k).await, Err(StorageError::NotFound)));
    l.storage.delete(&k).await.unwrap(); // deleting what is gone is fine
    assert!(files_under(&l.objects()).is_empty());
}

#[tokio::test]
async fn local_put_over_the_limit_is_refused_and_leaves_nothing_behind() {
    for part_size in [8 * 1024 * 1024, 1000] {
        // With 1000-byte parts the upload is already a multipart (staging file) when the limit is hit.
        let l = local(10_000);
        let storage = l.storage.clone().with_part_size(part_size);
        let k = key("big/file.bin");

        let exact = storage.put(&key("exact.bin"), "application/octet-stream", chunks(&pattern(10_000), 999)).await;
        assert_eq!(exact.unwrap().size, 10_000, "exactly the limit is allowed");

        let err = storage.put(&k, "application/octet-stream", chunks(&pattern(10_001), 999)).await.unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { limit: 10_000 }), "{err}");
        assert!(storage.head(&k).await.unwrap().is_none());
        assert_eq!(files_under(&l.objects()), vec![l.objects().join("exact.bin")], "part size {part_size}");

        // A failed replacement keeps the object that was there.
        let err = storage
            .put(&key("exact.bin"), "application/octet-stream", chunks(&pattern(50_000), 4096))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::TooLarge { .. }));
        assert_eq!(read_all(&storage, &key("exact.bin")).await, pattern(10_000));
    }
}

#[tokio::test]
async fn local_put_of_a_failing_stream_leaves_nothing_behind() {
    let l = local(1024 * 1024);
    let storage = l.storage.clone().with_part_size(1000);
    let pieces: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(pattern(3000))),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away")),
    ];
    let err = storage.put(&key("broken"), "application/octet-stream", futures::stream::iter(pieces)).await.unwrap_err();
    assert!(matches!(err, StorageError::Body(_)), "{err}");
    assert!(files_under(&l.objects()).is_empty());

    let err = storage.put(&key("x"), "not a type", chunks(b"x", 1)).await.unwrap_err();
    assert!(matches!(err, StorageError::InvalidContentType(_)));
}

#[tokio::test]
async fn local_signed_url_verifies_and_serves_the_file() {
    let l = local(1024 * 1024);
    let k = key("t/1/assets/2/book.pdf");
    let data = pattern(1000);
    l.storage.put(&k, "application/pdf", chunks(&data, 100)).await.unwrap();

    let now = at("2026-04-01T10:00:00.250Z");
    let opts = DownloadOptions::new().filename("写真集 Vol.1.pdf").content_type("application/pdf");
    let signed = l.storage.download_url_at(&k, now, now + Duration::seconds(300), &opts).unwrap();
    assert!(signed.url.starts_with("/files/t/1/assets/2/book.pdf?expires="), "{}", signed.url);
    assert_eq!(signed.expires_at, at("2026-04-01T10:05:00Z"));

    let (path, query) = split_link(&signed.url);
    let download = l.files().verify(&path, Some(&query), now + Duration::seconds(10)).unwrap();
    assert_eq!(download.key, k);
    assert_eq!(download.expires_at, signed.expires_at);
    assert_eq!(download.filename.as_deref(), Some("写真集 Vol.1.pdf"));
    assert_eq!(download.content_type.as_deref(), Some("application/pdf"));

    let response = l.files().respond(&download, &HeaderMap::new()).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    let h = &response.headers;
    assert_eq!(h[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(h[header::CONTENT_LENGTH], "1000");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(
        h[header::CONTENT_DISPOSITION],
        "attachment; filename=\"___ Vol.1.pdf\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%E9%9B%86%20Vol.1.pdf"
    );
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert!(h.contains_key(header::ETAG) && h.contains_key(header::LAST_MODIFIED));
    assert_eq!(body(response.into_http().into_body()).await, data);

    // Without filename and type: attachment, octet-stream.
    let plain = l.storage.download_url_at(&k, now, now + Duration::seconds(60), &DownloadOptions::new()).unwrap();
    let (path, query) = split_link(&plain.url);
    let download = l.files().verify(&path, Some(&query), now).unwrap();
    let response = l.files().respond(&download, &HeaderMap::new()).await.unwrap();
    assert_eq!(response.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(response.headers[header::CONTENT_DISPOSITION], "attachment");

    // A link to an object that is gone verifies, but there is nothing to serve.
    l.storage.delete(&k).await.unwrap();
    assert!(matches!(l.files().respond(&download, &HeaderMap::new()).await, Err(StorageError::NotFound)));
}

#[tokio::test]
async fn local_signed_url_refuses_tampering_and_expiry() {
    let l = local(1024 * 1024);
    let k = key("t/1/assets/2/book.pdf");
    let now = at("2026-04-01T10:00:00Z");
    let opts = DownloadOptions::new().filename("book.pdf").content_type("application/pdf");
    let signed = l.storage.download_url_at(&k, now, now + Duration::seconds(300), &opts).unwrap();
    let (path, query) = split_link(&signed.url);
    let files = l.files();
    assert!(files.verify(&path, Some(&query), now).is_ok());

    let invalid = |path: &str, query: &str| {
        assert_eq!(files.verify(path, Some(query), now), Err(LinkError::Invalid), "{path}?{query}");
    };
    // The signature itself altered: one hex digit, truncated, missing, not hex.
    let sig = query.rsplit_once("sig=").unwrap().1.to_string();
    let flipped = format!("{}{}", &sig[..63], if sig.ends_with('0') { "1" } else { "0" });
    invalid(&path, &query.replace(&sig, &flipped));
    invalid(&path, &query.replace(&sig, &sig[..62]));
    invalid(&path, &query.replace(&format!("&sig={sig}"), ""));
    invalid(&path, &query.replace(&sig, &"zz".repeat(32)));
    // Another key, a later expiry, another filename or type, a parameter dropped or added.
    invalid("t/1/assets/3/book.pdf", &query);
    invalid("../t/1/assets/2/book.pdf", &query);
    let expires = (now + Duration::seconds(300)).timestamp();
    invalid(&path, &query.replace(&format!("expires={expires}"), &format!("expires={}", expires + 86_400)));
    invalid(&path, &query.replace("filename=book.pdf", "filename=other.pdf"));
    invalid(&path, &query.replace("type=application%2Fpdf", "type=text%2Fhtml"));
    invalid(&path, &query.replace("filename=book.pdf&", ""));
    invalid(&path, &format!("{query}&type=text%2Fhtml"));
    invalid(&path, &format!("{query}&extra=1"));
    invalid(&path, "");

    // A link signed by another deployment (another secret) is invalid too.
    let other = local_with_secret(1024, "another deployment's secret, also long");
    let foreign = other.storage.download_url_at(&k, now, now + Duration::seconds(300), &opts).unwrap();
    let (fpath, fquery) = split_link(&foreign.url);
    assert_eq!(files.verify(&fpath, Some(&fquery), now), Err(LinkError::Invalid));

    // Genuine but expired: a distinct error, from the expiry instant on.
    let expired_at = signed.expires_at;
    assert!(files.verify(&path, Some(&query), expired_at - Duration::seconds(1)).is_ok());
    for later in [expired_at, expired_at + Duration::days(1)] {
        let err = files.verify(&path, Some(&query), later).unwrap_err();
        assert_eq!(err, LinkError::Expired { expired_at });
        assert_eq!(err.status(), StatusCode::GONE);
        assert_eq!(err.code(), "download_link_expired");
    }
    assert_eq!(LinkError::Invalid.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn local_serving_honours_range_requests() {
    let l = local(1024 * 1024);
    let k = key("music/track.flac");
    let data = pattern(200_000);
    l.storage.put(&k, "audio/flac", chunks(&data, 65_536)).await.unwrap();
    let now = Utc::now();
    let signed = l.storage.download_url_at(&k, now, now + Duration::seconds(60), &DownloadOptions::new()).unwrap();
    let (path, query) = split_link(&signed.url);
    let download = l.files().verify(&path, Some(&query), now).unwrap();

    let get = |range: Option<&str>, if_range: Option<String>| {
        let mut headers = HeaderMap::new();
        if let Some(r) = range {
            headers.insert(header::RANGE, HeaderValue::from_str(r).unwrap());
        }
        if let Some(c) = if_range {
            headers.insert(header::IF_RANGE, HeaderValue::from_str(&c).unwrap());
        }
        let files = l.files().clone();
        let download = download.clone();
        async move { files.respond(&download, &headers).await.unwrap() }
    };

    let r = get(Some("bytes=100-199"), None).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers[header::CONTENT_RANGE], "bytes 100-199/200000");
    assert_eq!(r.headers[header::CONTENT_LENGTH], "100");
    let etag = r.headers[header::ETAG].to_str().unwrap().to_string();
    let last_modified = r.headers[header::LAST_MODIFIED].to_str().unwrap().to_string();
    assert_eq!(body(r.body).await, &data[100..200]);

    // Open-ended, spanning several read chunks.
    let r = get(Some("bytes=70000-"), None).await;
    assert_eq!(r.headers[header::CONTENT_RANGE], "bytes 70000-199999/200000");
    assert_eq!(body(r.body).await, &data[70_000..]);

    let r = get(Some("bytes=-10"), None).await;
    assert_eq!(r.headers[header::CONTENT_RANGE], "bytes 199990-199999/200000");
    assert_eq!(body(r.body).await, &data[199_990..]);

    let r = get(Some("bytes=200000-"), None).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers[header::CONTENT_RANGE], "bytes */200000");
    assert!(body(r.body).await.is_empty());

    // Several ranges, or nonsense: the whole file.
    for h in ["bytes=0-1,5-6", "bytes=9-3", "pages=1-2"] {
        let r = get(Some(h), None).await;
        assert_eq!(r.status, StatusCode::OK, "{h}");
        assert_eq!(body(r.body).await.len(), 200_000);
    }

    // If-Range: the current validator resumes; a stale one gets the whole (new) file.
    let r = get(Some("bytes=5-9"), Some(etag.clone())).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let r = get(Some("bytes=5-9"), Some(last_modified)).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let r = get(Some("bytes=5-9"), Some("\"stale\"".into())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers[header::CONTENT_LENGTH], "200000");
}

#[tokio::test]
async fn local_signing_key_is_generated_once_and_shared_by_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let settings = StorageSettings::default();
    let first = Storage::from_settings(&settings, dir.path()).unwrap();
    let key_file = dir.path().join("storage-signing.key");
    let key_text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key_text.len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let now = Utc::now();
    let k = key("a");
    let signed = first.download_url_at(&k, now, now + Duration::seconds(60), &DownloadOptions::new()).unwrap();
    let (path, query) = split_link(&signed.url);

    let second = Storage::from_settings(&settings, dir.path()).unwrap();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key_text);
    assert!(second.local_files().unwrap().verify(&path, Some(&query), now).is_ok());

    // A configured secret that is too short is refused.
    let weak = StorageSettings {
        local: LocalSettings { signing_secret: Some(Secret::new("short")), ..LocalSettings::default() },
        ..StorageSettings::default()
    };
    assert!(matches!(Storage::from_settings(&weak, dir.path()), Err(StorageError::Config(_))));
}

#[tokio::test]
async fn download_expiry_is_the_ttl_or_the_delivery_expiry_whichever_is_sooner() {
    let l = local(1024);
    let now = at("2026-04-01T10:00:00Z");
    assert_eq!(l.storage.download_url_ttl().as_secs(), 300);
    assert_eq!(l.storage.download_expiry(now, None), at("2026-04-01T10:05:00Z"));
    assert_eq!(l.storage.download_expiry(now, Some(at("2026-04-01T10:01:00Z"))), at("2026-04-01T10:01:00Z"));
    assert_eq!(l.storage.download_expiry(now, Some(at("2026-05-01T00:00:00Z"))), at("2026-04-01T10:05:00Z"));
    assert!(l.storage.check_provider("local").is_ok());
    assert!(matches!(l.storage.check_provider("s3"), Err(StorageError::ProviderMismatch { .. })));

    let k = key("a");
    let past = l.storage.download_url_at(&k, now, now - Duration::seconds(1), &DownloadOptions::new());
    assert!(matches!(past, Err(StorageError::InvalidExpiry(_))));
    let bad_name = DownloadOptions::new().filename("a\r\nb");
    let err = l.storage.download_url_at(&k, now, now + Duration::seconds(60), &bad_name);
    assert!(matches!(err, Err(StorageError::InvalidFilename(_))));
}

async fn body(mut stream: impl futures::Stream<Item = std::io::Result<Bytes>> + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// What the HTTP layer needs: a `Storage` in `AppState`, and `put` awaited in an axum handler
/// on a body stream.
#[test]
fn storage_fits_in_app_state_and_put_is_send() {
    fn app_state<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send>(_: &T) {}
    app_state::<Storage>();
    app_state::<LocalFiles>();

    let l = local(1024);
    let k = key("a");
    let body = futures::stream::iter(vec![Ok::<_, Box<dyn std::error::Error + Send + Sync>>(Bytes::new())]);
    let put = l.storage.put(&k, "text/plain", body);
    send(&put);
    let download =
        tenpo_storage::VerifiedDownload { key: k.clone(), expires_at: Utc::now(), filename: None, content_type: None };
    let headers = HeaderMap::new();
    let respond = l.files().respond(&download, &headers);
    send(&respond);
}
