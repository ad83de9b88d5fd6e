//! Known-answer vectors: the URL signers must reproduce published signatures exactly.

use chrono::{DateTime, Duration, Utc};
use tenpo_storage::sign::{GcsSigner, S3Presigner};
use tenpo_storage::{
    DownloadOptions, GcsSettings, ObjectKey, Provider, S3Settings, Storage, StorageError, StorageSettings,
};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// S3: AWS Signature Version 4, query-string authentication.

/// AWS's documented example of a presigned URL ("Authenticating Requests: Using Query
/// Parameters (AWS Signature Version 4)", Amazon S3 API Reference): GET test.txt from
/// examplebucket, signed 2013-05-24T00:00:00Z, valid 86400 s.
const AWS_EXAMPLE_URL: &str = "https://examplebucket.s3.amazonaws.com/test.txt\
?X-Amz-Algorithm=AWS4-HMAC-SHA256\
&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
&X-Amz-Date=20130524T000000Z\
&X-Amz-Expires=86400\
&X-Amz-SignedHeaders=host\
&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

const AWS_EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn aws_example_storage() -> Storage {
    let settings = StorageSettings {
        provider: Provider::S3,
        s3: Some(S3Settings {
            endpoint: Some("https://s3.amazonaws.com".into()),
            region: "us-east-1".into(),
            bucket: "examplebucket".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key_env: "EXAMPLE_SECRET".into(),
            session_token_env: None,
            path_style: false,
        }),
        ..StorageSettings::default()
    };
    let dir = tempfile::tempdir().unwrap();
    Storage::from_settings_with_env(&settings, dir.path(), |name| {
        (name == "EXAMPLE_SECRET").then(|| AWS_EXAMPLE_SECRET.to_string())
    })
    .unwrap()
}

#[test]
fn sigv4_presigner_reproduces_the_aws_example_byte_for_byte() {
    let signer = S3Presigner::new(
        "https://examplebucket.s3.amazonaws.com",
        "us-east-1",
        "AKIAIOSFODNN7EXAMPLE",
        AWS_EXAMPLE_SECRET,
        None,
    )
    .unwrap();
    let url = signer.presign_get("test.txt", &[], at("2013-05-24T00:00:00Z"), 86_400).unwrap();
    assert_eq!(url, AWS_EXAMPLE_URL);
}

#[test]
fn storage_configured_for_s3_signs_the_aws_example_byte_for_byte() {
    let storage = aws_example_storage();
    let now = at("2013-05-24T00:00:00Z");
    let key = ObjectKey::parse("test.txt").unwrap();
    let signed = storage.download_url_at(&key, now, now + Duration::seconds(86_400), &DownloadOptions::new()).unwrap();
    assert_eq!(signed.url, AWS_EXAMPLE_URL);
    assert_eq!(signed.expires_at, at("2013-05-25T00:00:00Z"));
}

#[test]
fn sigv4_expiry_is_never_past_the_requested_instant() {
    let storage = aws_example_storage();
    let key = ObjectKey::parse("test.txt").unwrap();
    let opts = DownloadOptions::new();
    let now = at("2013-05-24T00:00:00.900Z");

    // Whole seconds, counted from the signing second: 90.7 s asked, 90 s given.
    let signed = storage.download_url_at(&key, now, now + Duration::milliseconds(90_700), &opts).unwrap();
    assert!(signed.url.contains("&X-Amz-Expires=90&"), "{}", signed.url);
    assert_eq!(signed.expires_at, at("2013-05-24T00:01:30Z"));
    assert!(signed.expires_at <= now + Duration::milliseconds(90_700));

    // More than 7 days: capped at S3's maximum, earlier than asked.
    let signed = storage.download_url_at(&key, now, now + Duration::days(8), &opts).unwrap();
    assert!(signed.url.contains("&X-Amz-Expires=604800&"), "{}", signed.url);
    assert_eq!(signed.expires_at, at("2013-05-31T00:00:00Z"));

    // Not at least a second ahead: refused rather than signed for a time not asked for.
    for expires_at in [now, now - Duration::seconds(5), now + Duration::milliseconds(999)] {
        assert!(matches!(storage.download_url_at(&key, now, expires_at, &opts), Err(StorageError::InvalidExpiry(_))));
    }
}

