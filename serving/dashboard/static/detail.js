// 网格详情: one grid's attributes, this week's forecast, its weekly events, past forecasts against what
// happened, and its latest classified, redacted reports.

import { api, explain } from "./api.js";
import { renderActivity, renderHistory } from "./charts.js";
import {
  ATTRIBUTE_LABELS,
  CHANNEL_LABELS,
  SCORER_LABELS,
  STATUS_LABELS,
  count,
  dateTime,
  el,
  levelBadge,
  pct,
  readableRedactions,
} from "./format.js";
import { t } from "./i18n.js";
import { countsOf, historyRows } from "./risk.js";
import { groupIds, groupLabel } from "./site.js";
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
  $("grid-title").textContent = t("网格 {0}", gridId);
  $("grid-subtitle").textContent = [grid.district, grid.community].filter(Boolean).join(" · ");
  const facts = Object.entries(grid.attributes || {}).map(([name, value]) => {
    const [label, format] = ATTRIBUTE_LABELS[name] || [name, (v) => String(v)];
    return el("div", {}, el("dt", {}, t(label)), el("dd", {}, value === null ? "—" : format(value)));
  });
  $("grid-facts").replaceChildren(...facts);
  $("grid-risk-now").replaceChildren(...groupIds().map((group) => riskNow(gridId, group)));
  $("chart-activity").replaceChildren(el("div", { class: "placeholder" }, t("正在加载…")));
  $("chart-history").replaceChildren(el("div", { class: "placeholder" }, t("正在加载…")));
  $("reports-body").replaceChildren();
  $("history-note").textContent = "";
  $("reports-note").textContent = "";
}

function riskNow(gridId, group) {
  const rows = state.risk?.byGroup[group] || [];
  const row = rows.find((candidate) => candidate.grid_id === gridId);
  if (!row) return el("div", {}, el("h4", {}, groupLabel(group)), el("p", { class: "muted" }, t("暂无预测")));
  return el(
    "div",
    { "data-group": group },
    el("h4", {}, groupLabel(group), " ", levelBadge(row.level, row.levelEstimated)),
    el("p", {}, t("下周发生概率 "), el("strong", {}, pct(row.probability)), t("，排名 {0} / {1}", row.rank, rows.length)),
    row.expected === null ? null : el("p", { class: "small" }, t("预期事件数：{0}", count(row.expected)),
      row.relative === null ? null : ` · ${t("相对风险：{0}", `×${count(row.relative, 2)}`)}`),
    row.scorer ? el("p", { class: "small muted" }, t("评分：{0}", t(SCORER_LABELS[row.scorer] || row.scorer))) : null,
    row.drivers.length
      ? el("ul", { class: "drivers" }, row.drivers.map((text) => el("li", {}, text)))
      : el("p", { class: "muted small" }, t("主要因素：预测模型尚未提供。")),
  );
}

export function renderDetailCharts() {
  const { gridId, activity, history } = state.detail;
  const size = fontSize();
  const activityBox = $("chart-activity");
  if (activity.status === "fulfilled") {
    if (!activityBox.querySelector("svg")) activityBox.replaceChildren();
    if (!renderActivity(activityBox, activity.value, size)) {
      activityBox.replaceChildren(el("div", { class: "placeholder" }, t("图表库未安装。")));
    }
  } else {
    activityBox.replaceChildren(el("div", { class: "placeholder" }, explain(activity.reason)));
  }
  const group = state.group;
  $("history-title").textContent = t("历史预测与实际发生（{0}）", groupLabel(group));
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
    $("history-note").textContent = t("柱：实际发生的事件数；折线：当周之前做出的预测概率。");
  } else if (activity.status === "fulfilled") {
    drawn = renderHistory(
      historyBox,
      {
        weeks: activity.value.weeks,
        actual: countsOf(activity.value, group),
        probability: null,
        group,
        forecastWeek: state.risk?.weekStart,
        forecast: row?.probability,
      },
      size,
    );
    $("history-note").textContent = t("历史预测暂未提供：图中为近一年实际发生的事件数，以及本周的预测概率（最右一点）。");
  }
  if (drawn === false) historyBox.replaceChildren(el("div", { class: "placeholder" }, t("图表库未安装。")));
}

function renderReports(reports) {
  const body = $("reports-body");
  if (reports.status !== "fulfilled") {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, explain(reports.reason))));
    return;
  }
  const rows = reports.value.reports;
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 6, class: "muted" }, t("近期没有上报。"))));
    return;
  }
  body.replaceChildren(
    ...rows.map((report) =>
      el(
        "tr",
        {},
        el("td", { class: "small" }, dateTime(report.reported_at)),
        el("td", { class: "small" }, t(CHANNEL_LABELS[report.channel] || report.channel || "—"),
          report.status ? el("div", { class: "muted" }, t(STATUS_LABELS[report.status] || report.status)) : null),
        el("td", { class: "text" }, report.title ? el("strong", {}, readableRedactions(report.title), " ") : null,
          readableRedactions(report.text)),
        el("td", {}, [report.category_l1, report.category_l3].filter(Boolean).join(" / "),
          report.needs_review ? el("div", { class: "small" }, t("⚠ 需人工复核")) : null),
        el("td", {}, report.department || "—"),
        el("td", { class: "num" }, pct(report.confidence)), // null (no text model): "—"
      ),
    ),
  );
  const model = reports.value.model;
  $("reports-note").textContent = model ? t("分类模型：{0} v{1}；个人信息（身份证号、电话、邮箱、银行卡、车牌）已脱敏。", model.name, model.version ?? "?") : "";
}

export function backToOverview() {
  selectTab("tab-overview", false);
  const button = state.selected && document.querySelector(`#top-body tr[data-grid-id="${CSS.escape(state.selected)}"] button`);
  (button || $("tab-overview")).focus();
}
