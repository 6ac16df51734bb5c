// 网格详情: one grid's attributes, this week's forecast, its weekly events, past forecasts against what
// happened, and its latest classified, redacted reports.

import { api, explain } from "./api.js";
import { renderActivity, renderHistory } from "./charts.js";
import {
  ATTRIBUTE_LABELS,
  CHANNEL_LABELS,
  GROUP_LABELS,
  STATUS_LABELS,
  dateTime,
  el,
  levelBadge,
  pct,
  readableRedactions,
} from "./format.js";
import { historyRows } from "./risk.js";
import { $, fontSize, state } from "./state.js";
import { selectTab } from "./tabs.js";

// ---- opening a grid --------------------------------------------------------------------------------------
export async function openGrid(gridId) {
  if (!gridId) return;
  state.selected = gridId;
  state.map?.select(gridId);
  for (const row of document.querySelectorAll("#top-body tr")) {
    row.classList.toggle("selected", row.dataset.gridId === gridId);
  }
  selectTab("tab-grid", false);
  renderDetailHeader(gridId);
  $("grid-title").focus();
  const [activity, reports, history] = await Promise.allSettled([
    api(`/v1/grids/${encodeURIComponent(gridId)}/activity`),
    api(`/v1/grids/${encodeURIComponent(gridId)}/reports?limit=10`),
    api(`/v1/risk/${encodeURIComponent(gridId)}/history`),
  ]);
  if (state.selected !== gridId) return; // another grid was opened meanwhile
  state.detail = { gridId, activity, reports, history };
  renderDetailCharts();
  renderReports(reports);
}

function renderDetailHeader(gridId) {
  const grid = state.gridById.get(gridId) || { grid_id: gridId };
  $("grid-empty").hidden = true;
  $("grid-detail").hidden = false;
  $("grid-detail").dataset.gridId = gridId;
  $("grid-title").textContent = `网格 ${gridId}`;
  $("grid-subtitle").textContent = [grid.district, grid.community].filter(Boolean).join(" · ");
  const facts = Object.entries(grid.attributes || {}).map(([name, value]) => {
    const [label, format] = ATTRIBUTE_LABELS[name] || [name, (v) => String(v)];
    return el("div", {}, el("dt", {}, label), el("dd", {}, value === null ? "—" : format(value)));
  });
  $("grid-facts").replaceChildren(...facts);
  $("grid-risk-now").replaceChildren(...["dispute", "hazard"].map((group) => riskNow(gridId, group)));
  $("chart-activity").replaceChildren(el("div", { class: "placeholder" }, "正在加载…"));
  $("chart-history").replaceChildren(el("div", { class: "placeholder" }, "正在加载…"));
  $("reports-body").replaceChildren();
  $("history-note").textContent = "";
  $("reports-note").textContent = "";
}

function riskNow(gridId, group) {
  const rows = state.risk?.byGroup[group] || [];
  const row = rows.find((candidate) => candidate.grid_id === gridId);
  if (!row) return el("div", {}, el("h4", {}, GROUP_LABELS[group]), el("p", { class: "muted" }, "暂无预测"));
  return el(
    "div",
    { "data-group": group },
    el("h4", {}, GROUP_LABELS[group], " ", levelBadge(row.level, row.levelEstimated)),
    el("p", {}, `下周发生概率 `, el("strong", {}, pct(row.probability)), `，排名 ${row.rank} / ${rows.length}`),
    row.drivers.length
      ? el("ul", { class: "drivers" }, row.drivers.map((text) => el("li", {}, text)))
      : el("p", { class: "muted small" }, "主要因素：预测模型尚未提供。"),
  );
}

export function renderDetailCharts() {
  const { gridId, activity, history } = state.detail;
  const size = fontSize();
  const activityBox = $("chart-activity");
  if (activity.status === "fulfilled") {
    if (!activityBox.querySelector("svg")) activityBox.replaceChildren();
    if (!renderActivity(activityBox, activity.value, size)) {
      activityBox.replaceChildren(el("div", { class: "placeholder" }, "图表库未安装。"));
    }
  } else {
    activityBox.replaceChildren(el("div", { class: "placeholder" }, explain(activity.reason)));
  }
  const group = state.group;
  $("history-title").textContent = `历史预测与实际发生（${GROUP_LABELS[group]}）`;
  const historyBox = $("chart-history");
  if (!historyBox.querySelector("svg")) historyBox.replaceChildren();
  const row = (state.risk?.byGroup[group] || []).find((candidate) => candidate.grid_id === gridId);
  const past = history.status === "fulfilled" ? historyRows(history.value, group) : [];
  let drawn;
  if (past.length) {
    drawn = renderHistory(
      historyBox,
      {
        weeks: past.map((point) => point.week),
        actual: past.map((point) => point.actual),
        probability: past.map((point) => point.probability),
        group,
        forecastWeek: state.risk?.weekStart,
        forecast: row?.probability,
      },
      size,
    );
    $("history-note").textContent = "柱：实际发生的事件数；折线：当周之前做出的预测概率。";
  } else if (activity.status === "fulfilled") {
    drawn = renderHistory(
      historyBox,
      {
        weeks: activity.value.weeks,
        actual: activity.value[group],
        probability: null,
        group,
        forecastWeek: state.risk?.weekStart,
        forecast: row?.probability,
      },
      size,
    );
    $("history-note").textContent = "历史预测暂未提供：图中为近一年实际发生的事件数，以及本周的预测概率（最右一点）。";
  }
  if (drawn === false) historyBox.replaceChildren(el("div", { class: "placeholder" }, "图表库未安装。"));
}

function renderReports(reports) {
  const body = $("reports-body");
  if (reports.status !== "fulfilled") {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, explain(reports.reason))));
    return;
  }
  const rows = reports.value.reports;
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "近期没有上报。")));
    return;
  }
  body.replaceChildren(
    ...rows.map((report) =>
      el(
        "tr",
        {},
        el("td", { class: "small" }, dateTime(report.reported_at)),
        el("td", { class: "small" }, CHANNEL_LABELS[report.channel] || report.channel || "—",
          report.status ? el("div", { class: "muted" }, STATUS_LABELS[report.status] || report.status) : null),
        el("td", { class: "text" }, report.title ? el("strong", {}, readableRedactions(report.title), " ") : null,
          readableRedactions(report.text)),
        el("td", {}, `${report.category_l1} / ${report.category_l3}`,
          report.needs_review ? el("div", { class: "small" }, "⚠ 需人工复核") : null),
        el("td", {}, report.department),
        el("td", { class: "num" }, pct(report.confidence)),
      ),
    ),
  );
  const model = reports.value.model;
  $("reports-note").textContent = model ? `分类模型：${model.name} v${model.version ?? "?"}；个人信息（身份证号、电话、邮箱、银行卡、车牌）已脱敏。` : "";
}

export function backToOverview() {
  selectTab("tab-overview", false);
  const button = state.selected && document.querySelector(`#top-body tr[data-grid-id="${CSS.escape(state.selected)}"] button`);
  (button || $("tab-overview")).focus();
}
