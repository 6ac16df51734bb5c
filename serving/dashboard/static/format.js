// Labels, number formats and a tiny DOM builder (text only: report texts are never parsed as HTML).
// Labels are written in Chinese and shown in the site's language (i18n.js).

import { numberLocale, t } from "./i18n.js";

export const LEVELS = ["高", "中", "低"];
const LEVEL_ALIASES = { high: "高", medium: "中", mid: "中", low: "低", 高: "高", 中: "中", 低: "低" };
export const CHANNEL_LABELS = { hotline: "12345热线", app: "市民App", grid_worker: "网格员", sensor: "物联感知" };
export const STATUS_LABELS = { open: "待处理", in_progress: "处理中", closed: "已办结" };
export const ATTRIBUTE_LABELS = {
  population: ["常住人口", (v) => t("{0} 人", Number(v).toLocaleString(numberLocale()))],
  households: ["户数", (v) => t("{0} 户", Number(v).toLocaleString(numberLocale()))],
  elderly_share: ["60岁以上占比", (v) => pct(v, 0)],
  building_age: ["平均楼龄", (v) => t("{0} 年", v)],
  commercial_density: ["商业密度", (v) => Number(v).toFixed(2)],
  old_compound: ["老旧小区", (v) => t(v ? "是" : "否")],
};
export const SCORER_LABELS = { model: "风险模型", hotspot: "热点基线", mean_52w: "52周均值", blend: "模型与基线混合" };

export function levelLabel(level) {
  if (level === null || level === undefined) return null;
  return LEVEL_ALIASES[String(level).toLowerCase()] || String(level);
}

/** A number of events (expected counts have one decimal), or "—". */
export function count(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return Number(value).toFixed(digits);
}

export function pct(p, digits = 1) {
  if (p === null || p === undefined || Number.isNaN(Number(p))) return "—";
  return `${(Number(p) * 100).toFixed(digits)}%`;
}

export function shortDate(iso) {
  return typeof iso === "string" ? iso.slice(5, 10) : "";
}

export function dateTime(iso) {
  return typeof iso === "string" ? iso.replace("T", " ").slice(0, 16) : "";
}

export function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** el("td", {class: "num"}, "12%", childNode, ...): attributes, then text or nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function levelBadge(level, estimated = false) {
  if (!level) return el("span", { class: "muted" }, "—");
  return el(
    "span",
    { class: `level level-${level}`, "data-level": level, title: estimated ? t("按排名估算的等级") : null },
    estimated ? `${t(level)}*` : t(level),
  );
}

const REDACTION_LABELS = {
  ID: "［身份证号已隐藏］",
  PHONE: "［手机号已隐藏］",
  TEL: "［电话已隐藏］",
  EMAIL: "［邮箱已隐藏］",
  CARD: "［银行卡号已隐藏］",
  PLATE: "［车牌已隐藏］",
};

/** The API's PII placeholders (<PHONE>, <ID>, ...) in words a supervisor reads. */
export function readableRedactions(text) {
  return String(text ?? "").replace(/<(ID|PHONE|TEL|EMAIL|CARD|PLATE)>/g, (_, kind) => t(REDACTION_LABELS[kind]));
}
