// 风险总览: the risk map and the top-20 list, with the group and metric toggles, week selector, sorting
// and filters. The groups, their labels and the default metric are the site's (site.js).

import { api, explain } from "./api.js";
import { sparkline } from "./charts.js";
import { openGrid, renderDetailCharts } from "./detail.js";
import { LEVELS, SCORER_LABELS, count, el, escapeHtml, levelBadge, pct } from "./format.js";
import { numberLocale, t } from "./i18n.js";
import { RiskMap } from "./map.js";
import { countsOf, riskByGroup } from "./risk.js";
import { METRICS, groupIds, groupLabel, site } from "./site.js";
import { $, fontSize, notify, state } from "./state.js";

const TOP_N = 20;
const TREND_WEEKS = 8;
const PAST_WEEKS = 12;

// what the map colours and the list's number column shows: the row field, its words and its format
const METRIC_VIEWS = {
  probability: { field: "probability", header: "概率", legend: "{0} 下周发生概率", floor: 0.01,
    format: (v) => pct(v), min: "0%", max: (m) => pct(m, 0) },
  expected: { field: "expected", header: "预期事件数", legend: "{0} 下周预期事件数", floor: 0.1,
    format: (v) => count(v), min: "0", max: (m) => t("{0} 起", count(m)) },
  relative: { field: "relative", header: "相对风险", legend: "{0} 相对全市平均的风险", floor: 1,
    format: (v) => (v === null || v === undefined ? "—" : `×${count(v, 2)}`), min: "×0", max: (m) => `×${count(m)}` },
};
const metricView = () => METRIC_VIEWS[state.metric] || METRIC_VIEWS.probability;

const map = new RiskMap($("map"), { onSelect: (gridId) => openGrid(gridId), tooltip: (gridId) => tooltip(gridId) });
state.map = map;

// ---- data --------------------------------------------------------------------------------
export async function loadOverview() {
  const [risk, grids, weekly] = await Promise.allSettled([
    api("/v1/risk"),
    api("/v1/grids"),
    api(`/v1/grids/weekly?weeks=${PAST_WEEKS}`),
  ]);
  buildGroupToggle();
  if (risk.status === "fulfilled") {
    state.risk = { weekStart: risk.value.week_start, model: risk.value.model, byGroup: riskByGroup(risk.value, groupIds()) };
    state.risk.availableWeeks = risk.value.available_weeks || [risk.value.week_start];
    state.risk.scorers = risk.value.scorers || {};
    state.shownRisk = state.risk;
    const model = t("预测周：{0} 起 · 风险模型 v{1}", risk.value.week_start, risk.value.model.version ?? "?");
    $("forecast-week").textContent = [model, scorerText(state.risk.scorers)].filter(Boolean).join(" · ");
  } else {
    notify(t("风险预测无法读取：{0}", explain(risk.reason, "supervisor")));
  }
  if (grids.status === "fulfilled") {
    state.grids = grids.value.grids;
    state.gridById = new Map(state.grids.map((grid) => [grid.grid_id, grid]));
    map.setGrids(state.grids);
  } else {
    $("map").replaceChildren(el("div", { class: "placeholder" }, t("地图数据不可用：{0}", explain(grids.reason))));
  }
  if (weekly.status === "fulfilled") {
    state.weekly = {
      weeks: weekly.value.weeks,
      byGrid: new Map(weekly.value.grids.map((row) => [row.grid_id, row])),
    };
  }
  setupMetricToggle();
  fillWeekSelect();
  fillDistrictFilter();
  renderOverview();
}

/** Which scorer answers (chosen on the site's backtest): one name, or one per group when they differ. */
function scorerText(scorers) {
  const entries = Object.entries(scorers);
  if (!entries.length) return "";
  const name = (scorer) => t(SCORER_LABELS[scorer] || scorer);
  const names = new Set(entries.map(([, scorer]) => scorer));
  const text = names.size === 1 ? name(entries[0][1]) : entries.map(([g, scorer]) => `${groupLabel(g)} ${name(scorer)}`).join(t("，"));
  return t("评分：{0}", text);
}

