// The browser driver of the console tests (crates/tenpo/tests/it/support/browser.rs): one
// headless Debian Chromium driven by playwright-core, answering one JSON command per line on
// stdin with one JSON line on stdout. Chromium starts with the flags that keep it off the
// network (no background networking, component updates, sync or QUIC) and a fresh profile.
const { chromium } = require(process.env.PLAYWRIGHT_CORE);
const readline = require("readline");

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage"],
  });
  let context = null;
  let page = null;
  const fresh = async (width, height, js = true) => {
    if (context) await context.close();
    context = await browser.newContext({ acceptDownloads: true, viewport: { width, height }, locale: "ja-JP", timezoneId: "Asia/Tokyo", javaScriptEnabled: js });
    context.setDefaultTimeout(15000);
    page = await context.newPage();
    page.on("dialog", (d) => d.accept());
  };
  await fresh(1280, 900);
  const out = (v) => process.stdout.write(JSON.stringify(v) + "\n");
  out({ ready: true });
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    let cmd;
    try {
      cmd = JSON.parse(line);
      let value = null;
      switch (cmd.op) {
        case "context": await fresh(cmd.width, cmd.height, cmd.js !== false); break;
        case "viewport": await page.setViewportSize({ width: cmd.width, height: cmd.height }); break;
        case "goto": { const r = await page.goto(cmd.url); value = r ? r.status() : null; break; }
        case "fill": await page.fill(cmd.selector, cmd.value); break;
        case "select": await page.selectOption(cmd.selector, cmd.value); break;
        case "check": await page.check(cmd.selector); break;
        case "upload": await page.setInputFiles(cmd.selector, cmd.path); break;
        case "click": {
          // a click that submits a form or follows a link: wait for the page it leads to
          const [r] = await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.click(cmd.selector)]);
          value = r ? r.status() : null;
          break;
        }
        case "popup": {
          // a click that opens a new tab (target=_blank, formtarget=_blank): go on in that tab
          const [tab] = await Promise.all([context.waitForEvent("page"), page.click(cmd.selector)]);
          await tab.waitForLoadState("load");
          tab.on("dialog", (d) => d.accept());
          page = tab;
          value = tab.url();
          break;
        }
        case "download": {
          // a click that answers a file (Content-Disposition: attachment): its name and bytes
          const [dl] = await Promise.all([page.waitForEvent("download"), page.click(cmd.selector)]);
          const bytes = require("fs").readFileSync(await dl.path());
          value = { name: dl.suggestedFilename(), base64: bytes.toString("base64") };
          break;
        }
        case "first_tab": {
          for (const p of context.pages().slice(1)) await p.close();
          page = context.pages()[0];
          await page.bringToFront();
          break;
        }
        case "text": value = await page.innerText(cmd.selector); break;
        case "texts": value = await page.locator(cmd.selector).allInnerTexts(); break;
        case "count": value = await page.locator(cmd.selector).count(); break;
        case "attr": value = await page.getAttribute(cmd.selector, cmd.name); break;
        case "value": value = await page.inputValue(cmd.selector); break;
        case "url": value = page.url(); break;
        case "eval": value = await page.evaluate(cmd.js); break;
        case "screenshot": await page.screenshot({ path: cmd.path, fullPage: true }); break;
        case "cookies": value = await context.cookies(); break;
        case "close": await browser.close(); out({ ok: true }); process.exit(0);
        default: throw new Error(`unknown op ${cmd.op}`);
      }
      out({ ok: true, value });
    } catch (e) {
      let text = "";
      try { text = page ? (await page.innerText("body")).slice(0, 2000) : ""; } catch (_) {}
      out({ ok: false, error: String(e && e.message || e), url: page ? page.url() : null, page: text });
    }
  }
  await browser.close();
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + "\n"); process.exit(1); });