/// Vectors made with botocore 1.44.8 (`S3SigV4QueryAuth` with its clock frozen) for what the AWS
/// example does not cover: path style with a port, signed response headers with a Japanese
/// filename, a session token, virtual-hosted style in another region. botocore orders the query
/// differently (its own parameters first), so the parameters are compared as a set and the
/// signature exactly.
#[test]
fn sigv4_presigner_agrees_with_botocore() {
    let disposition = "attachment; filename=\"___ 1.zip\"; filename*=UTF-8''%E5%86%99%E7%9C%9F%E9%9B%86%201.zip";
    assert_eq!(tenpo_storage::content_disposition("写真集 1.zip"), disposition);

    let path_style = S3Presigner::new("http://127.0.0.1:4568/tenpo-assets", "ap-northeast-1", "S3RVER", "S3RVER", None)
        .unwrap()
        .presign_get(
            "t/1/assets/book.pdf",
            &[("response-content-disposition", disposition), ("response-content-type", "application/zip")],
            at("2026-03-01T12:34:56Z"),
            300,
        )
        .unwrap();
    assert_same_url(
        &path_style,
        "http://127.0.0.1:4568/tenpo-assets/t/1/assets/book.pdf?response-content-disposition=attachment%3B%20filename%3D%22___%201.zip%22%3B%20filename%2A%3DUTF-8%27%27%25E5%2586%2599%25E7%259C%259F%25E9%259B%2586%25201.zip&response-content-type=application%2Fzip&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=S3RVER%2F20260301%2Fap-northeast-1%2Fs3%2Faws4_request&X-Amz-Date=20260301T123456Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=c2298fab9511c43f3efd919ec02ff9533ad355576f8cdfa23a8b434d0877441f",
    );

    let with_token = S3Presigner::new(
        "https://tenpo-assets.s3.ap-northeast-1.amazonaws.com",
        "ap-northeast-1",
        "ASIAEXAMPLEKEYID0000",
        "secret/with+chars=",
        Some("FQoGZXIvYXdzEXAMPLE//token+/="),
    )
    .unwrap()
    .presign_get("t/1/a.pdf", &[], at("2026-03-01T12:34:56Z"), 604_800)
    .unwrap();
    assert_same_url(
        &with_token,
        "https://tenpo-assets.s3.ap-northeast-1.amazonaws.com/t/1/a.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLEKEYID0000%2F20260301%2Fap-northeast-1%2Fs3%2Faws4_request&X-Amz-Date=20260301T123456Z&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FQoGZXIvYXdzEXAMPLE%2F%2Ftoken%2B%2F%3D&X-Amz-Signature=7fcd41b8f1f5016c8423d560322db090a617a5b9a0d5f8e8b6b403da15514150",
    );
}

/// Same scheme, host, path and query parameters (in any order), byte for byte.
fn assert_same_url(ours: &str, expected: &str) {
    let split = |u: &str| {
        let (base, query) = u.split_once('?').unwrap();
        let mut params: Vec<String> = query.split('&').map(String::from).collect();
        params.sort();
        (base.to_string(), params)
    };
    assert_eq!(split(ours), split(expected), "\nours:     {ours}\nexpected: {expected}");
}

// ---------------------------------------------------------------------------------------------
// GCS: V4 signing with a service account key (GOOG4-RSA-SHA256).