/** One radio per site group; one group needs no toggle (the titles name it). */
function buildGroupToggle() {
  const ids = groupIds();
  if (!ids.includes(state.group)) state.group = ids[0];
  const box = $("group-toggle");
  box.hidden = ids.length < 2;
  const radios = ids.flatMap((id) => [
    el("input", { type: "radio", name: "group", id: `group-${id}`, value: id, checked: id === state.group, onchange: () => changeGroup(id) }),
    el("label", { for: `group-${id}` }, groupLabel(id)),
  ]);
  box.replaceChildren(el("legend", {}, t("风险类型")), ...radios);
}

function changeGroup(group) {
  state.group = group;
  renderOverview();
  if (state.detail) renderDetailCharts();
}

/** The metrics the forecasts carry (probability always); the site's choice first, else probability. */
function setupMetricToggle() {
  const rows = Object.values(state.risk?.byGroup || {}).flat();
  const available = METRICS.filter((metric) => metric === "probability" || rows.some((row) => row[METRIC_VIEWS[metric].field] !== null));
  if (!state.metric) state.metric = available.includes(site.map_metric) ? site.map_metric : "probability";
  $("metric-toggle").hidden = available.length < 2;
  for (const input of document.querySelectorAll('input[name="metric"]')) {
    input.disabled = !available.includes(input.value);
    input.nextElementSibling.hidden = input.disabled;
    input.checked = input.value === state.metric;
  }
}

function currentRows() {
  return state.shownRisk ? state.shownRisk.byGroup[state.group] || [] : [];
}

function fillWeekSelect() {
  const select = $("week-select");
  const options = [];
  for (const week of [...(state.risk?.availableWeeks || [])].sort().reverse()) {
    options.push(el("option", { value: `forecast:${week}` }, t("{0} 周（预测）", week)));
  }
  for (const week of [...(state.weekly?.weeks || [])].reverse()) {
    options.push(el("option", { value: `actual:${week}` }, t("{0} 周（实际）", week)));
  }
  select.replaceChildren(...options);
  state.week = options.length ? options[0].value : null;
  select.value = state.week || "";
}

function fillDistrictFilter() {
  const districts = new Set();
  for (const grid of state.grids) if (grid.district) districts.add(grid.district);
  for (const row of currentRows()) if (row.district) districts.add(row.district);
  const select = $("filter-district");
  select.replaceChildren(
    el("option", { value: "" }, t("全部")),
    ...[...districts].sort((a, b) => a.localeCompare(b, numberLocale())).map((d) => el("option", { value: d }, d)),
  );
}

export function setupOverviewControls() {
  for (const input of document.querySelectorAll('input[name="metric"]')) {
    input.addEventListener("change", () => {
      state.metric = input.value;
      renderOverview();
    });
  }
  $("week-select").addEventListener("change", (event) => changeWeek(event.target.value));
  $("filter-district").addEventListener("change", (event) => {
    state.filters.district = event.target.value;
    renderTopList();
  });
  $("filter-level").addEventListener("change", (event) => {
    state.filters.level = event.target.value;
    renderTopList();
  });
  for (const header of document.querySelectorAll("#top-table th[data-sort]")) {
    header.querySelector("button").addEventListener("click", () => sortBy(header.dataset.sort));
  }
}

async function changeWeek(value) {
  state.week = value;
  const [kind, week] = value.split(":");
  if (kind === "forecast") {
    if (week === state.risk.weekStart) {
      state.shownRisk = state.risk;
    } else {
      try {
        const response = await api(`/v1/risk?week=${encodeURIComponent(week)}`);
        state.shownRisk = { weekStart: week, model: response.model, byGroup: riskByGroup(response, groupIds()) };
      } catch (error) {
        notify(t("无法读取 {0} 周的预测：{1}", week, explain(error)));
      }
    }
  }
  renderOverview();
}

// ---- rendering ------------------------------------------------------------------------
function renderOverview() {
  renderMap();
  renderTopList();
}

