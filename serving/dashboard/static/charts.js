// Drill-down charts (ECharts, SVG renderer) and the small trend lines of the top list (plain SVG).

import { pct, shortDate } from "./format.js";
import { chartLocale, t } from "./i18n.js";
import { groupLabel } from "./site.js";

const MAX_CATEGORIES = 7;
const PALETTE = ["#1d4ed8", "#d7301f", "#f59e0b", "#059669", "#7c3aed", "#0891b2", "#db2777", "#94a3b8"];
const charts = new Map();

function chartIn(element) {
  if (!window.echarts) return null;
  let chart = charts.get(element);
  // a placeholder replaced the drawing (another grid was opened): draw afresh, not into the detached one
  if (chart && !chart.isDisposed() && !element.querySelector("svg")) chart.dispose();
  if (!chart || chart.isDisposed()) {
    chart = window.echarts.init(element, null, { renderer: "svg", locale: chartLocale() });
    charts.set(element, chart);
  }
  return chart;
}

export function resizeCharts() {
  for (const chart of charts.values()) if (!chart.isDisposed()) chart.resize();
}

function base(fontSize) {
  return {
    animation: false,
    color: PALETTE,
    textStyle: { fontSize },
    tooltip: { trigger: "axis", confine: true, textStyle: { fontSize } },
    legend: { type: "scroll", top: 0, left: 0, right: 0, textStyle: { fontSize: fontSize * 0.85 } },
    grid: { left: fontSize * 2.6, right: fontSize * 3.2, top: fontSize * 3.6, bottom: fontSize * 1.8 },
  };
}

/** Weekly events by first-level category: the biggest categories stacked, the rest as 其他. */
export function renderActivity(element, activity, fontSize) {
  const chart = chartIn(element);
  if (!chart) return false;
  const categories = activity.categories.slice(0, MAX_CATEGORIES);
  const rest = activity.categories.slice(MAX_CATEGORIES);
  const series = categories.map((category) => bar(category.category_l1, category.counts));
  if (rest.length) {
    const other = activity.weeks.map((_, week) => rest.reduce((sum, category) => sum + category.counts[week], 0));
    series.push(bar(t("其他"), other));
  }
  chart.setOption(
    {
      ...base(fontSize),
      xAxis: { type: "category", data: activity.weeks.map(shortDate), axisLabel: { fontSize: fontSize * 0.8 } },
      yAxis: { type: "value", minInterval: 1, axisLabel: { fontSize: fontSize * 0.8 } },
      series,
    },
    { notMerge: true },
  );
  return true;
}

function bar(name, data) {
  return { name, type: "bar", stack: "events", data, barCategoryGap: "15%", emphasis: { focus: "series" } };
}

/**
 * Past forecasts against what happened. With forecast history: probability line + actual bars.
 * Without it: the group's actual counts per week, and this week's forecast as the last point.
 */
export function renderHistory(element, { weeks, actual, probability, group, forecastWeek, forecast }, fontSize) {
  const chart = chartIn(element);
  if (!chart) return false;
  const label = groupLabel(group);
  const categories = [...weeks];
  const probabilities = probability ? [...probability] : weeks.map(() => null);
  const actuals = [...actual];
  if (forecastWeek && !categories.includes(forecastWeek)) {
    categories.push(forecastWeek);
    probabilities.push(forecast ?? null);
    actuals.push(null);
  } else if (forecastWeek) {
    probabilities[categories.indexOf(forecastWeek)] = forecast ?? probabilities[categories.indexOf(forecastWeek)];
  }
  chart.setOption(
    {
      ...base(fontSize),
      tooltip: {
        trigger: "axis",
        confine: true,
        textStyle: { fontSize },
        valueFormatter: (value) => (value === null || value === undefined ? "—" : String(Math.round(value * 1000) / 1000)),
      },
      xAxis: { type: "category", data: categories.map(shortDate), axisLabel: { fontSize: fontSize * 0.8 } },
      yAxis: [
        { type: "value", name: t("实际事件数"), minInterval: 1, axisLabel: { fontSize: fontSize * 0.8 } },
        { type: "value", name: t("预测概率"), min: 0, max: 1, axisLabel: { fontSize: fontSize * 0.8, formatter: (v) => pct(v, 0) } },
      ],
      series: [
        { name: t("实际{0}事件", label), type: "bar", data: actuals, itemStyle: { color: "#94a3b8" } },
        {
          name: t("预测{0}概率", label),
          type: "line",
          yAxisIndex: 1,
          data: probabilities,
          connectNulls: false,
          symbolSize: 7,
          itemStyle: { color: "#d7301f" },
        },
      ],
    },
    { notMerge: true },
  );
  return true;
}

/** A small inline trend line; `label` describes it for screen readers. */
export function sparkline(values, label, { width = 84, height = 22 } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const points = values.map((value) => value ?? 0);
  const max = Math.max(...points, 1e-9);
  const step = points.length > 1 ? (width - 4) / (points.length - 1) : 0;
  const coords = points.map((value, i) => [2 + i * step, height - 2 - (value / max) * (height - 4)]);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", coords.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#1d4ed8");
  line.setAttribute("stroke-width", "1.6");
  svg.append(line);
  const [lastX, lastY] = coords[coords.length - 1] || [0, 0];
  const dot = document.createElementNS(ns, "circle");
  dot.setAttribute("cx", lastX);
  dot.setAttribute("cy", lastY);
  dot.setAttribute("r", "2.2");
  dot.setAttribute("fill", "#d7301f");
  svg.append(dot);
  return svg;
}
