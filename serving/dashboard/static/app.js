// GridSense supervisor dashboard: start-up, login and the large-font mode; the views are in their own
// modules (overview, detail, playground, models) and all read the public JSON API (api.js).

import { api, explain, session, setUnauthorizedHandler } from "./api.js";
import { resizeCharts } from "./charts.js";
import { backToOverview, renderDetailCharts } from "./detail.js";
import { loadModels } from "./models.js";
import { t, translatePage } from "./i18n.js";
import { loadOverview, renderMap, setupOverviewControls } from "./overview.js";
import { setupPlayground } from "./playground.js";
import { loadSite } from "./site.js";
import { $, debounce, notify, state } from "./state.js";
import { selectTab, setupTabs } from "./tabs.js";

const LARGE_FONT_STORAGE = "gridsense.largeFont";

// ---- start-up and login ---------------------------------------------------------------------------
function start() {
  translatePage(); // in the last site's language until the site is read
  setupLargeFont();
  setupTabs();
  setupOverviewControls();
  setupPlayground();
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("grid-back").addEventListener("click", backToOverview);
  $("panel-grid").addEventListener("keydown", (event) => {
    if (event.key === "Escape") backToOverview();
  });
  window.addEventListener("resize", debounce(() => {
    state.map?.resize();
    resizeCharts();
  }, 150));
  setUnauthorizedHandler(() => showLogin(t("会话已失效或密钥已被吊销，请重新登录。")));
  if (!window.echarts) notify(t("图表库未安装，地图和图表无法显示：请运行 make dashboard-assets 后刷新页面。"));
  if (session.key()) enter(false);
  else showLogin();
}

function showLogin(message = "") {
  session.clear();
  $("main").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("api-key").focus();
}

async function login(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  if (!key) {
    $("login-error").textContent = t("请输入 API 密钥。");
    return;
  }
  try {
    await api("/v1/risk?top=1", { key });
  } catch (error) {
    if (error.status !== 503) {
      // 503: the key is fine, the forecasts are not loaded yet; the overview says so
      $("login-error").textContent =
        error.status === 403 ? t("该密钥的角色无权查看看板（需要 supervisor 角色）。") : explain(error);
      return;
    }
  }
  session.save(key);
  $("api-key").value = "";
  enter(true);
}

function logout() {
  session.clear();
  window.location.reload();
}

async function enter(moveFocus) {
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = false;
  selectTab("tab-overview", false);
  if (moveFocus) $("main").focus({ preventScroll: true }); // after logging in, start reading at the content
  try {
    await loadSite(); // language, groups and map metric: before anything is drawn
  } catch {
    return; // 401: the handler has shown the login form
  }
  await loadOverview();
  loadModels();
}

// ---- large font --------------------------------------------------------------------------------------
function setupLargeFont() {
  const button = $("large-font");
  const apply = (on) => {
    document.documentElement.classList.toggle("large", on);
    button.setAttribute("aria-pressed", String(on));
    localStorage.setItem(LARGE_FONT_STORAGE, on ? "1" : "0");
  };
  apply(localStorage.getItem(LARGE_FONT_STORAGE) === "1");
  button.addEventListener("click", () => {
    apply(button.getAttribute("aria-pressed") !== "true");
    requestAnimationFrame(() => {
      renderMap();
      if (state.detail) renderDetailCharts();
    });
  });
}

start();
