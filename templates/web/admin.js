// Live progress for the admin console: every element with data-progress
// polls its JSON URL and updates the fields inside it. When a send ends the
// page reloads once to show its final state.
"use strict";
(function () {
  document.querySelectorAll("[data-progress]").forEach(function (box) {
    var url = box.getAttribute("data-progress");
    var every = parseInt(box.getAttribute("data-poll"), 10) || 1000;
    var status = box.querySelector("[data-field=status]");
    // The server says whether the send is starting or going out.
    if (box.getAttribute("data-live") !== "true") { return; }
    function set(name, value) {
      box.querySelectorAll("[data-field=" + name + "]").forEach(function (el) {
        el.textContent = String(value);
      });
    }
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (p) {
          ["status", "percent", "done", "total", "sent", "failed", "skipped", "pending"].forEach(function (k) {
            if (p[k] !== undefined) { set(k, p[k]); }
          });
          if (status) { status.className = "status " + p.status; }
          var bar = box.querySelector("progress");
          if (bar && p.percent !== undefined) { bar.value = p.percent; bar.textContent = p.percent + "%"; }
          if (p.live) { setTimeout(tick, every); }
          else { setTimeout(function () { location.reload(); }, every); }
        })
        .catch(function () { setTimeout(tick, every * 5); });
    }
    setTimeout(tick, every);
  });
})();
