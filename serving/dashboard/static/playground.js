// 事件分类试用: paste a report, see what the live classifier makes of it.

import { api, explain } from "./api.js";
import { el, pct } from "./format.js";
import { t } from "./i18n.js";
import { groupLabel } from "./site.js";
import { $ } from "./state.js";

export function setupPlayground() {
  $("classify-form").addEventListener("submit", (event) => {
    event.preventDefault();
    classify();
  });
  $("classify-text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      classify();
    }
  });
  for (const button of document.querySelectorAll("button.example")) {
    button.addEventListener("click", () => {
      $("classify-text").value = button.dataset.text;
      $("classify-text").focus();
    });
  }
}

async function classify() {
  const text = $("classify-text").value;
  const box = $("classify-result");
  if (!text.trim()) {
    box.replaceChildren(el("p", { class: "error" }, t("请先输入事件描述。")));
    return;
  }
  box.replaceChildren(el("p", { class: "muted" }, t("正在分类…")));
  try {
    const response = await api("/v1/classify?evidence=true", { method: "POST", body: { text } });
    box.replaceChildren(classifyResult(response.results[0], response.model));
  } catch (error) {
    box.replaceChildren(el("p", { class: "error", role: "alert" }, explain(error, t("intake 或 data_scientist"))));
  }
}

function classifyResult(result, model) {
  const evidence = result.evidence || [];
  const labels = result.labels || [];
  const row = (label, ...value) => [el("dt", {}, t(label)), el("dd", {}, ...value)];
  return el(
    "div",
    { id: "classify-output", "data-risk-group": result.risk_group, "data-leaf-id": result.leaf_id },
    el(
      "dl",
      {},
      row("一级分类", `${result.category_l1.name}（${pct(result.category_l1.probability)}）`),
      row("二级分类", `${result.category_l2.name}（${pct(result.category_l2.probability)}）`),
      row("三级分类", `${result.category_l3.name}（${pct(result.category_l3.probability)}）`),
      row("处置部门", result.department),
      row("置信度", pct(result.category_l3.probability)),
      row("风险类型", el("span", { id: "classify-risk-group" }, groupLabel(result.risk_group))),
      row("需人工复核", t(result.needs_review ? "是（模型把握不足）" : "否")),
      row(
        "全部分类",
        labels.length > 1
          ? el("ul", { id: "classify-labels", class: "chips" },
              labels.map((label) => el("li", {}, `${label.category_l3}（${pct(label.probability)}）· ${label.department}`)))
          : el("span", { id: "classify-labels", class: "muted" }, t("单一事项")),
      ),
      row(
        "证据短语",
        evidence.length
          ? el("ul", { id: "classify-evidence", class: "chips" },
              evidence.map((item) => el("li", { title: t("去掉后置信度下降 {0}", pct(item.weight)) }, item.phrase)))
          : el("span", { id: "classify-evidence", class: "muted" }, t("无明显证据短语")),
      ),
      row(
        "备选分类",
        el("ul", { class: "drivers" },
          result.alternatives.map((alt) => el("li", {}, `${alt.category_l3}（${pct(alt.probability)}）· ${alt.department}`))),
      ),
      row("模型版本", `${model.name} v${model.version ?? "?"}`),
    ),
  );
}
