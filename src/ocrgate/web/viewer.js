// A page viewer: the page image with an SVG overlay in page pixels, zoom and pan.
//
// Mouse: drag to pan, wheel to scroll, Ctrl+wheel (or a pinch) to zoom at the pointer. Keyboard, with the
// page focused: arrows pan, + and - zoom, 0 fits the page's width. Buttons do the same. Boxes are drawn
// by the caller into `viewer.svg` (viewBox = the page in pixels), so they stay on their words at any zoom.

import { el } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const MIN_SCALE = 0.05;
const MAX_SCALE = 8;
const STEP = 1.25;
const PAN = 60;

export function svgEl(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  return node;
}

export function rect(bbox, attrs = {}) {
  const [x0, y0, x1, y1] = bbox;
  return svgEl("rect", { x: x0, y: y0, width: Math.max(1, x1 - x0), height: Math.max(1, y1 - y0), ...attrs });
}

export class Viewer {
  constructor(page, imageSrc, label = `Page ${page.index + 1}`) {
    this.width = Math.max(1, page.width);
    this.height = Math.max(1, page.height);
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.touched = false;
    this.sheet = el("div", { class: "viewer-sheet" });
    this.image = null;
    this.setImage(imageSrc, label);
    this.svg = svgEl("svg", { viewBox: `0 0 ${this.width} ${this.height}`, preserveAspectRatio: "none", class: "boxes", "aria-hidden": "true" });
    this.sheet.append(this.svg);
    this.port = el("div", { class: "viewer-port", tabindex: "0", role: "group", "aria-roledescription": "page viewer", "aria-label": `${label}: arrows pan, + and - zoom, 0 fits` }, this.sheet);
    this.port.style.aspectRatio = `${this.width} / ${this.height}`;
    this.level = el("span", { class: "zoom-level muted", "aria-live": "polite" });
    const button = (key, text, name, action) => {
      const b = el("button", { type: "button", class: "small", text, "aria-label": name, "data-zoom": key });
      b.addEventListener("click", action);
      return b;
    };
    this.tools = el("div", { class: "viewer-tools", role: "toolbar", "aria-label": "Zoom" },
      button("out", "−", "Zoom out", () => this.zoomAt(1 / STEP)),
      button("in", "+", "Zoom in", () => this.zoomAt(STEP)),
      button("fit", "Fit", "Fit the page's width", () => this.fit()),
      button("actual", "1:1", "Actual size: one image pixel per screen pixel", () => this.zoomTo(1)),
      this.level);
    this.element = el("div", { class: "viewer" }, this.tools, this.port);
    this.wire();
    // fitted to the width until the person zooms or pans; a layout change refits it until then
    new ResizeObserver(() => { if (!this.touched && this.port.clientWidth) this.fit(); }).observe(this.port);
  }

  setImage(src, label) {
    if (this.image) this.image.remove();
    this.image = src
      ? el("img", { src, alt: label, class: "page-image", draggable: "false" })
      : el("div", { class: "page-blank", role: "img", "aria-label": `${label} (no picture yet)` });
    this.sheet.prepend(this.image);
  }

  apply() {
    this.sheet.style.width = `${this.width * this.scale}px`;
    this.sheet.style.height = `${this.height * this.scale}px`;
    const w = this.port.clientWidth;
    const h = this.port.clientHeight;
    const sw = this.width * this.scale;
    const sh = this.height * this.scale;
    // keep some of the page in view; centre it when it is smaller than the port
    this.x = sw <= w ? (w - sw) / 2 : Math.min(0, Math.max(w - sw, this.x));
    this.y = sh <= h ? (h - sh) / 2 : Math.min(0, Math.max(h - sh, this.y));
    this.sheet.style.transform = `translate(${this.x}px, ${this.y}px)`;
    this.level.textContent = `${Math.round(this.scale * 100)}%`;
    this.port.dataset.scale = this.scale.toFixed(3);
  }

  fit() {
    const w = this.port.clientWidth;
    if (!w) return;
    this.touched = false;
    this.scale = w / this.width;
    this.x = 0;
    this.y = 0;
    this.apply();
  }

  // Zoom by `factor` keeping the point (px, py) of the port where it is (default: its centre).
  zoomAt(factor, px = this.port.clientWidth / 2, py = this.port.clientHeight / 2) {
    this.touched = true;
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const ratio = next / this.scale;
    this.x = px - (px - this.x) * ratio;
    this.y = py - (py - this.y) * ratio;
    this.scale = next;
    this.apply();
  }

  zoomTo(scale) {
    this.zoomAt(scale / this.scale);
  }

  pan(dx, dy) {
    this.touched = true;
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  // Bring a box (page pixels) into view, zoomed so that it fills most of the port's width.
  show(bbox) {
    this.touched = true;
    const [x0, y0, x1, y1] = bbox;
    const w = this.port.clientWidth;
    const h = this.port.clientHeight;
    this.scale = Math.min(MAX_SCALE, Math.max(this.scale, Math.min((0.9 * w) / Math.max(1, x1 - x0), (0.5 * h) / Math.max(1, y1 - y0))));
    this.x = w / 2 - ((x0 + x1) / 2) * this.scale;
    this.y = h / 2 - ((y0 + y1) / 2) * this.scale;
    this.apply();
  }

  wire() {
    const port = this.port;
    port.addEventListener("wheel", (e) => {
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        const box = port.getBoundingClientRect();
        this.zoomAt(e.deltaY < 0 ? STEP : 1 / STEP, e.clientX - box.left, e.clientY - box.top);
        return;
      }
      const before = [this.x, this.y];
      this.pan(-e.deltaX, -e.deltaY);
      if (before[0] !== this.x || before[1] !== this.y) e.preventDefault(); // at an edge the page scrolls
    }, { passive: false });
    let drag = null;
    port.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, moved: false, id: e.pointerId };
    });
    port.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!drag.moved) port.setPointerCapture(drag.id); // a click on a box stays a click
      drag.moved = true;
      port.classList.add("panning");
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.pan(dx, dy);
    });
    const end = () => { drag = null; port.classList.remove("panning"); };
    port.addEventListener("pointerup", end);
    port.addEventListener("pointercancel", end);
    port.addEventListener("keydown", (e) => {
      const moves = { ArrowLeft: [PAN, 0], ArrowRight: [-PAN, 0], ArrowUp: [0, PAN], ArrowDown: [0, -PAN] };
      if (moves[e.key]) this.pan(...moves[e.key]);
      else if (e.key === "+" || e.key === "=") this.zoomAt(STEP);
      else if (e.key === "-" || e.key === "_") this.zoomAt(1 / STEP);
      else if (e.key === "0") this.fit();
      else return;
      e.preventDefault();
    });
  }
}
