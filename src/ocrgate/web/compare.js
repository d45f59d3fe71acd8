// Several backends on one document: side by side, one page at a time for all of them, with a
// word-level diff (LCS on words) against the first backend and the pairwise agreement.

import { el, pageStage, linkHighlights, timingsView, download, stem } from "./render.js";

const words = (text) => String(text || "").split(/\s+/).filter(Boolean);

// For each word of a and of b: whether it is part of their longest common subsequence.
// Returns null when the pages are too long for an O(n*m) table.
export function diffWords(a, b) {
  const n = a.length;
  const m = b.length;
  if (n * m > 6_000_000) return null;
  const table = new Uint32Array((n + 1) * (m + 1));
  const at = (i, j) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      table[at(i, j)] = a[i] === b[j] ? table[at(i + 1, j + 1)] + 1 : Math.max(table[at(i + 1, j)], table[at(i, j + 1)]);
    }
  }
  const keepA = new Array(n).fill(false);
  const keepB = new Array(m).fill(false);
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) { keepA[i] = true; keepB[j] = true; i += 1; j += 1; }
    else if (table[at(i + 1, j)] >= table[at(i, j + 1)]) i += 1;
    else j += 1;
  }
  return { keepA, keepB };
}

function diffText(list, keep, cls, label) {
  const box = el("div", { class: "diff", "aria-label": label });
  list.forEach((word, i) => {
    if (i) box.append(" ");
    if (keep && !keep[i]) box.append(el(cls, { class: `diff-${cls}`, text: word }));
    else box.append(word);
  });
  if (!list.length) box.append(el("span", { class: "muted", text: "(no text)" }));
  return box;
}

export function compareView(response, { imageSrc = null } = {}) {
  const names = response.backends || Object.keys(response.results || {});
  const results = response.results || {};
  const pageCount = Math.max(0, ...names.map((n) => ((results[n] && results[n].pages) || []).length));
  const wrap = el("article", { class: "compare", "aria-label": "Comparison" });

  const agreement = el("ul", { class: "agreement", "aria-label": "Agreement" });
  for (const pair of response.agreement || []) {
    agreement.append(el("li", {}, `${pair.a} ↔ ${pair.b}: `, el("strong", { class: "score", text: `${Math.round(pair.similarity * 100)}%` })));
  }
  const json = el("button", { type: "button", text: "Download JSON" });
  json.addEventListener("click", () => download(`${stem(response.image_name)}.compare.json`, JSON.stringify(response, null, 2), "application/json"));
  wrap.append(el("header", { class: "result-head" },
    el("h2", { text: `${response.image_name || "Document"} — ${names.join(" vs ")}` }),
    el("div", {}, el("span", { class: "muted", text: "Agreement (edit similarity of the markdown): " }), agreement),
    el("div", { class: "actions" }, json),
  ));

  let current = 0;
  const label = el("span", { class: "page-label", "aria-live": "polite" });
  const prev = el("button", { type: "button", text: "◀ Previous page", "aria-label": "Previous page" });
  const next = el("button", { type: "button", text: "Next page ▶", "aria-label": "Next page" });
  const nav = el("nav", { class: "page-nav", "aria-label": "Pages" }, prev, label, next);
  const columns = el("div", { class: "columns" });
  columns.style.gridTemplateColumns = `repeat(${Math.max(1, names.length)}, minmax(0, 1fr))`;

  const show = (index) => {
    current = Math.min(Math.max(0, index), Math.max(0, pageCount - 1));
    label.textContent = `Page ${current + 1} of ${pageCount}`;
    prev.disabled = current === 0;
    next.disabled = current >= pageCount - 1;
    const pageOf = (name) => ((results[name] && results[name].pages) || []).find((p) => p.index === current);
    const base = words(pageOf(names[0]) && pageOf(names[0]).markdown);
    columns.replaceChildren();
    names.forEach((name, k) => {
      const result = results[name] || {};
      const page = pageOf(name);
      const col = el("section", { class: "column", "aria-label": name, "data-backend": name });
      col.append(el("header", { class: "column-head" }, el("h3", { text: name }), timingsView(result)));
      if (result.error) col.append(el("p", { class: "error-inline", text: result.error.message }));
      if (!page) {
        col.append(el("p", { class: "muted", text: "No result for this page." }));
      } else {
        const picture = imageSrc && pageCount === 1 ? imageSrc : page.boxes_image ? `data:image/png;base64,${page.boxes_image}` : null;
        col.append(el("figure", { class: "page-figure" }, pageStage(page, picture)));
        const mine = words(page.markdown);
        let keep = null;
        let cls = "ins";
        if (names.length > 1) {
          const other = k === 0 ? words(pageOf(names[1]) && pageOf(names[1]).markdown) : base;
          const d = k === 0 ? diffWords(mine, other) : diffWords(base, mine);
          if (d) keep = k === 0 ? d.keepA : d.keepB;
          cls = k === 0 ? "del" : "ins";
        }
        const title = k === 0 ? `Text of ${name}; words missing from ${names[1] || "the others"} are marked` : `Text of ${name}; words not in ${names[0]} are marked`;
        col.append(diffText(mine, keep, cls, title));
        linkHighlights(col);
      }
      columns.append(col);
    });
  };
  prev.addEventListener("click", () => show(current - 1));
  next.addEventListener("click", () => show(current + 1));
  wrap.append(nav, el("p", { class: "muted legend-diff" },
    el("del", { class: "diff-del", text: "only in " + (names[0] || "") }), " ",
    el("ins", { class: "diff-ins", text: "not in " + (names[0] || "") })), columns);
  show(0);
  if (pageCount <= 1) nav.hidden = true;
  return wrap;
}
