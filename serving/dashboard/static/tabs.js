// The view tabs (WAI-ARIA tabs pattern: arrow keys, Home and End move between them).

import { resizeCharts } from "./charts.js";
import { $, state } from "./state.js";

export function setupTabs() {
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  for (const tab of tabs) {
    tab.addEventListener("click", () => selectTab(tab.id, true));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: tabs.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      const target = tabs[(next + tabs.length) % tabs.length];
      selectTab(target.id, true);
    });
  }
}

export function selectTab(tabId, focusTab) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const selected = tab.id === tabId;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(tab.getAttribute("aria-controls")).hidden = !selected;
    if (selected && focusTab) tab.focus();
  }
  // charts drawn while their panel was hidden have no size: fit them now
  requestAnimationFrame(() => {
    state.map?.resize();
    resizeCharts();
  });
}
