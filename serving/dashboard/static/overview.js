// 风险总览: the risk map and the top-20 list, with the group toggle, week selector, sorting and filters.

import { api, explain } from "./api.js";
import { sparkline } from "./charts.js";
import { openGrid, renderDetailCharts } from "./detail.js";
import { GROUP_LABELS, LEVELS, el, escapeHtml, levelBadge, pct } from "./format.js";
import { RiskMap } from "./map.js";
import { riskByGroup } from "./risk.js";
import { $, fontSize, notify, state } from "./state.js";

const TOP_N = 20;
const TREND_WEEKS = 8;
const PAST_WEEKS = 12;

const map = new RiskMap($("map"), { onSelect: (gridId) => openGrid(gridId), tooltip: (gridId) => tooltip(gridId) });
state.map = map;

// ---- data --------------------------------------------------------------------------------
export async function loadOverview() {
  const [risk, grids, weekly] = await Promise.allSettled([
    api("/v1/risk"),
    api("/v1/grids"),
    api(`/v1/grids/weekly?weeks=${PAST_WEEKS}`),
  ]);
  if (risk.status === "fulfilled") {
    state.risk = { weekStart: risk.value.week_start, model: risk.value.model, byGroup: riskByGroup(risk.value) };
    state.risk.availableWeeks = risk.value.available_weeks || [risk.value.week_start];
    state.shownRisk = state.risk;
    $("forecast-week").textContent = `预测周：${risk.value.week_start} 起 · 风险模型 v${risk.value.model.version ?? "?"}`;
  } else {
    notify(`风险预测无法读取：${explain(risk.reason, "supervisor")}`);
  }
  if (grids.status === "fulfilled") {
    state.grids = grids.value.grids;
    state.gridById = new Map(state.grids.map((grid) => [grid.grid_id, grid]));
    map.setGrids(state.grids);
  } else {
    $("map").replaceChildren(el("div", { class: "placeholder" }, `地图数据不可用：${explain(grids.reason)}`));
  }
  if (weekly.status === "fulfilled") {
    state.weekly = {
      weeks: weekly.value.weeks,
      byGrid: new Map(weekly.value.grids.map((row) => [row.grid_id, row])),
    };
  }
  fillWeekSelect();
  fillDistrictFilter();
  renderOverview();
}

function currentRows() {
  return state.shownRisk ? state.shownRisk.byGroup[state.group] || [] : [];
}

function fillWeekSelect() {
  const select = $("week-select");
  const options = [];
  for (const week of [...(state.risk?.availableWeeks || [])].sort().reverse()) {
    options.push(el("option", { value: `forecast:${week}` }, `${week} 周（预测）`));
  }
  for (const week of [...(state.weekly?.weeks || [])].reverse()) {
    options.push(el("option", { value: `actual:${week}` }, `${week} 周（实际）`));
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
    el("option", { value: "" }, "全部"),
    ...[...districts].sort((a, b) => a.localeCompare(b, "zh-CN")).map((d) => el("option", { value: d }, d)),
  );
}

