// Several engines on one page, line by line: the page in a viewer with every engine's line boxes; each
// aligned line with the page's crop of it and every engine's reading, differences marked (lines.js,
// diff.js); then each engine's markdown, tables and raw output, with its timings.

import { download, el, stem } from "./dom.js";
import { diffReadings } from "./diff.js";
import { alignLines, pageLines } from "./lines.js";
import { safeTableHtml } from "./markdown.js";
import { confidenceToggle } from "./overlay.js";
import { blocksView, boxesButton, pageStem, pictureUrl, pre, rawFor, shownImage, tabs, timingsView, whenImage } from "./render.js";
import { Viewer, rect, svgEl } from "./viewer.js";

const CROP_HEIGHT = 30; // a line's crop is at most this high and this wide (CSS pixels), never enlarged
const CROP_WIDTH = 420;
const MARGIN = 3;

function readingView(runs, name) {
  const text = el("span", { class: "reading-text" });
  for (const run of runs) {
    if (run.kind === "same") text.append(run.text);
    else if (run.kind === "only") text.append(el("mark", { class: "diff-only", title: `only in ${name}`, text: run.text }));
    else text.append(el("mark", { class: "diff-some", title: `not in ${run.missing.join(", ")}`, text: run.text }));
  }
  return text;
}

function cropOf(row, page, src, crop) {
  const [x0, y0, x1, y1] = [row.bbox[0] - MARGIN, row.bbox[1] - MARGIN, row.bbox[2] + MARGIN, row.bbox[3] + MARGIN];
  const s = Math.min(1, CROP_HEIGHT / Math.max(1, y1 - y0), CROP_WIDTH / Math.max(1, x1 - x0));
  crop.style.width = `${Math.round((x1 - x0) * s)}px`;
  crop.style.height = `${Math.round((y1 - y0) * s)}px`;
  crop.style.backgroundImage = `url("${src}")`;
  crop.style.backgroundSize = `${page.width * s}px ${page.height * s}px`;
  crop.style.backgroundPosition = `${-x0 * s}px ${-y0 * s}px`;
}

function tablesView(page) {
  const wrap = el("div", { class: "markdown" });
  const tables = (page.blocks || []).filter((b) => b.kind === "table");
  for (const block of tables) wrap.append(block.html ? safeTableHtml(block.html) : blocksView({ blocks: [block] }));
  if (!tables.length) wrap.append(el("p", { class: "muted", text: "No table on this page." }));
  return wrap;
}

const failedPage = (page) => (page.flags || []).some((f) => f.startsWith("failed"));
const LAYER_ONLY_FLAGS = new Set(["text_layer_none", "text_layer_garbled", "text_layer_hidden"]);

// Whether a page is the PDF's own text layer, read by no engine: the rule of ocrgate.render.agreement
// (`from_text_layer`): every block's origin is `text_layer` (or, `text_layer=only` on a page without a
// usable layer, no block and a text_layer_none / _garbled / _hidden flag); never a failed page nor one
// flagged text_layer_partial (the engine read its pictures).
export function fromTextLayer(page) {
  if (!page || (page.flags || []).some((f) => f === "text_layer_partial" || f.startsWith("failed"))) return false;
  const blocks = page.blocks || [];
  if (blocks.length) return blocks.every((b) => b.origin === "text_layer");
  return (page.flags || []).some((f) => LAYER_ONLY_FLAGS.has(f));
}

export const TEXT_LAYER_NOTE = "From the PDF's text layer; no engine read this page.";

// `picture`: the page image a boxes picture is drawn over where the answer has none, the files' stem and
// the document's page count (`pageStem`).
function engineColumn(name, k, page, { raw, timings, error, picture }) {
  const col = el("section", { class: `column eng-${k}`, "aria-label": name, "data-backend": name });
  col.append(el("header", { class: "column-head" }, el("h3", { text: name }), timingsView({ timings })));
  if (error) col.append(el("p", { class: "error-inline", text: error }));
  if (!page) {
    col.append(el("p", { class: "muted", text: "No result for this page yet." }));
    return col;
  }
  const head = col.querySelector(".column-head");
  head.append(boxesButton(page, picture.source, `${pageStem(picture.base, page, picture.pages)}.${name}`));
  for (const flag of page.flags || []) head.append(el("span", { class: "flag", text: flag }));
  if (fromTextLayer(page)) head.append(el("span", { class: "flag text-layer-flag", text: "PDF text layer, not OCR" }));
  col.append(tabs(`${name} output`, [
    ["Markdown", () => blocksView(page)],
    ["Tables", () => tablesView(page)],
    ["Raw", () => pre(raw === undefined ? "(the raw output arrives with the job's result)" : raw)],
  ]));
  return col;
}

