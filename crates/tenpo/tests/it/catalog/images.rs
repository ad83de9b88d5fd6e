//! Product images over HTTP: upload (type from the content, never the name), order, alt text,
//! a variant's image, the storefront's URLs with sizes, renditions made once in the background;
//! an SVG, a renamed program and an oversized file refused, changing nothing.

use std::time::Duration;

use images::pixels::{self, Format};
use serde_json::{Value, json};

use super::active_product;
use crate::support::{Answer, Shop, TestApp};

async fn upload(app: &TestApp, shop: &Shop, product: &str, query: &str, content_type: &str, bytes: Vec<u8>) -> Answer {
    let res = app
        .client
        .post(app.url(&format!("/admin/v1/products/{product}/images{query}")))
        .bearer_auth(&shop.owner_token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

async fn fetch(app: &TestApp, url: &str) -> (u16, String, Vec<u8>) {
    let res = app.client.get(app.url(url)).send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, ct, res.bytes().await.unwrap().to_vec())
}

/// Waits until every image of the product is `ready` (the worker made its renditions).
pub async fn wait_ready(app: &TestApp, shop: &Shop, product: &str) -> Vec<Value> {
    for _ in 0..300 {
        let list = app.get(&format!("/admin/v1/products/{product}/images"), &shop.owner_token).await.expect(200);
        let list = list.as_array().unwrap().clone();
        assert!(list.iter().all(|i| i["status"] != "failed"), "an image failed: {list:?}");
        if list.iter().all(|i| i["status"] == "ready") {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("images of {product} not ready in 30 s");
}

#[tokio::test]
async fn images_are_uploaded_by_content_ordered_and_shown_with_their_sizes() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let product = active_product(&app, &shop, "抹茶ラテ", &[("LATTE-S", 800, 5), ("LATTE-L", 1200, 5)]).await;
    let pid = product["id"].as_str().unwrap();

    // a JPEG sent as "image/png" is a JPEG: the type comes from the content
    let jpeg = pixels::sample(Format::Jpeg, 1600, 1000);
    let a = upload(&app, &shop, pid, "?alt=%E6%AD%A3%E9%9D%A2", "image/png", jpeg.clone()).await.expect(201);
    assert_eq!(
        (a["content_type"].as_str(), a["width"].as_i64(), a["height"].as_i64()),
        (Some("image/jpeg"), Some(1600), Some(1000))
    );
    assert_eq!((a["alt"].as_str(), a["position"].as_i64()), (Some("正面"), Some(1)));
    let png = pixels::sample(Format::Png, 500, 500);
    let b = upload(&app, &shop, pid, "", "application/octet-stream", png).await.expect(201);
    assert_eq!((b["content_type"].as_str(), b["position"].as_i64()), (Some("image/png"), Some(2)));
    // a WebP put first moves the others down
    let webp = pixels::sample(Format::Webp, 800, 400);
    let c = upload(&app, &shop, pid, "?position=1&alt=side", "image/webp", webp).await.expect(201);
    assert_eq!((c["content_type"].as_str(), c["position"].as_i64()), (Some("image/webp"), Some(1)));

    let list = app.get(&format!("/admin/v1/products/{pid}/images"), &shop.owner_token).await.expect(200);
    let order: Vec<(&str, i64)> =
        list.as_array().unwrap().iter().map(|i| (i["id"].as_str().unwrap(), i["position"].as_i64().unwrap())).collect();
    let ids = |v: &Value| v["id"].as_str().unwrap().to_string();
    assert_eq!(order, vec![(ids(&c).as_str(), 1), (ids(&a).as_str(), 2), (ids(&b).as_str(), 3)]);

    // alt text and order change; the PNG becomes the main image
    let moved = app
        .patch(
            &format!("/admin/v1/products/{pid}/images/{}", ids(&b)),
            &shop.owner_token,
            json!({ "position": 1, "alt": "上から" }),
        )
        .await
        .expect(200);
    assert_eq!((moved["position"].as_i64(), moved["alt"].as_str()), (Some(1), Some("上から")));

    // the large variant shows the JPEG; an image of another product is refused
    let large = product["variants"][1]["id"].as_str().unwrap();
    let v = app
        .patch(&format!("/admin/v1/products/{pid}/variants/{large}"), &shop.owner_token, json!({ "image_id": ids(&a) }))
        .await
        .expect(200);
    assert_eq!(v["image_id"], a["id"]);
    let other = active_product(&app, &shop, "Other", &[("OTHER", 100, 1)]).await;
    let oid = other["id"].as_str().unwrap();
    let foreign = upload(&app, &shop, oid, "", "image/jpeg", pixels::sample(Format::Jpeg, 100, 100)).await.expect(201);
    let refused = app
        .patch(
            &format!("/admin/v1/products/{pid}/variants/{large}"),
            &shop.owner_token,
            json!({ "image_id": ids(&foreign) }),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["field"], "image_id", "{refused}");

    // renditions: 200, 600, 1200 of the 1600 px JPEG; 200 of the 500 px PNG (never upscaled)
    let ready = wait_ready(&app, &shop, pid).await;
    let widths = |img: &Value| -> Vec<(i64, i64)> {
        img["renditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap()))
            .collect()
    };
    let by_id = |id: &str| ready.iter().find(|i| i["id"] == id).unwrap().clone();
    assert_eq!(widths(&by_id(&ids(&a))), vec![(200, 125), (600, 375), (1200, 750)]);
    assert_eq!(widths(&by_id(&ids(&b))), vec![(200, 200)]);
    assert_eq!(widths(&by_id(&ids(&c))), vec![(200, 100), (600, 300)]);
    for img in &ready {
        for r in img["renditions"].as_array().unwrap() {
            let (status, ct, bytes) = fetch(&app, r["url"].as_str().unwrap()).await;
            assert_eq!((status, ct.as_str()), (200, img["content_type"].as_str().unwrap()));
            let p = pixels::probe(&bytes).unwrap();
            assert_eq!(
                (p.width as i64, p.height as i64),
                (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap())
            );
        }
    }
    // made once: a second look finds the same renditions, and the worker has nothing left
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // (the other product's 100 px image has none)
    assert_eq!(app.count("SELECT count(*) FROM product_image_renditions").await, 3 + 1 + 2);

    // the storefront: images in order with URLs and sizes, the variant's image
    let page = app
        .call(
            reqwest::Method::GET,
            &format!("/store/v1/stores/{}/products/{}", shop.handle, product["handle"].as_str().unwrap()),
            None,
            None,
        )
        .await
        .expect(200);
    let shown: Vec<(&str, i64, i64, &str)> = page["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap(),
                i["width"].as_i64().unwrap(),
                i["height"].as_i64().unwrap(),
                i["alt"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (ids(&b).as_str(), 500, 500, "上から"),
            (ids(&c).as_str(), 800, 400, "side"),
            (ids(&a).as_str(), 1600, 1000, "正面")
        ]
    );
    assert_eq!(page["images"][2]["renditions"][1]["width"], 600);
    assert_eq!(page["variants"][1]["image_id"], a["id"]);
    assert_eq!(page["variants"][0]["image_id"], Value::Null);
    let (status, ct, bytes) = fetch(&app, page["images"][2]["url"].as_str().unwrap()).await;
    assert_eq!((status, ct.as_str(), bytes), (200, "image/jpeg", jpeg));

    // deleting the JPEG clears the variant's image and renumbers the rest
    let gone = app.delete(&format!("/admin/v1/products/{pid}/images/{}", ids(&a)), &shop.owner_token).await;
    assert_eq!(gone.status, 204);
    let after = app.get(&format!("/admin/v1/products/{pid}"), &shop.owner_token).await.expect(200);
    assert_eq!(after["images"].as_array().unwrap().len(), 2);
    assert_eq!(after["variants"][1]["image_id"], Value::Null);
    assert_eq!(fetch(&app, page["images"][2]["url"].as_str().unwrap()).await.0, 404);
    // only image objects are served at /media
    assert_eq!(fetch(&app, "/media/t/x/assets/y").await.0, 404);
}

/// Staff reordering a product's images while the worker records their renditions: both lock the
/// product before its images, so neither deadlocks the other and every image becomes ready (the
/// other order left an image pending under its lease).
#[tokio::test]
async fn images_reordered_while_the_worker_records_them_all_become_ready() {
    let app = TestApp::spawn().await;
    let shop = app.shop().await;
    let product = active_product(&app, &shop, "Tea", &[("TEA", 500, 1)]).await;
    let pid = product["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    for _ in 0..6 {
        let img = upload(&app, &shop, &pid, "", "image/png", pixels::sample(Format::Png, 700, 500)).await.expect(201);
        ids.push(img["id"].as_str().unwrap().to_string());
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let reorder = {
        let (client, url, token, stop) = (app.client.clone(), app.url(""), shop.owner_token.clone(), stop.clone());
        let (pid, ids) = (pid.clone(), ids.clone());
        tokio::spawn(async move {
            let mut moves = 0;
            while !stop.is_cancelled() {
                let id = &ids[moves % ids.len()];
                let res = client
                    .patch(format!("{url}/admin/v1/products/{pid}/images/{id}"))
                    .bearer_auth(&token)
                    .json(&json!({ "position": 1 }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status().as_u16(), 200, "{}", res.text().await.unwrap());
                moves += 1;
            }
            moves
        })
    };
    let ready = wait_ready(&app, &shop, &pid).await;
    stop.cancel();
    let moves = reorder.await.unwrap();
    assert!(moves > 0);
    assert_eq!(ready.len(), 6);
    assert!(ready.iter().all(|i| i["renditions"].as_array().unwrap().len() == 2), "{ready:?}");
}

#[tokio::test]
async fn svg_programs_and_oversized_files_are_refused_and_change_nothing() {
    let app = TestApp::spawn_with(|c, _| c.images.max_bytes = 200_000).await;
    let shop = app.shop().await;
    let product = active_product(&app, &shop, "Tea", &[("TEA", 500, 1)]).await;
    let pid = product["id"].as_str().unwrap();
    let events_before = app.count("SELECT count(*) FROM outbox_events").await;

    let svg = br#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script></svg>"#;
    let p = upload(&app, &shop, pid, "?alt=logo.jpg", "image/jpeg", svg.to_vec())
        .await
        .expect_problem(422, "image_type_refused");
    assert!(p["detail"].as_str().unwrap().contains("SVG"), "{p}");

    // the tenpo binary itself, renamed and labelled as a PNG
    let program = std::fs::read(env!("CARGO_BIN_EXE_tenpo")).unwrap()[..64 * 1024].to_vec();
    let p = upload(&app, &shop, pid, "?alt=photo.png", "image/png", program)
        .await
        .expect_problem(422, "image_type_refused");
    assert!(p["detail"].as_str().unwrap().contains("program"), "{p}");

    // a PNG signature with garbage behind it, and a GIF
    let mut broken = b"\x89PNG\r\n\x1a\n".to_vec();
    broken.extend_from_slice(&[7; 100]);
    upload(&app, &shop, pid, "", "image/png", broken).await.expect_problem(422, "image_unreadable");
    upload(&app, &shop, pid, "", "image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec())
        .await
        .expect_problem(422, "image_type_refused");

    // over images.max_bytes
    let big = pixels::sample(Format::Png, 900, 900);
    assert!(big.len() > 200_000, "{}", big.len());
    upload(&app, &shop, pid, "", "image/png", big.clone()).await.expect_problem(413, "image_too_large");

    // bad text and unknown products
    upload(&app, &shop, pid, &format!("?alt={}", "a".repeat(513)), "image/png", pixels::sample(Format::Png, 10, 10))
        .await
        .expect_problem(422, "validation_failed");
    let nobody = "0190a0a0-0000-7000-8000-00000000abcd";
    upload(&app, &shop, nobody, "", "image/png", pixels::sample(Format::Png, 10, 10))
        .await
        .expect_problem(404, "product_not_found");

    assert_eq!(app.count("SELECT count(*) FROM product_images").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events").await, events_before);
    let objects = app.config.storage.local.dir.clone().unwrap();
    let stored = walk(&objects);
    assert!(stored.is_empty(), "nothing stored: {stored:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Renditions survive a killed worker and are made once: images uploaded while no worker runs
/// wait; a `tenpo worker` process is SIGKILLed once it has begun on them; when their leases
/// have passed, a second process finishes them. Each (image, width) is recorded once, and its
/// object is in storage with the recorded size.
#[tokio::test]
async fn renditions_survive_a_killed_worker_and_are_made_once() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let shop = app.shop().await;
    let product = active_product(&app, &shop, "Tea", &[("TEA", 500, 1)]).await;
    let pid = product["id"].as_str().unwrap();
    for _ in 0..6 {
        upload(&app, &shop, pid, "", "image/jpeg", pixels::sample(Format::Jpeg, 2400, 1600)).await.expect(201);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM product_images WHERE status = 'pending'").await,
        6,
        "no worker, no renditions"
    );

    let dir = app.config.storage.local.dir.clone().unwrap();
    let start = || {
        let mut cmd = crate::support::process::tenpo(&app);
        cmd.arg("worker")
            .env("TENPO_STORAGE_DIR", &dir)
            .env("TENPO_STORAGE_SIGNING_SECRET", crate::support::LOCAL_SIGNING_SECRET)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().expect("tenpo worker")
    };
    let mut first = start();
    let begun = || walk(&dir).iter().any(|p| p.to_string_lossy().contains("/w200."));
    let mut waited = 0;
    while !begun() {
        assert!(first.try_wait().unwrap().is_none(), "the worker exited");
        assert!(waited < 1200, "the worker made no rendition within 60 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let left = app.count("SELECT count(*) FROM product_images WHERE status = 'pending'").await;
    // the dead worker's leases pass
    sqlx::query("UPDATE product_images SET locked_until = now() - interval '1 second' WHERE status = 'pending'")
        .execute(&app.owner)
        .await
        .unwrap();
    let mut second = start();
    let ready = wait_ready(&app, &shop, pid).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(left > 0, "the first worker was killed with work left");

    assert_eq!(ready.len(), 6);
    assert_eq!(app.count("SELECT count(*) FROM product_image_renditions").await, 6 * 3, "each width once");
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT object_key, size_bytes FROM product_image_renditions")
        .fetch_all(&app.owner)
        .await
        .unwrap();
    for (key, size) in rows {
        let file = dir.join(&key);
        assert_eq!(std::fs::metadata(&file).map(|m| m.len() as i64).ok(), Some(size), "{key}");
    }
    for img in &ready {
        let sizes: Vec<i64> =
            img["renditions"].as_array().unwrap().iter().map(|r| r["width"].as_i64().unwrap()).collect();
        assert_eq!(sizes, vec![200, 600, 1200]);
    }
}

/// On S3 (a real S3-compatible server, s3rver): the original and its renditions are stored in
/// the bucket and served at their /media URLs.
#[tokio::test]
async fn images_are_stored_in_s3_and_served_from_there() {
    const BUCKET: &str = "tenpo-images-test";
    const SECRET_ENV: &str = "TENPO_TEST_S3RVER_IMAGES_SECRET";
    let server = storage::testing::S3rver::start().await;
    server.create_bucket(BUCKET).await;
    // SAFETY: set before Tenpo starts and reads it; nextest runs each test in its own process.
    unsafe { std::env::set_var(SECRET_ENV, storage::testing::S3rver::SECRET_ACCESS_KEY) };
    let endpoint = server.endpoint();
    let app = TestApp::spawn_with(|c, _| {
        c.storage.provider = storage::Provider::S3;
        c.storage.s3 = Some(storage::S3Settings {
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".into(),
            bucket: BUCKET.into(),
            access_key_id: storage::testing::S3rver::ACCESS_KEY_ID.into(),
            secret_access_key_env: SECRET_ENV.into(),
            session_token_env: None,
            path_style: true,
        });
    })
    .await;
    let shop = app.shop().await;
    let product = active_product(&app, &shop, "Tea", &[("TEA", 500, 1)]).await;
    let pid = product["id"].as_str().unwrap();
    let png = pixels::sample(Format::Png, 900, 600);
    upload(&app, &shop, pid, "", "image/png", png.clone()).await.expect(201);
    let ready = wait_ready(&app, &shop, pid).await;
    let provider: String =
        sqlx::query_scalar("SELECT provider FROM product_images").fetch_one(&app.owner).await.unwrap();
    assert_eq!(provider, "s3");
    let local = walk(app.config.storage.local.dir.as_ref().unwrap());
    assert!(local.is_empty(), "nothing on local disk: {local:?}");
    let (status, ct, bytes) = fetch(&app, ready[0]["url"].as_str().unwrap()).await;
    assert_eq!((status, ct.as_str(), bytes), (200, "image/png", png));
    let sizes: Vec<(i64, i64)> = ready[0]["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["width"].as_i64().unwrap(), r["height"].as_i64().unwrap()))
        .collect();
    assert_eq!(sizes, vec![(200, 133), (600, 400)]);
    for r in ready[0]["renditions"].as_array().unwrap() {
        let (status, _, bytes) = fetch(&app, r["url"].as_str().unwrap()).await;
        assert_eq!(status, 200);
        assert_eq!(pixels::probe(&bytes).unwrap().width as i64, r["width"].as_i64().unwrap());
    }
}
