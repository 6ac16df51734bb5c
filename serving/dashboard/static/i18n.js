// The dashboard's fixed labels in the site's language. Chinese is written in the code and the page
// (it is the key); English comes from the dictionary below. t("{0} 周（预测）", week) fills {0}, {1}...

import { EN } from "./i18n_en.js";

const LANGUAGE_STORAGE = "gridsense.language"; // the login page speaks the last site's language
const DICTIONARIES = { zh: null, en: EN };
let current = localStorage.getItem(LANGUAGE_STORAGE) === "en" ? "en" : "zh";

export const language = () => current;

/** The label in the current language; a missing English entry falls back to the Chinese one. */
export function t(key, ...args) {
  const text = (DICTIONARIES[current] && DICTIONARIES[current][key]) ?? key;
  return args.length ? text.replace(/\{(\d+)\}/g, (match, i) => (args[i] === undefined ? match : String(args[i]))) : text;
}

export function setLanguage(lang) {
  current = lang in DICTIONARIES ? lang : "zh";
  localStorage.setItem(LANGUAGE_STORAGE, current);
  translatePage();
}

/** Elements marked data-i18n get their text, and the attributes named in data-i18n-attr, translated. */
export function translatePage() {
  document.documentElement.lang = current === "en" ? "en" : "zh-CN";
  document.title = t("GridSense 网格风险看板");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.dataset.i18n ||= node.textContent.trim();
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-attr]")) {
    for (const name of node.dataset.i18nAttr.split(/\s+/)) {
      const stored = `i18n${name.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
      node.dataset[stored] ||= node.getAttribute(name) ?? "";
      node.setAttribute(name, t(node.dataset[stored]));
    }
  }
}

/** The locale for numbers, dates and the charts. */
export const numberLocale = () => (current === "en" ? "en-US" : "zh-CN");
export const chartLocale = () => (current === "en" ? "EN" : "ZH");