// One page of several engines. `pages`, `raws`, `timings`, `errors`: by engine name; `imageSrc`: a URL or a
// promise of one; `base`: the stem of downloaded files, `pageCount` the document's pages (`pageStem`). Returns the
// section; its `viewer` is the page viewer.
export function comparePage({ names, pages, raws = {}, timings = {}, errors = {}, imageSrc = null, base = "page", pageCount = 0 }) {
  const some = names.map((n) => pages[n]).find(Boolean);
  const index = some ? some.index : 0;
  const label = `Page ${index + 1}`;
  const section = el("section", { class: "compare-page", "aria-label": `${label}, line by line` });
  const viewer = new Viewer(some || { index, width: 1, height: 1 }, null, label);
  const answered = names.filter((n) => pages[n] && !failedPage(pages[n]));
  // the engines that read the page; a page every engine took from the text layer shows that text once
  const readers = answered.filter((n) => !fromTextLayer(pages[n]));
  const layerOnly = !readers.length && answered.length > 0;
  const shown = layerOnly ? answered.slice(0, 1) : readers;
  const compared = readers.length > 1;
  const rows = alignLines(Object.fromEntries(shown.map((n) => [n, pageLines(pages[n])])));

  const layers = {};
  names.forEach((name, k) => {
    layers[name] = svgEl("g", { class: `layer-lines eng-${k}`, "data-engine": name });
    viewer.svg.append(layers[name]);
  });
  rows.forEach((row, r) => {
    for (const [name, lines] of Object.entries(row.lines)) {
      for (const line of lines) {
        const box = rect(line.bbox, { class: "line-box", "data-row": r });
        const title = svgEl("title");
        title.textContent = `${name}: ${line.text}`;
        box.append(title);
        layers[name].append(box);
      }
    }
  });

  const show = el("select", { class: "small", "aria-label": "Whose boxes to draw" },
    el("option", { value: "", text: "all engines" }), ...names.map((n) => el("option", { value: n, text: n })));
  show.addEventListener("change", () => {
    for (const [name, layer] of Object.entries(layers)) layer.classList.toggle("hidden-layer", !!show.value && show.value !== name);
  });
  viewer.tools.append(el("label", { class: "small-text" }, "Boxes: ", show));
  for (const name of shown) viewer.tools.append(confidenceToggle(viewer, pages[name], name));

  const list = el("div", { class: "line-list", role: "list", "aria-label": `${label}: aligned lines` });
  const crops = [];
  rows.forEach((row, r) => {
    const readings = Object.fromEntries(shown.map((n) => [n, row.text[n] || ""]));
    const runs = diffReadings(readings);
    const same = shown.every((n) => row.text[n] === row.text[shown[0]]);
    const kind = !compared ? "alone" : same ? "agree" : "differ";
    const item = el("div", { class: `line-row ${kind}`, role: "listitem", tabindex: "0", "data-row": String(r) });
    const crop = el("div", { class: "line-crop", role: "img", "aria-label": `the page at line ${r + 1}` });
    crops.push([row, crop]);
    const texts = el("div", { class: "line-readings" });
    shown.forEach((name) => {
      const k = names.indexOf(name);
      const who = layerOnly ? "text layer" : name;
      const reading = el("div", { class: `reading eng-${k}`, "data-backend": name }, el("span", { class: "reading-engine", text: who }));
      reading.append(row.text[name] === undefined ? el("span", { class: "muted missing", text: "(no line here)" }) : readingView(runs[name], name));
      texts.append(reading);
    });
    item.append(crop, texts);
    list.append(item);
  });
  if (!rows.length) list.append(el("p", { class: "muted", text: "No text lines on this page yet." }));
  whenImage(viewer, imageSrc, label);
  Promise.resolve(imageSrc).then((src) => { if (src && some) for (const [row, crop] of crops) cropOf(row, some, src, crop); }, () => {});

  const differing = el("input", { type: "checkbox", class: "only-differing" });
  differing.addEventListener("change", () => list.classList.toggle("only-differ", differing.checked));
  // an agreement figure only where two engines or more read the page
  const alike = rows.filter((r) => readers.every((n) => r.text[n] === r.text[readers[0]])).length;
  const counts = layerOnly ? TEXT_LAYER_NOTE
    : compared ? `${alike} of ${rows.length} lines read alike`
      : readers.length ? `Only ${readers[0]} read this page: nothing to compare it with.`
        : "No engine has read this page.";
  const head = el("div", { class: "lines-head" }, el("strong", { text: "Lines" }),
    el("span", { class: `small-text lines-count ${compared ? "muted" : "lines-note"}`, text: counts }));
  if (compared) {
    head.append(el("label", { class: "small-text toggle" }, differing, " only lines that differ"),
      el("span", { class: "legend-diff small-text" }, el("mark", { class: "diff-only", text: "only in this engine" }), " ", el("mark", { class: "diff-some", text: "not in every engine" })));
  }
  const linesPanel = el("div", { class: "lines-panel" }, head, list);

  const highlight = (r, on) => {
    for (const node of section.querySelectorAll(`[data-row="${r}"]`)) node.classList.toggle("hl", on);
  };
  const rowOf = (e) => e.target.closest && e.target.closest("[data-row]");
  section.addEventListener("mouseover", (e) => { const t = rowOf(e); if (t) highlight(t.dataset.row, true); });
  section.addEventListener("mouseout", (e) => { const t = rowOf(e); if (t) highlight(t.dataset.row, false); });
  section.addEventListener("click", (e) => {
    const t = rowOf(e);
    if (!t) return;
    if (t.classList.contains("line-row")) viewer.show(rows[Number(t.dataset.row)].bbox);
    else list.querySelector(`.line-row[data-row="${t.dataset.row}"]`)?.scrollIntoView({ block: "nearest" });
  });
  list.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && rowOf(e)) viewer.show(rows[Number(rowOf(e).dataset.row)].bbox);
  });

  const columns = el("div", { class: "columns" });
  const picture = { source: imageSrc, base, pages: pageCount };
  names.forEach((name, k) => columns.append(engineColumn(name, k, pages[name], { raw: raws[name], timings: timings[name], error: errors[name], picture })));
  section.append(el("div", { class: "compare-top" }, el("figure", { class: "page-figure" }, viewer.element), linesPanel), columns);
  section.viewer = viewer;
  return section;
}

