//! Local storage end to end: the signed link Tenpo serves itself.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{
    download_url, downloads, first_delivery, guide_shop, paid_guide_order, pattern, request_download, staff_action,
};
use crate::support::TestApp;

#[tokio::test]
async fn a_paid_download_serves_the_exact_bytes_with_ranges_and_refuses_tampered_or_expired_links() {
    let app = TestApp::spawn_with(|c, _| c.storage.download_url_ttl_secs = 30).await;
    let file = pattern(300 * 1024 + 17);
    let (t, _) = guide_shop(&app, &file).await;
    let order = paid_guide_order(&app, &t).await;
    let list = downloads(&app, &t.shop, &order).await.expect(200);
    let d = &list["deliveries"][0];
    assert_eq!((d["filename"].as_str(), d["size_bytes"].as_i64()), (Some("抹茶の淹れ方.pdf"), Some(file.len() as i64)));
    assert_eq!((d["status"].as_str(), d["downloadable"].as_bool()), (Some("active"), Some(true)));
    let delivery = d["id"].as_str().unwrap().to_string();

    // 303 to a link on this server, valid for the configured 30 s
    let (url, granted) = download_url(&app, &t.shop, &order, &delivery).await;
    assert!(url.starts_with(&app.url("/files/t/")), "{url}");
    let link_expires: DateTime<Utc> = granted["url_expires_at"].as_str().unwrap().parse().unwrap();
    let ttl = (link_expires - Utc::now()).num_seconds();
    assert!((25..=30).contains(&ttl), "link lives {ttl} s");
    assert_eq!(granted["downloaded_count"], 1);

    let whole = app.client.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "application/pdf");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert!(whole.headers()["content-disposition"].to_str().unwrap().contains("filename*=UTF-8''%E6%8A%B9%E8%8C%B6"));
    assert_eq!(whole.bytes().await.unwrap().as_ref(), file.as_slice(), "the exact bytes");

    // a range, as a download manager resumes
    let part = app.client.get(&url).header("range", "bytes=1000-1999").send().await.unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], format!("bytes 1000-1999/{}", file.len()).as_str());
    assert_eq!(part.bytes().await.unwrap().as_ref(), &file[1000..2000]);
    let tail = app.client.get(&url).header("range", "bytes=-10").send().await.unwrap();
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &file[file.len() - 10..]);
    let beyond = app.client.get(&url).header("range", format!("bytes={}-", file.len() + 5)).send().await.unwrap();
    assert_eq!(beyond.headers()["content-range"], format!("bytes */{}", file.len()).as_str());
    TestApp::read(beyond).await.expect_problem(416, "range_not_satisfiable");

    // fetching the link does not count: only download requests do
    assert_eq!(super::delivery_row(&app, &delivery).await.1, 1);

    // a tampered signature, a longer expiry or another file: refused
    let tampered_sig = {
        let (head, sig) = url.rsplit_once("sig=").unwrap();
        let flipped = if sig.starts_with('0') { "1" } else { "0" };
        format!("{head}sig={flipped}{}", &sig[1..])
    };
    let later = url.replace(
        &format!("expires={}", link_expires.timestamp()),
        &format!("expires={}", link_expires.timestamp() + 3600),
    );
    let other_file = url.replacen("/assets/", "/assets/0", 1);
    for bad in [tampered_sig, later, other_file, url.split('?').next().unwrap().to_string()] {
        let a = TestApp::read(app.client.get(&bad).send().await.unwrap()).await;
        a.expect_problem(403, "download_link_invalid");
    }

    // staff shorten the download period to 3 s: the next link ends with it, not 30 s later
    let ends = Utc::now() + chrono::Duration::seconds(3);
    staff_action(&app, &t.shop, &order, &delivery, "extend", json!({ "url_expires_at": ends })).await.expect(200);
    let (short, granted) = download_url(&app, &t.shop, &order, &delivery).await;
    let short_expires: DateTime<Utc> = granted["url_expires_at"].as_str().unwrap().parse().unwrap();
    assert!(short_expires <= ends, "{short_expires} is past the delivery's end {ends}");
    tokio::time::sleep((ends - Utc::now()).to_std().unwrap_or_default() + std::time::Duration::from_millis(1100)).await;
    // the same link after its expiry: refused; and no new link either
    TestApp::read(app.client.get(&short).send().await.unwrap()).await.expect_problem(403, "download_link_expired");
    let refused = request_download(&app, &app.client, &t.shop, &order, &delivery).await;
    TestApp::read(refused).await.expect_problem(410, "download_expired");
    assert_eq!(super::delivery_row(&app, &delivery).await.1, 2, "the refusal counted nothing");
}

#[tokio::test]
async fn following_the_redirect_with_an_ordinary_client_gets_the_file() {
    let app = TestApp::spawn().await;
    let file = b"%PDF-1.7 brewing guide".to_vec();
    let (t, _) = guide_shop(&app, &file).await;
    let order = paid_guide_order(&app, &t).await;
    let delivery = first_delivery(&app, &t.shop, &order).await;
    // reqwest follows 303 with a GET, as a browser does
    let res = request_download(&app, &app.client, &t.shop, &order, &delivery).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), file.as_slice());
}