/// The dummy, inactive service account of Google's conformance tests
/// (googleapis/conformance-tests, storage/v1/service-account; published so that client
/// libraries can check their signers). That file lacks a comma after its "comment"; it is
/// restored here to make valid JSON.
const CONFORMANCE_SERVICE_ACCOUNT: &str = r#"{
    "comment": "This is a dummy service account JSON file that is inactive. It's fine for it to be public.",
    "type": "service_account",
    "project_id": "dummy-project-id",
    "private_key_id": "ffffffffffffffffffffffffffffffffffffffff",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCsPzMirIottfQ2\nryjQmPWocSEeGo7f7Q4/tMQXHlXFzo93AGgU2t+clEj9L5loNhLVq+vk+qmnyDz5\nQ04y8jVWyMYzzGNNrGRW/yaYqnqlKZCy1O3bmnNjV7EDbC/jE1ZLBY0U3HaSHfn6\nS9ND8MXdgD0/ulRTWwq6vU8/w6i5tYsU7n2LLlQTl1fQ7/emO9nYcCFJezHZVa0H\nmeWsdHwWsok0skwQYQNIzP3JF9BpR5gJT2gNge6KopDesJeLoLzaX7cUnDn+CAnn\nLuLDwwSsIVKyVxhBFsFXPplgpaQRwmGzwEbf/Xpt9qo26w2UMgn30jsOaKlSeAX8\ncS6ViF+tAgMBAAECggEACKRuJCP8leEOhQziUx8Nmls8wmYqO4WJJLyk5xUMUC22\nSI4CauN1e0V8aQmxnIc0CDkFT7qc9xBmsMoF+yvobbeKrFApvlyzNyM7tEa/exh8\nDGD/IzjbZ8VfWhDcUTwn5QE9DCoon9m1sG+MBNlokB3OVOt8LieAAREdEBG43kJu\nyQTOkY9BGR2AY1FnAl2VZ/jhNDyrme3tp1sW1BJrawzR7Ujo8DzlVcS2geKA9at7\n55ua5GbHz3hfzFgjVXDfnkWzId6aHypUyqHrSn1SqGEbyXTaleKTc6Pgv0PgkJjG\nhZazWWdSuf1T5Xbs0OhAK9qraoAzT6cXXvMEvvPt6QKBgQDXcZKqJAOnGEU4b9+v\nOdoh+nssdrIOBNMu1m8mYbUVYS1aakc1iDGIIWNM3qAwbG+yNEIi2xi80a2RMw2T\n9RyCNB7yqCXXVKLBiwg9FbKMai6Vpk2bWIrzahM9on7AhCax/X2AeOp+UyYhFEy6\nUFG4aHb8THscL7b515ukSuKb5QKBgQDMq+9PuaB0eHsrmL6q4vHNi3MLgijGg/zu\nAXaPygSYAwYW8KglcuLZPvWrL6OG0+CrfmaWTLsyIZO4Uhdj7MLvX6yK7IMnagvk\nL3xjgxSklEHJAwi5wFeJ8ai/1MIuCn8p2re3CbwISKpvf7Sgs/W4196P4vKvTiAz\njcTiSYFIKQKBgCjMpkS4O0TakMlGTmsFnqyOneLmu4NyIHgfPb9cA4n/9DHKLKAT\noaWxBPgatOVWs7RgtyGYsk+XubHkpC6f3X0+15mGhFwJ+CSE6tN+l2iF9zp52vqP\nQwkjzm7+pdhZbmaIpcq9m1K+9lqPWJRz/3XXuqi+5xWIZ7NaxGvRjqaNAoGAdK2b\nutZ2y48XoI3uPFsuP+A8kJX+CtWZrlE1NtmS7tnicdd19AtfmTuUL6fz0FwfW4Su\nlQZfPT/5B339CaEiq/Xd1kDor+J7rvUHM2+5p+1A54gMRGCLRv92FQ4EON0RC1o9\nm2I4SHysdO3XmjmdXmfp4BsgAKJIJzutvtbqlakCgYB+Cb10z37NJJ+WgjDt+yT2\nyUNH17EAYgWXryfRgTyi2POHuJitd64Xzuy6oBVs3wVveYFM6PIKXlj8/DahYX5I\nR2WIzoCNLL3bEZ+nC6Jofpb4kspoAeRporj29SgesK6QBYWHWX2H645RkRGYGpDo\n51gjy9m/hSNqBbH2zmh04A==\n-----END PRIVATE KEY-----\n",
    "client_email": "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com",
    "client_id": "000000000000000000000",
    "auth_uri": "https://accounts.google.com/o/oauth2/auth",
    "token_uri": "https://oauth2.googleapis.com/token",
    "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
    "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com"
}"#;

struct GcsVector {
    description: &'static str,
    bucket: &'static str,
    object: &'static str,
    query: &'static [(&'static str, &'static str)],
    expiration: u64,
    timestamp: &'static str,
    expected_url: &'static str,
}

