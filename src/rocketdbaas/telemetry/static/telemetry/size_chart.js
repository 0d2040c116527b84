// Draws every canvas marked data-size-chart from the JSON <script> it names.
(function () {
  document.querySelectorAll("canvas[data-size-chart]").forEach(function (canvas) {
    if (canvas.dataset.drawn) return;
    var source = document.getElementById(canvas.dataset.sizeChart);
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    data.datasets.forEach(function (ds, i) {
      ds.spanGaps = true;
      ds.pointRadius = 0;
      ds.borderWidth = i === 0 ? 3 : 1.5;
    });
    new Chart(canvas, {
      type: "line",
      data: data,
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: { y: { beginAtZero: true, title: { display: true, text: "GiB" } } },
      },
    });
    canvas.dataset.drawn = "1";
  });
})();