export function setupOverviewControls() {
  for (const input of document.querySelectorAll('input[name="group"]')) {
    input.addEventListener("change", () => {
      state.group = input.value;
      renderOverview();
      if (state.detail) renderDetailCharts();
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
        state.shownRisk = { weekStart: week, model: response.model, byGroup: riskByGroup(response) };
      } catch (error) {
        notify(`无法读取 ${week} 周的预测：${explain(error)}`);
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
    $("map").replaceChildren(el("div", { class: "placeholder" }, "地图需要图表库：请运行 make dashboard-assets 后刷新页面。"));
    return;
  }
  const [kind, week] = (state.week || "forecast:").split(":");
  const label = GROUP_LABELS[state.group];
  let values;
  let max;
  if (kind === "actual" && state.weekly) {
    const index = state.weekly.weeks.indexOf(week);
    values = new Map([...state.weekly.byGrid].map(([id, row]) => [id, row[state.group][index]]));
    max = Math.max(1, ...values.values());
    setLegend(`${week} 周实际${label}事件数`, "0", `${max} 起`);
    $("map").setAttribute("aria-label", `网格地图：${week} 周各网格实际发生的${label}事件数，颜色越深越多。`);
  } else {
    const rows = currentRows();
    values = new Map(rows.map((row) => [row.grid_id, row.probability]));
    max = Math.max(0.01, ...values.values());
    setLegend(`${label} 下周发生概率`, "0%", pct(max, 0));
    const top = rows.slice(0, 3).map((row) => `${row.grid_id}（${pct(row.probability)}）`).join("、");
    $("map").setAttribute("aria-label", `网格地图：${state.grids.length} 个网格按${label}风险着色。风险最高：${top}。可在右侧列表中逐个选择网格。`);
  }
  $("map").dataset.group = state.group;
  $("map").dataset.week = state.week || "";
  if (!map.render(values, max, fontSize())) {
    $("map").replaceChildren(el("div", { class: "placeholder" }, "没有可绘制的网格几何数据。"));
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
  const label = GROUP_LABELS[state.group];
  const lines = [
    `<strong>网格 ${escapeHtml(gridId)}</strong> ${escapeHtml([grid.district, grid.community].filter(Boolean).join(" · "))}`,
  ];
  if (row) {
    lines.push(`${label}概率：<strong>${pct(row.probability)}</strong>`);
    lines.push(`等级：${escapeHtml(row.level)}${row.levelEstimated ? "（估算）" : ""} · 排名：${row.rank} / ${total}`);
  } else {
    lines.push(`${label}：暂无预测`);
  }
  const [kind, week] = (state.week || "").split(":");
  if (kind === "actual" && state.weekly) {
    const counts = state.weekly.byGrid.get(gridId);
    const index = state.weekly.weeks.indexOf(week);
    if (counts) lines.push(`${week} 周实际${label}：${counts[state.group][index]} 起`);
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
  const value = (row) => (key === "level" ? LEVELS.indexOf(row.level) : row[key] ?? "");
  return [...rows].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), "zh-CN");
    return sign * order || a.rank - b.rank;
  });
}

function renderTopList() {
  const label = GROUP_LABELS[state.group];
  const week = state.shownRisk?.weekStart;
  $("top-title").textContent = `${week ? `${week} 周` : "本周"}${label}风险最高的 ${TOP_N} 个网格`;
  const rows = visibleTopRows();
  const body = $("top-body");
  if (!state.shownRisk) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "暂无风险预测。")));
    return;
  }
  if (!rows.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "没有符合筛选条件的网格。")));
  } else {
    body.replaceChildren(...rows.map(topRow));
  }
  renderTopFootnote();
}

function topRow(row) {
  const grid = state.gridById.get(row.grid_id) || {};
  const label = GROUP_LABELS[state.group];
  const button = el(
    "button",
    {
      type: "button",
      class: "grid-link",
      "aria-label": `网格 ${row.grid_id}，${label}概率 ${pct(row.probability)}，等级 ${row.level}，排名第 ${row.rank}。打开网格详情`,
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
    : el("span", { class: "muted", title: "预测模型尚未提供驱动因素" }, "—");
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
    el("td", { class: "num", "data-probability": row.probability }, pct(row.probability)),
    el("td", {}, levelBadge(row.level, row.levelEstimated)),
    el("td", {}, drivers),
    el("td", {}, trendCell(row)),
  );
}

function trendCell(row) {
  if (row.trend) {
    return sparkline(row.trend, `近 ${row.trend.length} 次预测概率：${row.trend.map((p) => pct(p, 0)).join("、")}`);
  }
  const counts = state.weekly?.byGrid.get(row.grid_id);
  if (!counts) return el("span", { class: "muted" }, "—");
  const values = counts[state.group].slice(-TREND_WEEKS);
  return sparkline(values, `近 ${values.length} 周实际${GROUP_LABELS[state.group]}事件数：${values.join("、")}`);
}

function renderTopFootnote() {
  const rows = currentRows();
  const notes = [];
  if (rows.some((row) => row.levelEstimated)) {
    notes.push("* 等级按排名估算：前 5% 的网格为高，5%–20% 为中，其余为低（预测服务提供等级后自动改用其等级）。");
  }
  if (rows.length && rows.every((row) => !row.drivers.length)) notes.push("主要因素：预测模型尚未提供。");
  if (rows.length && rows.every((row) => !row.trend)) {
    notes.push(`趋势：近 ${TREND_WEEKS} 周实际发生的${GROUP_LABELS[state.group]}事件数（预测历史暂未提供）。`);
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