/// From googleapis/conformance-tests, storage/v1/v4_signatures.json (`signingV4Tests`): every
/// path-style GET of an object without extra signed headers.
const GCS_VECTORS: &[GcsVector] = &[
    GcsVector {
        description: "Simple GET",
        bucket: "test-bucket",
        object: "test-object",
        query: &[],
        expiration: 10,
        timestamp: "2019-02-01T09:00:00Z",
        expected_url: "https://storage.googleapis.com/test-bucket/test-object?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&X-Goog-SignedHeaders=host&X-Goog-Signature=95e6a13d43a1d1962e667f17397f2b80ac9bdd1669210d5e08e0135df9dff4e56113485dbe429ca2266487b9d1796ebdee2d7cf682a6ef3bb9fbb4c351686fba90d7b621cf1c4eb1fdf126460dd25fa0837dfdde0a9fd98662ce60844c458448fb2b352c203d9969cb74efa4bdb742287744a4f2308afa4af0e0773f55e32e92973619249214b97283b2daa14195244444e33f938138d1e5f561088ce8011f4986dda33a556412594db7c12fc40e1ff3f1bedeb7a42f5bcda0b9567f17f65855f65071fabb88ea12371877f3f77f10e1466fff6ff6973b74a933322ff0949ce357e20abe96c3dd5cfab42c9c83e740a4d32b9e11e146f0eb3404d2e975896f74",
    },
    GcsVector {
        description: "Vary expiration and timestamp",
        bucket: "test-bucket",
        object: "test-object",
        query: &[],
        expiration: 20,
        timestamp: "2019-03-01T09:00:00Z",
        expected_url: "https://storage.googleapis.com/test-bucket/test-object?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190301%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190301T090000Z&X-Goog-Expires=20&X-Goog-SignedHeaders=host&X-Goog-Signature=9669ed5b10664dc594c758296580662912cf4bcc5a4ba0b6bf055bcbf6f34eed7bdad664f534962174a924741a0c273a4f67bc1847cef20192a6beab44223bd9d4fbbd749c407b79997598c30f82ddc269ff47ec09fa3afe74e00616d438df0d96a7d8ad0adacfad1dc3286f864d924fe919fb0dce45d3d975c5afe8e13af2db9cc37ba77835f92f7669b61e94c6d562196c1274529e76cfff1564cc2cad7d5387dc8e12f7a5dfd925685fe92c30b43709eee29fa2f66067472cee5423d1a3a4182fe8cea75c9329d181dc6acad7c393cd04f8bf5bc0515127d8ebd65d80c08e19ad03316053ea60033fd1b1fd85a69c576415da3bf0a3718d9ea6d03e0d66f0",
    },
    GcsVector {
        description: "Vary bucket and object",
        bucket: "test-bucket2",
        object: "test-object2",
        query: &[],
        expiration: 10,
        timestamp: "2019-02-01T09:00:00Z",
        expected_url: "https://storage.googleapis.com/test-bucket2/test-object2?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&X-Goog-SignedHeaders=host&X-Goog-Signature=36e3d58dfd3ec1d2dd2f24b5ee372a71e811ffaa2162a2b871d26728d0354270bc116face87127532969c4a3967ed05b7309af741e19c7202f3167aa8c2ac420b61417d6451442bb91d7c822cd17be8783f01e05372769c88913561d27e6660dd8259f0081a71f831be6c50283626cbf04494ac10c394b29bb3bce74ab91548f58a37118a452693cf0483d77561fc9cac8f1765d2c724994cca46a83517a10157ee0347a233a2aaeae6e6ab5e204ff8fc5f54f90a3efdb8301d9fff5475d58cd05b181affd657f48203f4fb133c3a3d355b8eefbd10d5a0a5fd70d06e9515460ad74e22334b2cba4b29cae4f6f285cdb92d8f3126d7a1479ca3bdb69c207d860",
    },
    GcsVector {
        description: "Query Parameter Encoding",
        bucket: "test-bucket",
        object: "test-object",
        query: &[("soufflé", "=%-_.~")],
        expiration: 10,
        timestamp: "2019-02-01T09:00:00Z",
        expected_url: "https://storage.googleapis.com/test-bucket/test-object?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&X-Goog-SignedHeaders=host&souffl%C3%A9=%3D%25-_.~&X-Goog-Signature=38dd9ca622b80bca10f405e7d9ba0f0fbea719ca84d66078a484c5b54b1ce98e3fa8a0d2065216ed6ac03179be69312dabf428f8171b95994bdafe465a6f7893bacc7213a7bf4054ce2d78d4b60c34df24cc43e509ad7c81be47148d43a0e67d50d8fe38c85b0c63f9a51149b4f3335315946fef8ab34315ce3f6ce01f1831abb3eda5e7e211823855ed1767c65a8c7aeec357de096e3406897acfe092fead51bbea7df83e25a6180f80c8a0871e4901c370f77f5675f2405be7ccd55fd6dd22a87cf0adfafdb3f6fa99974fcf6c947b62294eebd7954e546c28f5490a6c50694c0e4882fcfe0d4a4ae8891a92579d6099a9b4c84d9f033a3b339163b6670b7e",
    },
    GcsVector {
        description: "Query Parameter Ordering",
        bucket: "test-bucket",
        object: "test-object",
        query: &[("prefix", "/foo"), ("X-Goog-Meta-Foo", "bar")],
        expiration: 10,
        timestamp: "2019-02-01T09:00:00Z",
        expected_url: "https://storage.googleapis.com/test-bucket/test-object?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=test-iam-credentials%40dummy-project-id.iam.gserviceaccount.com%2F20190201%2Fauto%2Fstorage%2Fgoog4_request&X-Goog-Date=20190201T090000Z&X-Goog-Expires=10&X-Goog-Meta-Foo=bar&X-Goog-SignedHeaders=host&prefix=%2Ffoo&X-Goog-Signature=a07745e1b3d59b85cbe11aa766df72c22468959e7217615dccb7f030234f66b60b37e480f30725ed51f29816362ca8286c619ebb66448ff1d370be2a4a48aacf20d3d2d6200ed17341a5791baf2ee5cd9c2823adacc6264f66c8a54fa887e1bce3c55cf78fb2f6a52618cf09d6f945f63d148052a7b66a75e075ff5065828a806b84bdc49a42399be7483225c720d5e18a6160f79d815f433e7921694fe1d041099851793c2581db0e5ca503cfb566e414f900ceede5f9b22030edd32ab20b6f7f9fb2afba89098b9364e03397c03a94eac3a140c99979b8786844fb4f6c62c1985378939dd1bbaea8e41b9100dda85a27733171cc78d96ee362ea2c3432f4d8",
    },
];

