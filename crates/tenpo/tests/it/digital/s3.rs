//! S3 end to end, against a real S3-compatible server (s3rver, from npm; `.ci/run` installs it,
//! or the first test that needs it does). s3rver checks the expiry of presigned URLs; the
//! signatures themselves are proven byte for byte by the storage crate's known-answer vectors.

use std::time::Duration;

use chrono::{DateTime, Utc};
use storage::testing::S3rver;

use super::{download_url, first_delivery, guide_shop, paid_guide_order, pattern};
use crate::support::TestApp;

const BUCKET: &str = "tenpo-digital-test";
/// The variable the test's storage reads the secret access key from.
const SECRET_ENV: &str = "TENPO_TEST_S3RVER_SECRET";

#[tokio::test]
async fn s3_upload_order_and_presigned_download_of_the_exact_bytes_refused_after_expiry() {
    let server = S3rver::start().await;
    server.create_bucket(BUCKET).await;
    // SAFETY: set before Tenpo starts and reads it; nextest runs each test in its own process.
    unsafe { std::env::set_var(SECRET_ENV, S3rver::SECRET_ACCESS_KEY) };
    let endpoint = server.endpoint();
    let app = TestApp::spawn_with(|c, _| {
        c.storage.provider = storage::Provider::S3;
        c.storage.download_url_ttl_secs = 4;
        c.storage.s3 = Some(storage::S3Settings {
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key_id: S3rver::ACCESS_KEY_ID.into(),
            secret_access_key_env: SECRET_ENV.into(),
            session_token_env: None,
            path_style: true,
        });
    })
    .await;
    let file = pattern(1024 * 1024 + 3);
    let (t, product) = guide_shop(&app, &file).await;
    let asset = app
        .get(&format!("/admin/v1/products/{product}/variants/{}/asset", t.guide), &t.shop.owner_token)
        .await
        .expect(200);
    assert_eq!((asset["provider"].as_str(), asset["size_bytes"].as_i64()), (Some("s3"), Some(file.len() as i64)));

    let order = paid_guide_order(&app, &t).await;
    let delivery = first_delivery(&app, &t.shop, &order).await;
    let provider: String = sqlx::query_scalar("SELECT provider FROM digital_deliveries WHERE id = $1::uuid")
        .bind(&delivery)
        .fetch_one(&app.owner)
        .await
        .unwrap();
    assert_eq!(provider, "s3", "the delivery records where its file is");

    let (url, granted) = download_url(&app, &t.shop, &order, &delivery).await;
    assert!(url.starts_with(&format!("{endpoint}/{BUCKET}/t/")) && url.contains("X-Amz-Signature="), "{url}");
    let http = reqwest::Client::new();
    let res = http.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), file.as_slice(), "the exact bytes from S3");

    // the same URL after its expiry is refused by the server
    let expires: DateTime<Utc> = granted["url_expires_at"].as_str().unwrap().parse().unwrap();
    tokio::time::sleep((expires - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(1100)).await;
    let late = http.get(&url).send().await.unwrap();
    assert_eq!(late.status(), 403);
    assert!(late.text().await.unwrap().contains("Request has expired"));
}
