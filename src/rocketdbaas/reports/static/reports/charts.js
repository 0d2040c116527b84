/* Draws every <canvas data-chart="ID"> from the JSON in <script id="ID" type="application/json">
   (written by Django's json_script, so no data is ever placed inside JavaScript source). */
(function () {
  "use strict";
  var PALETTE = ["#2f5bd3", "#16794a", "#c2410c", "#7c3aed", "#0e7490", "#b42318", "#a16207",
                 "#be185d", "#4d7c0f", "#475569", "#1d4ed8", "#15803d"];

  function colour(index) { return PALETTE[index % PALETTE.length]; }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source || typeof Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.datasets.map(function (ds, i) {
      var c = ds.color || colour(i);
      return {
        label: ds.label,
        data: ds.data,
        type: ds.type || spec.type,
        yAxisID: ds.axis === "right" ? "y1" : "y",
        borderColor: c,
        backgroundColor: line ? c + "33" : c,
        fill: line && spec.stacked,
        tension: 0.2,
        pointRadius: spec.labels.length > 60 ? 0 : 2
      };
    });
    var scales = {
      x: { stacked: !!spec.stacked && !line },
      y: { stacked: !!spec.stacked, beginAtZero: true, title: { display: !!spec.yLabel, text: spec.yLabel || "" } }
    };
    if (spec.y1Label) {
      // Percentages near 100 would hug the top of a 0-100 axis: let this one fit the data.
      scales.y1 = { position: "right", beginAtZero: false, grid: { drawOnChartArea: false },
                    title: { display: true, text: spec.y1Label } };
    }
    new Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: scales
      }
    });
  }

  function drawAll() {
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
