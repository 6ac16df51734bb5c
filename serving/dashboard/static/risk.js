// Normalises GET /v1/risk (and /v1/risk/{grid}/history when the API offers it) for the page.
// Fields that newer forecasters add (level, drivers, trend) are used when present; the page degrades
// without them: levels are then estimated from the rank (marked with *), drivers shown as "—", and the
// trend line falls back to the grid's actual weekly counts.

import { levelLabel } from "./format.js";

// the forecaster's default rule (models/risk_levels.py): top 5% of grids 高, up to the top 20% 中
export const ESTIMATED_LEVEL_SHARES = { high: 0.05, medium: 0.2 };

/** Rows per group (the site's `groups` first, each possibly empty), best rank first. */
export function riskByGroup(response, groups) {
  const byGroup = Object.fromEntries(groups.map((group) => [group, []]));
  for (const grid of response.grids || []) {
    for (const risk of grid.risks || []) {
      if (!byGroup[risk.group]) byGroup[risk.group] = [];
      byGroup[risk.group].push({
        grid_id: grid.grid_id,
        district: grid.district ?? null,
        probability: risk.probability,
        expected: risk.expected_events ?? null,
        relative: risk.relative_risk ?? null,
        scorer: risk.scorer ?? null,
        rank: risk.rank,
        level: levelLabel(risk.level ?? pick(grid.level, risk.group)),
        drivers: drivers(parsed(risk.drivers_json) ?? risk.drivers ?? risk.top_drivers ?? pick(grid.drivers, risk.group)),
        trend: trend(risk.trend ?? pick(grid.trend, risk.group)),
      });
    }
  }
  for (const rows of Object.values(byGroup)) {
    rows.sort((a, b) => a.rank - b.rank || a.grid_id.localeCompare(b.grid_id));
    estimateMissingLevels(rows);
  }
  return byGroup;
}

/** A grid's weekly counts of one group, from `groups` (any site) or the two-group API's top-level keys. */
export function countsOf(row, group) {
  return row?.groups?.[group] ?? row?.[group] ?? [];
}

function parsed(json) {
  if (typeof json !== "string") return json ?? undefined;
  try {
    return JSON.parse(json);
  } catch {
    return undefined;
  }
}

function pick(value, group) {
  return value && typeof value === "object" && !Array.isArray(value) ? value[group] : value;
}

function estimateMissingLevels(rows) {
  const n = rows.length;
  for (const row of rows) {
    if (row.level) continue;
    const share = row.rank / n;
    row.level = share <= ESTIMATED_LEVEL_SHARES.high ? "高" : share <= ESTIMATED_LEVEL_SHARES.medium ? "中" : "低";
    row.levelEstimated = true;
  }
}

/** Up to three driver sentences: from a list of strings or {text, direction, ...}, or a "；"-joined string. */
function drivers(value) {
  if (typeof value === "string") return value.split(/[；;]\s*/).filter(Boolean).slice(0, 3);
  if (!Array.isArray(value)) return [];
  return value.map(driverText).filter(Boolean).slice(0, 3);
}

function driverText(driver) {
  if (typeof driver === "string") return driver;
  if (!driver || typeof driver !== "object") return driver == null ? "" : String(driver);
  const text = driver.text_zh ?? driver.text ?? driver.description ?? driver.label ?? driver.zh ?? driver.name ?? driver.feature ?? "";
  const arrow = { up: "↑ ", down: "↓ " }[driver.direction] ?? "";
  return text ? `${arrow}${text}` : "";
}

function trend(value) {
  if (!Array.isArray(value) || value.length === 0) return null;
  const points = value.map((point) => (typeof point === "number" ? point : point?.probability ?? null));
  return points.every((point) => point === null) ? null : points;
}

/** Past forecasts next to what happened, for one group: [{week, probability, actual}], oldest first. */
export function historyRows(response, group) {
  const items = Array.isArray(response)
    ? response
    : response.history ?? response.weeks ?? response.items ?? response.forecasts ?? response.rows ?? [];
  const rows = [];
  for (const item of items) {
    const nested = item[group];
    const source = nested && typeof nested === "object" ? { ...item, ...nested } : item;
    if (source.group && source.group !== group) continue;
    rows.push({
      week: source.week_start ?? source.week,
      probability: source.probability ?? source.forecast ?? null,
      actual: firstNumber(source, ["actual_count", `n_${group}`, "n_events", "count", "observed", "actual", "happened", `y_${group}`, "y"]),
    });
  }
  return rows.filter((row) => row.week).sort((a, b) => String(a.week).localeCompare(String(b.week)));
}

function firstNumber(source, names) {
  for (const name of names) {
    const value = source[name];
    if (typeof value === "number") return value;
    if (typeof value === "boolean") return value ? 1 : 0;
  }
  return null;
}
