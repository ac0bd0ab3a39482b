// defib console: local times, and no live refresh under a person's typing.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  // The viewer's zone abbreviation (CET, GMT+2...), from Intl; empty if it has none.
  function zoneOf(d) {
    try {
      var parts = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(d);
      for (var i = 0; i < parts.length; i++) {
        if (parts[i].type === "timeZoneName") { return parts[i].value; }
      }
    } catch (err) { /* an old browser: no zone name */ }
    return "";
  }
  // ISO-8601 and 24-hour in the viewer's zone whatever their locale ("2026-12-07 22:00:05 CET");
  // the UTC time stays in the title, shown on hover.
  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) { return; }
      var clock = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
      var day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
      var zone = zoneOf(d);
      var text = el.getAttribute("data-local") === "clock" ? clock : day + " " + clock;
      el.textContent = zone ? text + " " + zone : text;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.detail.elt.parentNode || document); });
  // A polled region that holds a form being filled in is not replaced until it is left.
  document.addEventListener("htmx:beforeRequest", function (e) {
    var el = e.detail.elt;
    if (!el.hasAttribute || !el.hasAttribute("data-poll")) { return; }
    var active = document.activeElement;
    var typing = active && el.contains(active) && active.matches("input, textarea, select");
    var filled = Array.prototype.some.call(el.querySelectorAll("input[type=text], input:not([type]), textarea"),
      function (f) { return f.value !== ""; });
    if (typing || filled) { e.preventDefault(); }
  });
})();