export function renderMap() {
  if (!state.grids.length) return;
  if (!window.echarts) {
    $("map").replaceChildren(el("div", { class: "placeholder" }, t("地图需要图表库：请运行 make dashboard-assets 后刷新页面。")));
    return;
  }
  const [kind, week] = (state.week || "forecast:").split(":");
  const label = groupLabel(state.group);
  let values;
  let max;
  if (kind === "actual" && state.weekly) {
    const index = state.weekly.weeks.indexOf(week);
    values = new Map([...state.weekly.byGrid].map(([id, row]) => [id, countsOf(row, state.group)[index]]));
    max = Math.max(1, ...values.values());
    setLegend(t("{0} 周实际{1}事件数", week, label), "0", t("{0} 起", max));
    $("map").setAttribute("aria-label", t("网格地图：{0} 周各网格实际发生的{1}事件数，颜色越深越多。", week, label));
  } else {
    const rows = currentRows();
    const view = metricView();
    values = new Map(rows.map((row) => [row.grid_id, row[view.field]]));
    max = Math.max(view.floor, ...[...values.values()].filter((value) => value !== null));
    setLegend(t(view.legend, label), view.min, view.max(max));
    const top = rows.slice(0, 3).map((row) => `${row.grid_id}（${view.format(row[view.field])}）`).join("、");
    $("map").setAttribute("aria-label", t("网格地图：{0} 个网格按{1}风险着色。风险最高：{2}。可在右侧列表中逐个选择网格。", state.grids.length, label, top));
  }
  $("map").dataset.group = state.group;
  $("map").dataset.metric = state.metric;
  $("map").dataset.week = state.week || "";
  if (!map.render(values, max, fontSize())) {
    $("map").replaceChildren(el("div", { class: "placeholder" }, t("没有可绘制的网格几何数据。")));
  }
  map.select(state.selected);
}

function setLegend(title, min, max) {
  $("legend-title").textContent = title;
  $("legend-min").textContent = min;
  $("legend-max").textContent = max;
}

function tooltip(gridId) {
  const grid = state.gridById.get(gridId) || {};
  const row = currentRows().find((candidate) => candidate.grid_id === gridId);
  const total = currentRows().length;
  const label = escapeHtml(groupLabel(state.group));
  const lines = [
    `<strong>${escapeHtml(t("网格 {0}", gridId))}</strong> ${escapeHtml([grid.district, grid.community].filter(Boolean).join(" · "))}`,
  ];
  if (row) {
    lines.push(t("{0}概率：{1}", label, `<strong>${pct(row.probability)}</strong>`));
    if (row.expected !== null) lines.push(t("预期事件数：{0}", count(row.expected)));
    if (row.relative !== null) lines.push(t("相对风险：{0}", `×${count(row.relative, 2)}`));
    const level = `${escapeHtml(t(row.level))}${row.levelEstimated ? t("（估算）") : ""}`;
    lines.push(t("等级：{0} · 排名：{1} / {2}", level, row.rank, total));
  } else {
    lines.push(t("{0}：暂无预测", label));
  }
  const [kind, week] = (state.week || "").split(":");
  if (kind === "actual" && state.weekly) {
    const counts = state.weekly.byGrid.get(gridId);
    const index = state.weekly.weeks.indexOf(week);
    if (counts) lines.push(t("{0} 周实际{1}：{2} 起", week, label, countsOf(counts, state.group)[index]));
  }
  return lines.join("<br>");
}

function visibleTopRows() {
  let rows = currentRows();
  if (state.filters.district) rows = rows.filter((row) => row.district === state.filters.district);
  if (state.filters.level) rows = rows.filter((row) => row.level === state.filters.level);
  rows = rows.slice(0, TOP_N); // the N highest-ranked grids that pass the filters
  const { key, direction } = state.sort;
  const sign = direction === "ascending" ? 1 : -1;
  const field = key === "probability" ? metricView().field : key; // the number column shows the metric
  const value = (row) => (key === "level" ? LEVELS.indexOf(row.level) : row[field] ?? "");
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), numberLocale());
    return sign * order || a.rank - b.rank;
  });
}

