// The site the dashboard shows (GET /v1/site): its language, its risk groups with their labels, and what
// the map draws by default. An API without the route is the demo city: dispute and hazard, in Chinese.

import { api } from "./api.js";
import { setLanguage, t } from "./i18n.js";

export const METRICS = ["probability", "expected", "relative"];
const DEFAULT_SITE = {
  site: "demo",
  language: "zh",
  groups: [{ id: "dispute", label: "矛盾纠纷" }, { id: "hazard", label: "安全隐患" }],
  map_metric: "probability",
};

export const site = { ...DEFAULT_SITE, labels: new Map() };

export async function loadSite() {
  let answer = DEFAULT_SITE;
  try {
    answer = await api("/v1/site");
  } catch (error) {
    if (error.status === 401) throw error;
    // older API or unreadable description: the demo's defaults
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
  return site.labels.get(id) ?? (id === "dispute" || id === "hazard" ? t(DEFAULT_SITE.groups.find((g) => g.id === id).label) : id);
}