// A comparison answer (POST /v1/ocr with several backends): header, agreement, a page at a time.
export function compareView(response, { imageSrc = null } = {}) {
  const names = response.backends || Object.keys(response.results || {});
  const results = response.results || {};
  const pageCount = Math.max(0, ...names.map((n) => ((results[n] && results[n].pages) || []).length));
  const wrap = el("article", { class: "compare", "aria-label": "Comparison" });
  const agreement = el("ul", { class: "agreement", "aria-label": "Agreement" });
  for (const pair of response.agreement || []) {
    agreement.append(el("li", {}, `${pair.a} ↔ ${pair.b}: `, el("strong", { class: "score", text: `${Math.round(pair.similarity * 100)}%` })));
  }
  const layerPages = response.text_layer_pages || [];
  if (!(response.agreement || []).length) {
    agreement.append(el("li", { class: "muted", text: layerPages.length && layerPages.length === pageCount ? "none: no engine read a page" : "none: fewer than two engines read the document" }));
  }
  const layerNote = layerPages.length
    ? el("p", { class: "text-layer-note small-text", text: `From the PDF's text layer; no engine read ${layerPages.length === pageCount ? "any page" : `page ${layerPages.map((i) => i + 1).join(", ")}`}: left out of the agreement. text_layer "Engines read every page" has each engine read them.` })
    : null;
  const json = el("button", { type: "button", text: "Download JSON" });
  json.addEventListener("click", () => download(`${stem(response.image_name)}.compare.json`, JSON.stringify(response, null, 2), "application/json"));
  wrap.append(el("header", { class: "result-head" },
    el("h2", { text: `${response.image_name || "Document"} — ${names.join(" vs ")}` }),
    el("div", {}, el("span", { class: "muted", text: "Agreement (edit similarity of the markdown): " }), agreement),
    layerNote,
    el("div", { class: "actions" }, json)));
  let current = 0;
  const label = el("span", { class: "page-label", "aria-live": "polite" });
  const prev = el("button", { type: "button", text: "◀ Previous page", "aria-label": "Previous page" });
  const next = el("button", { type: "button", text: "Next page ▶", "aria-label": "Next page" });
  const nav = el("nav", { class: "page-nav", "aria-label": "Pages" }, prev, label, next);
  const holder = el("div");
  const show = (index) => {
    current = Math.min(Math.max(0, index), Math.max(0, pageCount - 1));
    label.textContent = `Page ${current + 1} of ${pageCount}`;
    prev.disabled = current === 0;
    next.disabled = current >= pageCount - 1;
    const pages = {};
    const raws = {};
    const timings = {};
    const errors = {};
    for (const name of names) {
      const result = results[name] || {};
      pages[name] = (result.pages || []).find((p) => p.index === current) || null;
      raws[name] = pages[name] ? rawFor(result, pages[name]) : undefined;
      timings[name] = result.timings;
      if (result.error) errors[name] = result.error.message;
    }
    const first = names.map((n) => pages[n]).find((p) => p && p.boxes_image);
    const read = names.map((n) => pages[n]).find(Boolean);  // the upload as the first engine read it
    const boxed = first ? pictureUrl(first.boxes_image) : null;
    const picture = pageCount === 1 ? shownImage(read, imageSrc, boxed) : boxed;
    holder.replaceChildren(comparePage({ names, pages, raws, timings, errors, imageSrc: picture, base: stem(response.image_name), pageCount }));
  };
  prev.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  wrap.append(nav, holder);
  nav.hidden = pageCount <= 1;
  show(0);
  return wrap;
}
