//! `tenpo bench chaos` as an operator runs it, briefly: the server killed twice under load.

use crate::support::TestApp;
use crate::support::process::tenpo;

#[tokio::test]
async fn bench_chaos_with_two_kills_loses_no_order_and_oversells_nothing() {
    let app = TestApp::spawn_with(|_, o| o.worker = false).await;
    let out = tenpo(&app)
        .args(["bench", "chaos", "--kills", "2", "--duration", "1", "--concurrency", "4"])
        .env("TENPO_BENCH_UNITS", "20")
        .env("TENPO_LOG", "warn")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("FAILED"), "{text}");
    assert!(text.contains("2 kills (SIGKILL)"), "{text}");
    assert!(text.contains("tenpo check: 0 violations"), "{text}");
    assert!(text.contains("lost orders: 0 of"), "{text}");
    assert!(text.contains("oversold 0"), "{text}");
    // the load did place orders, so the verdicts are about something
    let confirmed: u64 = text
        .split("orders confirmed ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(confirmed > 0, "{text}");
}
