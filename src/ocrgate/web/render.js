// One result on screen: per page, the page picture with the blocks' boxes over it (an SVG in page
// pixels), and tabs for the rendered markdown, the engine's raw output and the JSON.

import { download, el, nextId, stem } from "./dom.js";
import { renderMarkdown, safeTableHtml } from "./markdown.js";
import { confidenceToggle, drawBlocks, kindOf } from "./overlay.js";
import { Viewer } from "./viewer.js";

// The picture of a page: a URL, a promise of one (a job's page image, fetched), or nothing.
export function whenImage(viewer, source, label) {
  if (source && typeof source.then === "function") {
    source.then((src) => { if (src) viewer.setImage(src, label); }, () => {});
  } else if (source) {
    viewer.setImage(source, label);
  }
}

export function legend(blocks) {
  const kinds = [...new Set((blocks || []).map((b) => kindOf(b.kind)))];
  const list = el("ul", { class: "legend", "aria-label": "Block kinds" });
  for (const kind of kinds) list.append(el("li", { class: `kind-${kind}` }, el("span", { class: "swatch" }), kind));
  return list;
}

// Blocks as text, each linked to its box by data-block.
export function blocksView(page) {
  const wrap = el("div", { class: "markdown" });
  const blocks = page.blocks || [];
  if (!blocks.length) {
    wrap.append(renderMarkdown(page.markdown));
    return wrap;
  }
  blocks.forEach((block, i) => {
    const kind = kindOf(block.kind);
    const node = el("div", { class: `block kind-${kind}`, tabindex: "0", "data-block": String(i), "aria-label": `${kind} block ${i + 1}` });
    if (kind === "table" && block.html) node.append(safeTableHtml(block.html));
    else node.append(renderMarkdown(block.text));
    wrap.append(node);
  });
  return wrap;
}

// Hover or focus on a box or a block highlights both.
export function linkHighlights(section) {
  const set = (index, on, scroll) => {
    for (const node of section.querySelectorAll(`[data-block="${index}"]`)) {
      node.classList.toggle("hl", on);
      if (on && scroll && node.tagName === "DIV") node.scrollIntoView({ block: "nearest" });
    }
  };
  const target = (event) => event.target.closest && event.target.closest("[data-block]");
  section.addEventListener("mouseover", (e) => { const t = target(e); if (t) set(t.dataset.block, true, t.tagName !== "DIV"); });
  section.addEventListener("mouseout", (e) => { const t = target(e); if (t) set(t.dataset.block, false); });
  section.addEventListener("focusin", (e) => { const t = target(e); if (t) set(t.dataset.block, true); });
  section.addEventListener("focusout", (e) => { const t = target(e); if (t) set(t.dataset.block, false); });
}

// Accessible tabs: buttons with aria-selected, arrow keys move between them.
export function tabs(label, entries) {
  const id = nextId("t");
  const list = el("div", { role: "tablist", "aria-label": label, class: "tabs" });
  const panels = el("div", { class: "tab-panels" });
  const buttons = [];
  const select = (n, focus) => {
    buttons.forEach((b, i) => {
      b.setAttribute("aria-selected", String(i === n));
      b.tabIndex = i === n ? 0 : -1;
      panels.children[i].hidden = i !== n;
    });
    if (focus) buttons[n].focus();
  };
  entries.forEach(([name, build], i) => {
    const button = el("button", { type: "button", role: "tab", id: `${id}-${i}`, "aria-controls": `${id}-p${i}`, class: "tab", "data-tab": name.toLowerCase(), text: name });
    button.addEventListener("click", () => select(i));
    button.addEventListener("keydown", (e) => {
      const n = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: entries.length - 1 }[e.key];
      if (n !== undefined) { e.preventDefault(); select((n + entries.length) % entries.length, true); }
    });
    buttons.push(button);
    list.append(button);
    const panel = el("div", { role: "tabpanel", id: `${id}-p${i}`, "aria-labelledby": `${id}-${i}`, class: "tab-panel", tabindex: "0" });
    panel.append(build());
    panels.append(panel);
  });
  select(0);
  return el("div", { class: "tabbed" }, list, panels);
}

export const pre = (value) => el("pre", { class: "code", text: typeof value === "string" ? value : JSON.stringify(value, null, 2) });

