/* kommunaltypen public pages: progressive enhancement only (every page works without it).
   - sends the CSRF token with htmx requests (header X-CSRF-Token, from <meta name="csrf-token">)
   - copy button for the private link
   - moves focus to the error summary / heading after htmx swapped the main element */
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });
  function enhance(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      if (!navigator.clipboard) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var input = document.querySelector(button.getAttribute("data-copy"));
        var status = button.closest("section").querySelector(".copy-status");
        navigator.clipboard.writeText(input.value).then(function () {
          if (status) { status.textContent = button.getAttribute("data-copied"); }
        }, function () {
          input.select();
        });
      });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "main") { return; }
    var main = document.getElementById("main");
    if (!main) { return; }
    enhance(main);
    var focus = main.querySelector("[data-focus]") || main;
    focus.focus();
  });
})();
