// defib console: local times, and no live refresh under a person's typing.
(function () {
  "use strict";
  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) {
        el.textContent = d.toLocaleString(undefined, {
          year: "numeric", month: "short", day: "numeric",
          hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
        });
      }
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
