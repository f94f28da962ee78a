// The dashboard's own script (CSP: scripts from this origin only, no inline code).
// - htmx requests that change something carry the session's CSRF token;
// - charts are drawn from JSON the page embeds in <script type="application/json"> blocks
//   (data, never code) and redrawn after htmx swaps them in;
// - the live marker turns red while the event stream is down.
(function () {
  "use strict";
  document.body.addEventListener("htmx:configRequest", function (evt) {
    var token = document.body.dataset.csrf;
    if (token && evt.detail.verb !== "get") { evt.detail.headers["X-CSRF-Token"] = token; }
  });

  var charts = {};
  function drawCharts(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.chart);
      if (!source) { return; }
      var config = JSON.parse(source.textContent);
      config.options = config.options || {};
      config.options.animation = false;
      config.options.maintainAspectRatio = false;
      if (charts[canvas.id]) { charts[canvas.id].destroy(); }
      charts[canvas.id] = new Chart(canvas, config);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  document.body.addEventListener("htmx:afterSwap", function (evt) { drawCharts(evt.detail.target); });

  var live = document.getElementById("live");
  document.body.addEventListener("htmx:sseOpen", function () { if (live) { live.classList.remove("down"); } });
  document.body.addEventListener("htmx:sseError", function () { if (live) { live.classList.add("down"); } });
})();