export function rawFor(response, page) {
  const raw = response && response.raw_result ? response.raw_result[response.backend] : undefined;
  if (raw === undefined) return "(no raw output for this page)";
  return Array.isArray(raw) && (response.pages || []).length > 1 ? raw[page.index] : raw;
}

// How far a page lay turned when it was read (its `rotated: N` flag: N degrees clockwise), else 0.
function rotation(page) {
  for (const flag of page.flags || []) {
    const found = /^rotated:\s*(90|180|270)$/.exec(flag);
    if (found) return Number(found[1]);
  }
  return 0;
}

// The uploaded image as the engine read it, in the pixels its boxes refer to: for a page read turned,
// a promise of the image turned upright (drawn on a canvas); else the image URL itself.
export function asRead(page, imageSrc) {
  const angle = page ? rotation(page) : 0;
  if (!angle || typeof imageSrc !== "string") return imageSrc;
  return (async () => {
    const { canvas, ctx, img } = await pageCanvas(page, imageSrc);
    ctx.translate(page.width / 2, page.height / 2);
    ctx.rotate((-angle * Math.PI) / 180);
    ctx.drawImage(img, -img.naturalWidth / 2, -img.naturalHeight / 2);
    return URL.createObjectURL(await new Promise((resolve) => canvas.toBlob(resolve, "image/png")));
  })();
}

// A canvas of the page's size, to draw it on, and the decoded image at `imageSrc`.
async function pageCanvas(page, imageSrc) {
  const img = new Image();
  img.src = imageSrc;
  await img.decode();
  const canvas = el("canvas");
  canvas.width = page.width;
  canvas.height = page.height;
  return { canvas, ctx: canvas.getContext("2d"), img };
}

