// 模型漂移: the live drift signals (GET /v1/drift) on the models panel, as one chart over time. Each signal
// is drawn as value ÷ threshold, so one dashed line at 1 is every threshold. Own labels, in the page's
// language (the page's lang attribute), so this module adds no entries to the shared dictionary.

import { api, explain } from "./api.js";
import { el } from "./format.js";

const LABELS = {
  title: ["模型漂移监测", "Traffic drift"],
  noReference: ["尚无漂移参照：运行 gridsense monitor 生成（它保存 API 比较所用的参照）。", "No drift reference yet: run gridsense monitor (it saves the reference the API compares with)."],
  noHistory: ["分类的报告还不够，暂无漂移信号（每 256 条更新一次）。", "Not enough classified reports yet (the signals update every 256)."],
  reference: ["参照：模型 v{0}，{1} 条留出报告；当前窗口 {2} 条报告。", "Reference: model v{0}, {1} held-out reports; {2} reports in the live window."],
  alarm: ["告警：{0}", "Alarm: {0}"],
  calm: ["全部信号低于阈值。", "Every signal is below its threshold."],
  axis: ["信号 ÷ 阈值（>1 告警）", "signal ÷ threshold (>1: alarm)"],
  reports: ["本进程已分类的报告数", "reports this worker has classified"],
  threshold: ["阈值", "threshold"],
  note: ["每个 API 进程各有自己的窗口；批量报告见 gridsense monitor。", "Each API worker keeps its own window; for a full report run gridsense monitor."],
  category_mix: ["类别构成 PSI", "category mix PSI"],
  confidence: ["置信度 PSI", "confidence PSI"],
  needs_review: ["需复核比例增幅", "needs_review increase"],
  unseen_ngrams: ["新词片段占比增幅", "unseen n-gram increase"],
  novel_reports: ["新说法报告占比增幅", "novel report share increase"],
  text_length: ["文本长度 PSI", "text length PSI"],
  correction_rate: ["纠正率", "correction rate"],
};
const REFRESH_MS = 60_000;
let chart = null;
let timer = null;

function label(key, ...args) {
  const text = (LABELS[key] || [key, key])[document.documentElement.lang === "en" ? 1 : 0];
  return text.replace(/\{(\d+)\}/g, (match, i) => (args[i] === undefined ? match : String(args[i])));
}

async function loadDrift() {
  let box = document.getElementById("drift");
  if (!box) {
    box = el("div", { id: "drift", class: "card" });
    document.getElementById("panel-models").append(box);
  }
  try {
    render(box, await api("/v1/drift"));
  } catch (error) {
    box.replaceChildren(el("h2", {}, label("title")), el("p", { class: "error" }, explain(error, "supervisor")));
  }
}

function render(box, drift) {
  const title = el("h2", {}, label("title"));
  if (!drift.reference) return box.replaceChildren(title, el("p", { class: "muted" }, label("noReference")));
  const summary = el("p", { class: "muted" }, label("reference", drift.reference.model_version ?? "?", drift.reference.reports, drift.window_reports));
  if (!drift.history.length) return box.replaceChildren(title, summary, el("p", { class: "muted" }, label("noHistory")));
  const latest = drift.history[drift.history.length - 1];
  const status = latest.alarms.length
    ? el("p", { class: "error", role: "status" }, label("alarm", latest.alarms.map((name) => label(name)).join(", ")))
    : el("p", { role: "status" }, label("calm"));
  const canvas = el("div", { class: "drift-chart", style: "height: 280px; width: 100%" });
  box.replaceChildren(title, summary, status, canvas, el("p", { class: "small muted" }, label("note")));
  draw(canvas, drift);
}

function draw(element, drift) {
  if (!window.echarts) return;
  if (chart) chart.dispose();
  chart = window.echarts.init(element, null, { renderer: "svg" });
  const names = Object.keys(drift.thresholds).filter((name) => drift.history.some((point) => point.signals[name] != null));
  const series = names.map((name, index) => ({
    name: label(name),
    type: "line",
    showSymbol: drift.history.length < 40,
    data: drift.history.map((point) => {
      const value = point.signals[name];
      // a decrease (below the reference) is drawn at 0: only increases can alarm
      return [point.reports_seen, value == null ? null : Math.max(0, value / drift.thresholds[name]), point.at];
    }),
    ...(index === 0
      ? { markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: "#d7301f" }, label: { formatter: label("threshold") }, data: [{ yAxis: 1 }] } }
      : {}),
  }));
  chart.setOption({
    animation: false,
    tooltip: { trigger: "axis", confine: true, valueFormatter: (value) => (value == null ? "—" : Number(value).toFixed(2)) },
    legend: { type: "scroll", top: 0 },
    grid: { left: 48, right: 48, top: 40, bottom: 44 },
    xAxis: { type: "value", name: label("reports"), nameLocation: "middle", nameGap: 26, min: "dataMin" },
    yAxis: { type: "value", name: label("axis"), min: 0 },
    series,
  });
}

function watchModelsPanel() {
  const panel = document.getElementById("panel-models");
  if (!panel) return;
  const update = () => {
    clearInterval(timer);
    if (panel.hidden) return;
    loadDrift();
    timer = setInterval(loadDrift, REFRESH_MS);
    requestAnimationFrame(() => chart?.resize());
  };
  new MutationObserver(update).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
  update();
}

watchModelsPanel();
