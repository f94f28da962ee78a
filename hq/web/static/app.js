// The dashboard's own script (CSP: scripts from this origin only, no inline code).
// - htmx requests that change something carry the session's CSRF token;
// - charts are drawn from JSON configurations in the canvases' data-config attributes
//   (data, never code) and drawn again after htmx swaps them in;
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
      // the configuration is JSON in a single-quoted attribute (Jinja's tojson escapes
      // quotes and markup); htmx drops <script> blocks from swapped content
      var config = JSON.parse(canvas.dataset.config);
      config.options = config.options || {};
      config.options.animation = false;
      config.options.maintainAspectRatio = false;
      // keyed by the data block, not an id: htmx settles elements that keep their id by
      // copying attributes, and Chart.js's inline sizes would then be refused by the CSP
      var key = canvas.dataset.chart;
      if (charts[key]) { charts[key].destroy(); }
      charts[key] = new Chart(canvas, config);
    });
  }
  function drawBars(root) {
    (root || document).querySelectorAll(".bar > span[data-pct]").forEach(function (bar) {
      bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.dataset.pct) || 0)) + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { drawCharts(document); drawBars(document); });
  document.body.addEventListener("htmx:afterSettle", function (evt) {
    drawCharts(evt.detail.target); drawBars(evt.detail.target);
  });

  var live = document.getElementById("live");
  document.body.addEventListener("htmx:sseOpen", function () {
    document.body.dataset.sse = "open";
    if (live) { live.classList.remove("down"); }
  });
  document.body.addEventListener("htmx:sseError", function () {
    document.body.dataset.sse = "down";
    if (live) { live.classList.add("down"); }
  });
})();
