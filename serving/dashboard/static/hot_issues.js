// 本周热点问题: the hot issues `gridsense hot-issues` found in the recent window (GET /v1/hot-issues). A fixed
// button on the overview (it takes no room: the overview still fits 1366x768) opens a dialog with the
// table; each row opens its member reports (GET /v1/hot-issues/{id}/reports, personal data redacted).
// No button until the job has written its tables. Own labels in the page's language, like drift.js.

import { api, explain, session } from "./api.js";
import { el } from "./format.js";

const LABELS = {
  title: ["本周热点问题", "Hot issues this week"],
  button: ["本周热点问题 · {0}", "Hot issues · {0}"],
  closeDialog: ["关闭", "Close"],
  empty: ["本期没有多人反映的问题。", "No problem was reported more than once in this window."],
  built: ["生成于 {0}；热度 = 报告数、反映人数、点赞、增长与集中度（见 docs/BENCHMARKS.md）。", "Built {0}; heat = reports, reporters, likes, growth and concentration (docs/BENCHMARKS.md)."],
  rank: ["排名", "Rank"],
  issue: ["问题", "Issue"],
  place: ["地点", "Place"],
  category: ["类别", "Category"],
  span: ["时间", "When"],
  reports: ["报告", "Reports"],
  reporters: ["反映人", "Reporters"],
  likes: ["点赞", "Likes"],
  heat: ["热度", "Heat"],
  open: ["查看 {0} 条报告", "Show {0} reports"],
  close: ["收起", "Hide"],
};
const TOP = 10;
const REFRESH_MS = 300_000;
let timer = null;

function label(key, ...args) {
  const text = (LABELS[key] || [key, key])[document.documentElement.lang === "en" ? 1 : 0];
  return text.replace(/\{(\d+)\}/g, (match, i) => (args[i] === undefined ? match : String(args[i])));
}

const day = (value) => (value ? String(value).slice(0, 10) : "—");

function parts() {
  let dialog = document.getElementById("hot-issues");
  if (!dialog) {
    dialog = el("dialog", { id: "hot-issues", class: "card", "aria-labelledby": "hot-issues-title", style: "max-width: min(1100px, 95vw); max-height: 85vh; overflow: auto" });
    const button = el("button", { id: "hot-issues-open", type: "button", hidden: true, "aria-haspopup": "dialog", style: "position: fixed; right: 16px; bottom: 16px; z-index: 20", onclick: () => dialog.showModal() });
    document.body.append(button, dialog);
  }
  return { dialog, button: document.getElementById("hot-issues-open") };
}

async function load() {
  if (!session.key()) return;
  const { dialog, button } = parts();
  const title = el("h2", { id: "hot-issues-title" }, label("title"));
  const close = el("button", { type: "button", onclick: () => dialog.close() }, label("closeDialog"));
  try {
    const data = await api(`/v1/hot-issues?top=${TOP}`);
    button.hidden = !data.available;
    if (!data.available) return;
    button.textContent = label("button", data.issues.length);
    const body = data.issues.length ? table(data.issues) : el("p", { class: "muted" }, label("empty"));
    dialog.replaceChildren(title, body, el("p", { class: "footnote" }, label("built", day(data.built_at))), close);
  } catch (error) {
    button.hidden = true;
    dialog.replaceChildren(title, el("p", { class: "error" }, explain(error, "supervisor")), close);
  }
}

function table(issues) {
  const head = el("tr", {}, ["rank", "issue", "place", "category", "span", "reports", "reporters", "likes", "heat"].map((key) => el("th", { scope: "col" }, label(key))));
  const body = el("tbody", {});
  for (const issue of issues) {
    const detail = el("tr", { hidden: true }, el("td", { colspan: 9 }));
    const toggle = el("button", { type: "button", class: "link", "aria-expanded": "false", onclick: () => open(issue, toggle, detail) }, issue.title);
    body.append(
      el("tr", {},
        el("td", { class: "num" }, issue.rank),
        el("td", {}, toggle),
        el("td", {}, issue.place || issue.grid_id || "—"),
        el("td", {}, issue.category || "—"),
        el("td", {}, `${day(issue.first_at)} – ${day(issue.last_at)}`),
        el("td", { class: "num" }, issue.n_reports),
        el("td", { class: "num" }, issue.n_reporters),
        el("td", { class: "num" }, issue.likes),
        el("td", { class: "num" }, Number(issue.heat).toFixed(2)),
      ),
      detail,
    );
  }
  return el("div", { class: "table-scroll" }, el("table", { "aria-labelledby": "hot-issues-title" }, el("thead", {}, head), body));
}

async function open(issue, toggle, detail) {
  const expanded = toggle.getAttribute("aria-expanded") === "true";
  toggle.setAttribute("aria-expanded", String(!expanded));
  detail.hidden = expanded;
  if (expanded) return;
  const cell = detail.firstChild;
  try {
    const data = await api(`/v1/hot-issues/${encodeURIComponent(issue.issue_id)}/reports`);
    cell.replaceChildren(el("ul", { class: "reports" }, data.reports.map((report) =>
      el("li", {}, el("span", { class: "muted" }, `${String(report.reported_at).slice(0, 16).replace("T", " ")} `), el("strong", {}, report.title || ""), " ", report.text))));
  } catch (error) {
    cell.replaceChildren(el("p", { class: "error" }, explain(error, "supervisor")));
  }
}

function watchOverview() {
  const panel = document.getElementById("panel-overview");
  if (!panel) return;
  const update = () => {
    clearInterval(timer);
    const main = document.querySelector("main");
    if (panel.hidden || (main && main.hidden)) {
      const button = document.getElementById("hot-issues-open");
      if (button) button.hidden = true;
      return;
    }
    load();
    timer = setInterval(load, REFRESH_MS);
  };
  new MutationObserver(update).observe(panel, { attributes: true, attributeFilter: ["hidden"] });
  const main = document.querySelector("main");
  if (main) new MutationObserver(update).observe(main, { attributes: true, attributeFilter: ["hidden"] });
  update();
}

watchOverview();