function renderTopList() {
  const label = groupLabel(state.group);
  const week = state.shownRisk?.weekStart;
  const when = week ? t("{0} 周", week) : t("本周");
  $("top-title").textContent = t("{0}{1}风险最高的 {2} 个网格", when, label, TOP_N);
  $("metric-header").textContent = t(metricView().header);
  const rows = visibleTopRows();
  const body = $("top-body");
  if (!state.shownRisk) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("暂无风险预测。"))));
    return;
  }
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, t("没有符合筛选条件的网格。"))));
  } else {
    body.replaceChildren(...rows.map(topRow));
  }
  renderTopFootnote();
}

function topRow(row) {
  const grid = state.gridById.get(row.grid_id) || {};
  const label = groupLabel(state.group);
  const view = metricView();
  const button = el(
    "button",
    {
      type: "button",
      class: "grid-link",
      "aria-label": t("网格 {0}，{1}{2} {3}，等级 {4}，排名第 {5}。打开网格详情", row.grid_id, label, t(view.header),
        view.format(row[view.field]), t(row.level), row.rank),
      onclick: (event) => {
        event.stopPropagation();
        openGrid(row.grid_id);
      },
      onfocus: () => {
        map.select(row.grid_id);
        map.point(row.grid_id);
      },
      onblur: () => {
        map.hideTip();
        map.select(state.selected);
      },
    },
    row.grid_id,
  );
  const drivers = row.drivers.length
    ? el("ul", { class: "drivers" }, row.drivers.map((text) => el("li", {}, text)))
    : el("span", { class: "muted", title: t("预测模型尚未提供驱动因素") }, "—");
  return el(
    "tr",
    {
      "data-grid-id": row.grid_id,
      class: row.grid_id === state.selected ? "selected" : null,
      onclick: () => openGrid(row.grid_id),
    },
    el("td", { class: "num" }, row.rank),
    el("td", {}, button, grid.community ? el("div", { class: "small muted" }, grid.community) : null),
    el("td", {}, row.district || grid.district || "—"),
    el("td", { class: "num", "data-probability": row.probability }, view.format(row[view.field])),
    el("td", {}, levelBadge(row.level, row.levelEstimated)),
    el("td", {}, drivers),
    el("td", {}, trendCell(row)),
  );
}

function trendCell(row) {
  if (row.trend) {
    return sparkline(row.trend, t("近 {0} 次预测概率：{1}", row.trend.length, row.trend.map((p) => pct(p, 0)).join("、")));
  }
  const counts = state.weekly?.byGrid.get(row.grid_id);
  if (!counts) return el("span", { class: "muted" }, "—");
  const values = countsOf(counts, state.group).slice(-TREND_WEEKS);
  return sparkline(values, t("近 {0} 周实际{1}事件数：{2}", values.length, groupLabel(state.group), values.join("、")));
}

function renderTopFootnote() {
  const rows = currentRows();
  const notes = [];
  if (rows.some((row) => row.levelEstimated)) {
    notes.push(t("* 等级按排名估算：前 5% 的网格为高，5%–20% 为中，其余为低（预测服务提供等级后自动改用其等级）。"));
  }
  if (rows.length && rows.every((row) => !row.drivers.length)) notes.push(t("主要因素：预测模型尚未提供。"));
  if (rows.length && rows.every((row) => !row.trend)) {
    notes.push(t("趋势：近 {0} 周实际发生的{1}事件数（预测历史暂未提供）。", TREND_WEEKS, groupLabel(state.group)));
  }
  $("top-footnote").textContent = notes.join(" ");
}

function sortBy(key) {
  const { sort } = state;
  const numericDescending = key === "probability";
  if (sort.key === key) sort.direction = sort.direction === "ascending" ? "descending" : "ascending";
  else Object.assign(sort, { key, direction: numericDescending ? "descending" : "ascending" });
  for (const header of document.querySelectorAll("#top-table th[data-sort]")) {
    if (header.dataset.sort === key) header.setAttribute("aria-sort", sort.direction);
    else header.removeAttribute("aria-sort");
  }
  renderTopList();
}
