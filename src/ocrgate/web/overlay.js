// What is drawn over a page: blocks' boxes by kind, lines' boxes, and each line shaded by the engine's
// confidence (its score, 0..1): the less sure the engine, the stronger the shade.

import { el } from "./dom.js";
import { pageLines } from "./lines.js";
import { rect, svgEl } from "./viewer.js";

export const KINDS = ["text", "title", "table", "figure", "equation", "caption", "list", "code", "header", "footer"];
export const kindOf = (kind) => (KINDS.includes(kind) ? kind : "text");
export const CONFIDENCE = [["hi", 0.9, "90% or more"], ["mid", 0.7, "70 to 90%"], ["lo", 0, "under 70%"]];

export function confidenceClass(score) {
  if (typeof score !== "number") return null;
  return CONFIDENCE.find(([, floor]) => score >= floor)[0];
}

// Every block's box, coloured by kind, linked to its text by data-block.
export function drawBlocks(svg, page) {
  const layer = svgEl("g", { class: "layer-blocks" });
  (page.blocks || []).forEach((block, i) => {
    const box = rect(block.bbox, { class: `box kind-${kindOf(block.kind)}`, "data-block": i });
    const title = svgEl("title");
    title.textContent = `${block.kind}: ${String(block.text || "").slice(0, 120)}`;
    box.append(title);
    layer.append(box);
  });
  svg.append(layer);
  return layer;
}

// One shaded box per line with a score, under the other boxes (so they stay hoverable).
export function drawConfidence(svg, lines, label = "") {
  const layer = svgEl("g", { class: "layer-confidence", "data-engine": label });
  for (const line of lines) {
    const cls = confidenceClass(line.score);
    if (!cls) continue;
    const shade = rect(line.bbox, { class: `conf conf-${cls}`, "data-score": line.score.toFixed(3) });
    const title = svgEl("title");
    title.textContent = `${label ? `${label}: ` : ""}${Math.round(line.score * 100)}% sure: ${line.text.slice(0, 80)}`;
    shade.append(title);
    layer.append(shade);
  }
  svg.prepend(layer);
  return layer;
}

// A checkbox that shows or hides the confidence shading of `page`'s lines in `viewer`.
export function confidenceToggle(viewer, page, label = "") {
  const lines = pageLines(page);
  const scored = lines.filter((l) => typeof l.score === "number");
  const input = el("input", { type: "checkbox", class: "confidence-toggle" });
  const legend = el("span", { class: "conf-legend small-text" },
    ...CONFIDENCE.map(([cls, , text]) => el("span", { class: `conf-key conf-${cls}`, text })));
  const box = el("label", { class: "small-text toggle" }, input, label ? ` ${label}'s confidence` : " Confidence");
  if (!scored.length) {
    input.disabled = true;
    box.title = "this engine gives no confidence scores";
  }
  let layer = null;
  input.addEventListener("change", () => {
    if (layer) layer.remove();
    layer = input.checked ? drawConfidence(viewer.svg, scored, label) : null;
    legend.hidden = !input.checked;
  });
  legend.hidden = true;
  return el("span", { class: "confidence" }, box, legend);
}