// The server's boxes picture (an SVG document, as text) as an image source: a data: URL, which needs
// no revoking as a blob: URL would.
export function pictureUrl(svg) {
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

// The size of the image at `src` as this browser decodes it, [width, height] in pixels (after any EXIF
// orientation the browser applies), or null when it cannot decode it.
async function naturalSize(src) {
  const img = new Image();
  img.src = src;
  try {
    await img.decode();
  } catch {
    return null;
  }
  return [img.naturalWidth, img.naturalHeight];
}

// What the viewer shows for `page`: the upload as the engine read it (`asRead`) when this browser decodes
// it at the page's size (`page.width` x `page.height` pixels, or the other way round where asRead turns
// it a quarter); else `fallback`: by default the server's boxes picture, or null (boxes only). Browsers
// apply an image's EXIF orientation to some formats and not to others (Chromium turns a JPEG, not a
// WebP), and the server reads every page upright, so a sideways upload would be stretched under upright
// boxes. `imageSrc`: a URL, a promise of one (a job's page image), or null. Returns a URL, a promise of
// one, or null.
export function shownImage(page, imageSrc, fallback = page && page.boxes_image ? pictureUrl(page.boxes_image) : null) {
  if (!page || !imageSrc) return imageSrc || fallback;
  const upload = typeof imageSrc === "string";  // asRead turns an upload; a job's page image is as read
  const [width, height] = upload && rotation(page) % 180 === 90 ? [page.height, page.width] : [page.width, page.height];
  return (async () => {
    const src = await Promise.resolve(imageSrc).catch(() => null);
    const size = src ? await naturalSize(src) : null;
    if (!size || size[0] !== width || size[1] !== height) return fallback;
    return upload ? asRead(page, src) : src;
  })();
}

// The boxes picture: the server's own, or the page image with the boxes drawn on a canvas.
async function boxesPicture(page, imageSrc) {
  if (page.boxes_image) return new Blob([page.boxes_image], { type: "image/svg+xml" });
  const { canvas, ctx, img } = await pageCanvas(page, imageSrc);
  ctx.drawImage(img, 0, 0, page.width, page.height);
  ctx.lineWidth = 2;
  for (const block of page.blocks || []) {
    const [x0, y0, x1, y1] = block.bbox;
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue(`--kind-${kindOf(block.kind)}`) || "#d00";
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
  }
  return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
}

// The stem of `page`'s files: `base` for a one-page document (`count` pages), else `base.pN`, as the
// command line names its boxes pictures (`scan.boxes.svg`, `scan.p2.boxes.svg`).
export function pageStem(base, page, count) {
  return count === 1 ? base : `${base}.p${page.index + 1}`;
}

// A button that downloads `page`'s boxes picture as `name`.boxes.svg (the server's picture) or, where the
// answer has none, `name`.boxes.png drawn here over `source` (a URL or a promise of one; none: disabled).
export function boxesButton(page, source, name) {
  const button = el("button", { type: "button", class: "small", text: "Boxes picture" });
  button.disabled = !page.boxes_image && !source;
  button.addEventListener("click", async () => {
    const over = page.boxes_image ? null : await Promise.resolve(source).catch(() => null);
    if (!page.boxes_image && !over) return;
    download(`${name}.boxes.${page.boxes_image ? "svg" : "png"}`, await boxesPicture(page, over));
  });
  return button;
}

// One page: the page in a zoomable viewer with its blocks' boxes on the left, tabs on the right.
// `imageSrc`: the uploaded image's URL, or a promise of the page image (jobs); else the boxes picture.
// `base`: the stem of downloaded files, `pages`: the document's page count (`pageStem`).
export function pageView(page, { response = null, imageSrc = null, base = "page", pages = 0 } = {}) {
  // the upload where the browser shows it at the page's size, else the server's boxes picture (an SVG:
  // the page, the upload or a preview of it, under the boxes)
  const source = shownImage(page, imageSrc);
  const label = `Page ${page.index + 1}`;
  const section = el("section", { class: "page", "data-page": String(page.index), "aria-label": label });
  const head = el("header", { class: "page-head" },
    el("h3", { text: label }),
    el("span", { class: "muted", text: `${page.width}×${page.height} px · ${(page.blocks || []).length} blocks` }),
  );
  for (const flag of page.flags || []) head.append(el("span", { class: "flag", text: flag }));
  const viewer = new Viewer(page, null, label);
  whenImage(viewer, source, label);
  drawBlocks(viewer.svg, page);
  head.append(boxesButton(page, source, pageStem(base, page, pages)));
  viewer.tools.append(confidenceToggle(viewer, page, response ? response.backend : ""));
  const figure = el("figure", { class: "page-figure" }, viewer.element, legend(page.blocks));
  const json = { ...page };
  delete json.boxes_image;
  const text = tabs(`${label} views`, [
    ["Markdown", () => blocksView(page)],
    ["Raw", () => pre(rawFor(response, page))],
    ["JSON", () => pre(json)],
  ]);
  section.append(head, el("div", { class: "page-body" }, figure, el("div", { class: "page-text" }, text)));
  linkHighlights(section);
  section.viewer = viewer;
  return section;
}

export function timingsView(response) {
  const t = response.timings || {};
  const dl = el("dl", { class: "timings", "aria-label": "Timings" });
  if (!t.total) return dl; // nothing measured (yet)
  for (const key of ["queue", "decode", "ocr", "render", "total"]) {
    if (t[key] === undefined) continue;
    dl.append(el("div", {}, el("dt", { text: key }), el("dd", { text: `${Number(t[key]).toFixed(2)} s` })));
  }
  return dl;
}

// A whole one-backend response.
export function resultView(response, { imageSrc = null } = {}) {
  const base = stem(response.image_name);
  const wrap = el("article", { class: "result", "aria-label": `Result from ${response.backend}` });
  const md = el("button", { type: "button", text: "Download markdown" });
  md.addEventListener("click", () => download(`${base}.${response.backend}.md`, response.markdown || "", "text/markdown"));
  const js = el("button", { type: "button", text: "Download JSON" });
  js.addEventListener("click", () => download(`${base}.${response.backend}.json`, JSON.stringify(response, null, 2), "application/json"));
  wrap.append(el("header", { class: "result-head" },
    el("h2", { text: `${response.image_name || "Document"} — ${response.backend}` }),
    timingsView(response),
    el("div", { class: "actions" }, md, js),
  ));
  const pages = response.pages || [];
  pages.forEach((page) => {
    wrap.append(pageView(page, { response, imageSrc: pages.length === 1 ? imageSrc : null, base, pages: pages.length }));
  });
  if (!pages.length) wrap.append(el("p", { class: "muted", text: "No pages in this result." }));
  return wrap;
}