#[test]
fn gcs_signer_reproduces_the_conformance_vectors_byte_for_byte() {
    let signer = GcsSigner::from_service_account_json(CONFORMANCE_SERVICE_ACCOUNT).unwrap();
    assert_eq!(signer.client_email(), "test-iam-credentials@dummy-project-id.iam.gserviceaccount.com");
    for v in GCS_VECTORS {
        let url = signer.presign_get(v.bucket, v.object, v.query, at(v.timestamp), v.expiration).unwrap();
        assert_eq!(url, v.expected_url, "vector {:?}", v.description);
    }
}

#[test]
fn storage_configured_for_gcs_signs_the_conformance_vector_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let credentials_file = dir.path().join("service-account.json");
    std::fs::write(&credentials_file, CONFORMANCE_SERVICE_ACCOUNT).unwrap();
    let settings = StorageSettings {
        provider: Provider::Gcs,
        gcs: Some(GcsSettings { bucket: "test-bucket".into(), credentials_file }),
        ..StorageSettings::default()
    };
    let storage = Storage::from_settings_with_env(&settings, dir.path(), |_| None).unwrap();
    assert_eq!(storage.provider(), Provider::Gcs);
    assert!(storage.local_files().is_none());

    let now = at("2019-02-01T09:00:00Z");
    let key = ObjectKey::parse("test-object").unwrap();
    let signed = storage.download_url_at(&key, now, now + Duration::seconds(10), &DownloadOptions::new()).unwrap();
    assert_eq!(signed.url, GCS_VECTORS[0].expected_url);
    assert_eq!(signed.expires_at, at("2019-02-01T09:00:10Z"));

    // With a filename and type the response headers are signed parameters, and the cap is 7 days.
    let opts = DownloadOptions::new().filename("写真集.zip").content_type("application/zip");
    let signed = storage.download_url_at(&key, now, now + Duration::days(30), &opts).unwrap();
    assert!(signed.url.contains("X-Goog-Expires=604800&"), "{}", signed.url);
    assert!(
        signed.url.contains(
            "&response-content-disposition=attachment%3B%20filename%3D%22___.zip%22%3B%20filename%2A%3DUTF-8%27%27%25E5%2586%2599%25E7%259C%259F%25E9%259B%2586.zip&response-content-type=application%2Fzip&X-Goog-Signature="
        ),
        "{}",
        signed.url
    );
}

#[test]
fn configuration_mistakes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = StorageSettings { provider: Provider::S3, ..StorageSettings::default() };
    assert!(matches!(Storage::from_settings_with_env(&s3, dir.path(), |_| None), Err(StorageError::Config(_))));

    let missing_secret = StorageSettings {
        provider: Provider::S3,
        s3: Some(S3Settings {
            endpoint: None,
            region: "ap-northeast-1".into(),
            bucket: "b".into(),
            access_key_id: "AK".into(),
            secret_access_key_env: "TENPO_TEST_UNSET_SECRET".into(),
            session_token_env: None,
            path_style: false,
        }),
        ..StorageSettings::default()
    };
    let err = Storage::from_settings_with_env(&missing_secret, dir.path(), |_| None).unwrap_err();
    assert!(err.to_string().contains("TENPO_TEST_UNSET_SECRET"), "{err}");

    let gcs = StorageSettings {
        provider: Provider::Gcs,
        gcs: Some(GcsSettings { bucket: "b".into(), credentials_file: dir.path().join("absent.json") }),
        ..StorageSettings::default()
    };
    assert!(matches!(Storage::from_settings_with_env(&gcs, dir.path(), |_| None), Err(StorageError::Config(_))));
}
