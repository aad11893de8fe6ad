// rechargekit console: small progressive enhancements. Every page works
// without this file; it is loaded from 'self' only (the CSP allows no
// inline script).
(function () {
  "use strict";

  // Product images that fail to load (a dead CDN, no network) show the
  // neutral placeholder instead of a broken-image icon.
  function watchImage(img) {
    var media = img.closest(".sub__media");
    if (!media) return;
    var broken = function () { media.classList.add("is-broken"); };
    if (img.complete && img.naturalWidth === 0) broken();
    img.addEventListener("error", broken);
  }

  // Forms with data-confirm ask before they submit (deleting a user,
  // revoking a token). Without JavaScript they submit straight away.
  function watchConfirm(form) {
    form.addEventListener("submit", function (e) {
      if (!window.confirm(form.getAttribute("data-confirm"))) e.preventDefault();
    });
  }

  // Copy buttons next to secrets shown once.
  function watchCopy(btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el || !navigator.clipboard) return;
      navigator.clipboard.writeText(el.textContent.trim()).then(function () {
        var label = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(function () { btn.textContent = label; }, 1500);
      });
    });
  }

  // "Fetched 2 minutes ago" keeps counting while the page stays open.
  function relative(iso) {
    var s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (isNaN(s)) return null;
    if (s < 45) return "just now";
    if (s < 90) return "1 minute ago";
    var m = Math.round(s / 60);
    if (m < 45) return m + " minutes ago";
    var h = Math.round(m / 60);
    if (h < 2) return "1 hour ago";
    if (h < 22) return h + " hours ago";
    var d = Math.round(h / 24);
    return d < 2 ? "1 day ago" : d + " days ago";
  }
  function tick() {
    document.querySelectorAll("time[data-relative]").forEach(function (t) {
      var text = relative(t.getAttribute("datetime"));
      if (text) t.textContent = text;
    });
  }

  // The subscription filter of a customer with many subscriptions: it
  // hides the panels whose text does not hold every typed word, and opens
  // the collapsed cancelled and expired ones while a filter is typed.
  // Without JavaScript the box does nothing and every panel stays.
  function watchFilter(input) {
    var panels = document.querySelectorAll(input.getAttribute("data-filter"));
    var none = document.getElementById("sub-filter-none");
    var inactive = document.getElementById("inactive-subs");
    var wasOpen = inactive ? inactive.open : false;
    var filtering = false;
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      var shown = 0;
      panels.forEach(function (p) {
        var text = p.textContent.toLowerCase();
        var match = words.every(function (w) { return text.indexOf(w) >= 0; });
        p.classList.toggle("is-filtered-out", !match);
        if (match) shown++;
      });
      if (none) none.hidden = shown > 0;
      if (inactive) {
        if (words.length && !filtering) wasOpen = inactive.open;
        inactive.open = words.length ? true : wasOpen;
      }
      filtering = words.length > 0;
    });
  }

  // Charge line images fall back to the empty frame when they fail.
  function watchLineImage(img) {
    var hide = function () { img.remove(); };
    if (img.complete && img.naturalWidth === 0) hide();
    img.addEventListener("error", hide);
  }

  function init() {
    document.querySelectorAll("input[data-filter]").forEach(watchFilter);
    document.querySelectorAll(".line__img").forEach(watchLineImage);
    document.querySelectorAll(".sub__img").forEach(watchImage);
    document.querySelectorAll("form[data-confirm]").forEach(watchConfirm);
    document.querySelectorAll("[data-copy]").forEach(watchCopy);
    if (document.querySelector("time[data-relative]")) setInterval(tick, 30000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
