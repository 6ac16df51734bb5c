// Shared page state and small helpers of the dashboard modules.

export const $ = (id) => document.getElementById(id);

export const state = {
  group: "dispute",
  week: null, // "forecast:YYYY-MM-DD" or "actual:YYYY-MM-DD"
  risk: null, // {weekStart, model, byGroup} of the latest forecast week
  shownRisk: null, // the forecast week on the map and in the list
  grids: [],
  gridById: new Map(),
  weekly: null, // {weeks, byGrid: Map(grid_id -> {groups: {id: counts}, total})}
  metric: null, // what the map draws: probability, expected or relative (the site default first)
  sort: { key: "rank", direction: "ascending" },
  filters: { district: "", level: "" },
  selected: null,
  detail: null, // cached drill-down data, for re-rendering (font size, group)
  map: null, // the RiskMap (overview.js)
};

/** The root font size in px (15, or 19 in large-font mode): charts scale their labels with it. */
export function fontSize() {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 15;
}

export function notify(message) {
  const box = $("notice");
  box.hidden = false;
  box.textContent = box.textContent ? `${box.textContent} ${message}` : message;
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
