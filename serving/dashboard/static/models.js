// 模型: champion and challenger versions of both models, with their key metrics, from the registry.

import { api, explain } from "./api.js";
import { dateTime, el } from "./format.js";
import { t } from "./i18n.js";
import { groupIds, groupLabel } from "./site.js";
import { $ } from "./state.js";

const MODEL_TITLES = { "gridsense-text": "事件分类模型", "gridsense-risk": "风险预测模型" };
// Baselines and bookkeeping are left out; the rest is ranked by these patterns (first match wins).
const NOT_KEY_METRIC = /baseline|^last_week|^mean_|kde|hotspot|unseen|positive_rate|review_threshold|coverage|answered|fold/i;
const KEY_METRICS = [/macro_f1_l1$/, /macro_f1_leaf$/, /accuracy_leaf$/, /average_precision$/, /hit|top10_share$/, /ece/, /brier/, /macro_f1/, /auc/];
const MAX_KEY_METRICS = 6;
const MAX_VERSIONS = 3;
const METRIC_WORDS = [
  [/macro_f1_l1/, "一级宏F1"], [/macro_f1_l2/, "二级宏F1"],
  [/macro_f1_leaf/, "末级宏F1"], [/accuracy_leaf/, "末级准确率"], [/accuracy_l1/, "一级准确率"],
  [/average_precision/, "平均精度AP"], [/top10_share/, "前10%网格命中率"], [/hit_?rate_?5|hit@5/, "前5%命中率"],
  [/hit_?rate_?10|hit@10/, "前10%命中率"], [/ece/, "校准误差ECE"], [/brier/, "Brier分数"], [/auc/, "AUC"],
];

export async function loadModels() {
  const box = $("models");
  try {
    const response = await api("/v1/models");
    box.replaceChildren(...response.models.map(modelCard));
    if (response.error) box.prepend(el("p", { class: "error" }, t("模型注册表不可用：{0}", response.error)));
  } catch (error) {
    box.replaceChildren(el("p", { class: "error", id: "models-error" }, explain(error, "data_scientist")));
  }
}

function modelCard(model) {
  const title = el("h2", {}, t(MODEL_TITLES[model.name] || model.name), " ", el("span", { class: "muted small" }, model.name));
  if (model.error) return el("div", { class: "card" }, title, el("p", { class: "muted" }, t("无法读取：{0}", model.error)));
  if (!model.versions.length) return el("div", { class: "card" }, title, el("p", { class: "muted" }, t("尚无注册版本。")));
  const byAlias = (alias) => model.versions.filter((version) => version.aliases.includes(alias));
  const versions = [...new Set([...byAlias("champion"), ...byAlias("challenger"), ...model.versions])].slice(0, MAX_VERSIONS);
  const metrics = keyMetrics(versions);
  const table = el(
    "table",
    { "data-model": model.name },
    el("thead", {}, el("tr", {}, el("th", {}, t("指标")), versions.map((version) => el(
      "th",
      { class: "num", "data-version": version.version },
      `v${version.version} `,
      version.aliases.map((alias) => el("span", { class: `alias alias-${alias}` }, aliasLabel(alias))),
      el("div", { class: "small muted" }, dateTime(version.created_at) || ""),
    )))),
    el("tbody", {}, metrics.map((name) => el(
      "tr",
      {},
      el("th", { scope: "row", title: name }, metricLabel(name), el("div", { class: "small muted" }, name)),
      versions.map((version) => el("td", { class: "num" }, name in version.metrics ? formatMetric(version.metrics[name]) : "—")),
    ))),
  );
  const more = model.versions.length - versions.length;
  return el(
    "div",
    { class: "card" },
    title,
    el("div", { class: "table-scroll" }, table),
    more > 0 ? el("p", { class: "footnote" }, t("另有 {0} 个较早版本（gridsense models 可列出全部）。", more)) : null,
  );
}

function aliasLabel(alias) {
  return t({ champion: "冠军", challenger: "挑战者" }[alias] || alias);
}

function keyMetrics(versions) {
  const names = [...new Set(versions.flatMap((version) => Object.keys(version.metrics)))].filter(
    (name) => !NOT_KEY_METRIC.test(name),
  );
  const chosen = [];
  for (const pattern of KEY_METRICS) {
    for (const name of names.filter((candidate) => pattern.test(candidate)).sort()) {
      if (!chosen.includes(name) && chosen.length < MAX_KEY_METRICS) chosen.push(name);
    }
  }
  return chosen;
}

function metricLabel(name) {
  const groups = groupIds().filter((group) => name.split(/[._]/).includes(group)).map(groupLabel);
  const words = [...groups, ...METRIC_WORDS.filter(([pattern]) => pattern.test(name)).map(([, word]) => t(word))];
  return words.length ? words.join(" ") : name;
}

function formatMetric(value) {
  return Math.abs(value) < 10 ? value.toFixed(3) : value.toFixed(1);
}
