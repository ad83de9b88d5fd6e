// Tenpo storefront: a little progressive enhancement; every page works without it.
document.addEventListener("DOMContentLoaded", () => {
  // postal-code autofill (住所自動入力): <input data-postal> fills the prefecture and city
  for (const input of document.querySelectorAll("input[data-postal]")) {
    const form = input.form;
    const lookup = async () => {
      const digits = input.value.replace(/[^0-9０-９]/g, "");
      if (digits.length !== 7) return;
      try {
        const r = await fetch(`/store/v1/postal-codes/${encodeURIComponent(input.value)}`);
        if (!r.ok) return;
        const place = (await r.json()).candidates[0];
        if (!place) return;
        const pref = form.querySelector("[data-prefecture]");
        const city = form.querySelector("[data-city]");
        if (pref) pref.value = place.prefecture;
        if (city && !city.value) city.value = place.city + place.town;
        input.dispatchEvent(new CustomEvent("postal-filled", { bubbles: true }));
      } catch (_) { /* typing by hand still works */ }
    };
    input.addEventListener("change", lookup);
    input.addEventListener("blur", lookup);
  }
  // live cart count: pages kept for every shopper leave the header's count to this
  const showCount = async (fresh) => {
    const link = document.querySelector("a[data-cart-count-url]");
    const slot = link && link.querySelector(".cart-count");
    // the server wrote the count on the shopper's own pages (the cart)
    if (!slot || (!fresh && slot.dataset.cartCount !== undefined)) return;
    try {
      const r = await fetch(link.dataset.cartCountUrl, { credentials: "same-origin", cache: "no-store" });
      if (!r.ok) return;
      const n = (await r.json()).count;
      slot.dataset.cartCount = String(n);
      slot.textContent = n > 0 ? `（${n}）` : "";
    } catch (_) { /* the cart page still shows the cart */ }
  };
  showCount(false);
  // back and forward from the cache: the cart may have changed meanwhile
  window.addEventListener("pageshow", (e) => { if (e.persisted) showCount(true); });
  // a form is sent once: a second click waits for the first (the server places one order anyway)
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", (e) => {
      if (form.dataset.sent) { e.preventDefault(); return; }
      form.dataset.sent = "1";
    });
  }
});
