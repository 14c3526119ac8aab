// The admin report page's charts, drawn with the vendored Chart.js from the report the
// page embeds with json_script (id "report-data"); no request of its own.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var source = document.getElementById("report-data");
  if (!source || typeof window.Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  var report = data.report;
  var labels = data.labels;
  var locale = document.documentElement.lang || "de";
  var numbers = new Intl.NumberFormat(locale);
  var percents = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
  // Colour-blind safe (Okabe & Ito), then repeated.
  var COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  var type = report.granularity === "month" ? "bar" : "line";

  function color(index) {
    return COLORS[index % COLORS.length];
  }

  function dataset(label, values, index, stacked) {
    return {
      label: label,
      data: values,
      borderColor: color(index),
      backgroundColor: color(index),
      pointRadius: labels.length > 60 ? 0 : 2,
      spanGaps: false,
      stack: stacked ? "reasons" : undefined,
    };
  }

  function perGroup(metric) {
    return report.series.map(function (series, index) {
      var values = series.buckets.map(function (bucket) {
        var value = bucket[metric];
        if (value === null) return null;
        return metric === "click_rate" ? value * 100 : value;
      });
      return dataset(series.label, values, index, false);
    });
  }

  function filteredByReason() {
    return report.filtered_by_reason.map(function (reason, index) {
      return dataset(reason.label, reason.counts, index, true);
    });
  }

  function draw(canvas) {
    var metric = canvas.dataset.metric;
    // Filtered events are known per campaign only: otherwise show them by reason.
    var byReason = metric === "filtered" && report.group_by !== "campaign";
    var format = metric === "click_rate"
      ? function (value) { return percents.format(value) + " %"; }
      : function (value) { return numbers.format(value); };
    new window.Chart(canvas, {
      type: byReason ? "bar" : type,
      data: { labels: labels, datasets: byReason ? filteredByReason() : perGroup(metric) },
      options: {
        locale: locale,
        animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: byReason },
          y: { stacked: byReason, beginAtZero: true, ticks: { callback: format } },
        },
        plugins: {
          legend: { display: true },
          tooltip: {
            callbacks: {
              label: function (context) {
                var value = context.parsed.y;
                return context.dataset.label + ": " + (value === null ? "–" : format(value));
              },
            },
          },
        },
      },
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("canvas[data-metric]"), draw);
});
