// The risk map: one polygon per grid, drawn from the grids' own x/y geometry (metres), no tiles.
// ECharts draws it with its SVG renderer as a custom series, so every grid is one <path>.

import { chartLocale } from "./i18n.js";

const RAMP = ["#fff5e6", "#fdd49e", "#fc8d59", "#d7301f", "#7f0000"];
const NO_DATA = "#e4e7eb";

export function rampColor(t) {
  if (t === null || t === undefined || Number.isNaN(t)) return NO_DATA;
  const x = Math.min(Math.max(t, 0), 1) * (RAMP.length - 1);
  const i = Math.min(Math.floor(x), RAMP.length - 2);
  const [a, b] = [hex(RAMP[i]), hex(RAMP[i + 1])];
  const f = x - i;
  const mix = a.map((value, k) => Math.round(value + (b[k] - value) * f));
  return `rgb(${mix.join(",")})`;
}

function hex(color) {
  return [1, 3, 5].map((start) => parseInt(color.slice(start, start + 2), 16));
}

export class RiskMap {
  constructor(element, { onSelect, tooltip }) {
    this.element = element;
    this.onSelect = onSelect;
    this.tooltip = tooltip;
    this.grids = [];
    this.values = new Map();
    this.max = 1;
    this.selected = null;
    this.chart = null;
  }

  setGrids(grids) {
    this.grids = grids.filter((grid) => Array.isArray(grid.polygon) && grid.polygon.length >= 3);
    this.index = new Map(this.grids.map((grid, i) => [grid.grid_id, i]));
    this.extent = extentOf(this.grids);
  }

  /** values: Map grid_id -> number (probability, expected or relative risk, or a count); max: the top of the scale. */
  render(values, max, fontSize) {
    this.values = values;
    this.max = max > 0 ? max : 1;
    this.fontSize = fontSize;
    if (!window.echarts || this.grids.length === 0) return false;
    if (!this.chart) {
      this.chart = window.echarts.init(this.element, null, { renderer: "svg", locale: chartLocale() });
      this.chart.on("click", (params) => this.onSelect(params.name));
    }
    this.chart.resize(); // the container may have changed size (large-font mode reflows the page)
    this.chart.setOption(this.option(), { notMerge: true });
    return true;
  }

  select(gridId) {
    this.selected = gridId;
    if (this.chart) this.chart.setOption(this.option(), { notMerge: true });
  }

  /** Show the grid's tooltip, as if hovered (used when a grid is focused in the top list). */
  point(gridId) {
    if (!this.chart || !this.index.has(gridId)) return;
    const dataIndex = this.index.get(gridId);
    this.chart.dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex });
  }

  hideTip() {
    if (this.chart) this.chart.dispatchAction({ type: "hideTip" });
  }

  resize() {
    if (this.chart) {
      this.chart.resize();
      this.chart.setOption(this.option(), { notMerge: true });
    }
  }

  option() {
    const { width, height } = this.element.getBoundingClientRect();
    const box = fit(this.extent, width, height, 8);
    return {
      animation: false,
      textStyle: { fontSize: this.fontSize },
      tooltip: {
        trigger: "item",
        confine: true,
        textStyle: { fontSize: this.fontSize },
        formatter: (params) => this.tooltip(params.name),
      },
      grid: { left: box.left, top: box.top, width: box.width, height: box.height },
      xAxis: { type: "value", show: false, min: this.extent.minX, max: this.extent.maxX },
      yAxis: { type: "value", show: false, min: this.extent.minY, max: this.extent.maxY },
      series: [
        {
          type: "custom",
          coordinateSystem: "cartesian2d",
          clip: false,
          data: this.grids.map((grid) => ({ name: grid.grid_id, value: [grid.x_m, grid.y_m] })),
          encode: { x: 0, y: 1 },
          renderItem: (params, api) => this.shape(params.dataIndex, api),
        },
      ],
    };
  }

  shape(dataIndex, api) {
    const grid = this.grids[dataIndex];
    const value = this.values.get(grid.grid_id);
    const selected = grid.grid_id === this.selected;
    return {
      type: "polygon",
      z2: selected ? 10 : 1,
      shape: { points: grid.polygon.map((vertex) => api.coord(vertex)) },
      style: {
        fill: value === undefined || value === null ? NO_DATA : rampColor(value / this.max),
        stroke: selected ? "#0b1f4b" : "#ffffff",
        lineWidth: selected ? 3 : 0.7,
      },
      emphasis: { style: { stroke: "#1d4ed8", lineWidth: 2.5 } },
    };
  }
}

function extentOf(grids) {
  const xs = grids.flatMap((grid) => grid.polygon.map((vertex) => vertex[0]));
  const ys = grids.flatMap((grid) => grid.polygon.map((vertex) => vertex[1]));
  return { minX: Math.min(...xs), maxX: Math.max(...xs), minY: Math.min(...ys), maxY: Math.max(...ys) };
}

/** The largest box with the map's aspect ratio (1 m east = 1 m north) inside width x height. */
function fit(extent, width, height, padding) {
  const dx = extent.maxX - extent.minX || 1;
  const dy = extent.maxY - extent.minY || 1;
  const scale = Math.max(Math.min((width - 2 * padding) / dx, (height - 2 * padding) / dy), 0.0001);
  const w = dx * scale;
  const h = dy * scale;
  return { left: (width - w) / 2, top: (height - h) / 2, width: w, height: h };
}
