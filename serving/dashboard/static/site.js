// The site the dashboard shows (GET /v1/site): its language, its risk groups with their labels, and what
// the map draws by default. An API without the route is the demo city: dispute and hazard, in Chinese.

import { api, explain } from "./api.js";
import { setLanguage, t } from "./i18n.js";
import { notify } from "./state.js";

export const METRICS = ["probability", "expected", "relative"];
const DEMO_LABELS = { dispute: "矛盾纠纷", hazard: "安全隐患" };
const DEFAULT_SITE = {
  site: "demo",
  language: "zh",
  groups: Object.entries(DEMO_LABELS).map(([id, label]) => ({ id, label })),
  map_metric: "probability",
};

export const site = { ...DEFAULT_SITE, labels: new Map() };

export async function loadSite() {
  let answer = DEFAULT_SITE;
  try {
    answer = await api("/v1/site");
  } catch (error) {
    if (error.status === 401) throw error;
    // an API without the route (404) is the demo's; an unreadable description is said, then the same
    if (error.status !== 404) notify(t("站点描述无法读取，按示例城市显示：{0}", explain(error)));
  }
  Object.assign(site, answer, { labels: new Map(answer.groups.map((group) => [group.id, group.label])) });
  if (!METRICS.includes(site.map_metric)) site.map_metric = "probability";
  setLanguage(site.language);
  return site;
}

export const groupIds = () => site.groups.map((group) => group.id);

/** The site's label of a risk group; `none` is the events outside every group. */
export function groupLabel(id) {
  if (id === "none") return t("一般事件");
  return site.labels.get(id) ?? (DEMO_LABELS[id] ? t(DEMO_LABELS[id]) : id);
}
