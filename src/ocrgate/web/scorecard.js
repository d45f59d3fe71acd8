// The scorecard of a job (GET /v1/jobs/{id}/scorecard): which engine reads these pages best, by the
// figures `ocrgate eval` computes, against the pages the person corrected; how much the engines agree where
// nothing is corrected; speed; the winner per page and overall; and the set exported for `ocrgate eval`.
// A page every engine took from the PDF's text layer (`text_layer`) is labelled, never scored.

import { getBlob } from "./api.js";
import { TEXT_LAYER_NOTE } from "./compare.js";
import { download, el, fixed, percent } from "./dom.js";
import { jobStem } from "./downloads.js";

// [label, field, digits, better] — better: "low", "high" or null (no best marked).
const COLUMNS = [
  ["CER ↓", "cer", 3, "low"],
  ["F1 ↑", "f1", 3, "high"],
  ["WER ↓", "wer", 3, "low"],
  ["wins", "wins", 0, "high"],
  ["corrected pages", "corrected", 0, null],
  ["pages done / failed", null, 0, null],
  ["s / page ↓", "seconds_per_page", 2, "low"],
  ["engine s / page ↓", "ocr_seconds_per_page", 2, "low"],
  ["pages / s ↑", "pages_per_second", 2, "high"],
];

function best(engines, field, better) {
  const values = engines.map((e) => e[field]).filter((v) => typeof v === "number");
  if (!better || values.length < 2 || values.every((v) => v === values[0])) return null;  // all alike: none best
  return better === "low" ? Math.min(...values) : Math.max(...values);
}

function enginesTable(card) {
  const head = el("tr", {}, el("th", { scope: "col", text: "engine" }), ...COLUMNS.map(([label]) => el("th", { scope: "col", text: label })));
  const body = el("tbody");
  for (const engine of card.engines) {
    const row = el("tr", { "data-backend": engine.backend }, el("th", { scope: "row", text: engine.backend }));
    for (const [, field, digits, better] of COLUMNS) {
      const text = field ? fixed(engine[field], digits) : `${engine.pages_done} / ${engine.pages_failed}`;
      const top = field && engine[field] !== null && engine[field] === best(card.engines, field, better);
      row.append(el("td", { class: top ? "best" : null, "data-field": field || "pages", text, title: top ? "best" : null }));
    }
    body.append(row);
  }
  return el("table", { class: "score-table engines" }, el("thead", {}, head), body);
}

function pagesTable(card, onPage) {
  const names = card.engines.map((e) => e.backend);
  const head = el("tr", {}, el("th", { text: "page" }), el("th", { text: "truth" }),
    ...names.map((n) => el("th", { text: `${n} CER / F1` })), el("th", { text: "winner" }), el("th", { text: "agreement" }));
  const body = el("tbody");
  for (const page of card.pages) {
    const link = el("button", { type: "button", class: "link", text: `${page.index + 1}. ${page.name}` });
    link.addEventListener("click", () => onPage(page.index));
    const kind = [page.truth ? "corrected" : "", page.text_layer ? "text-layer-page" : ""].filter(Boolean).join(" ");
    const row = el("tr", { "data-page": String(page.index), class: kind || null }, el("th", { scope: "row" }, link),
      el("td", { text: page.truth ? `✓${page.truth_from ? ` (from ${page.truth_from})` : ""}` : "–" }));
    if (page.text_layer) {  // no engine read it: nothing to score, no winner, no agreement
      row.append(el("td", { class: "text-layer-note", colspan: String(names.length + 2), text: TEXT_LAYER_NOTE }));
      body.append(row);
      continue;
    }
    for (const name of names) {
      const s = page.engines[name] || {};
      const text = s.status !== "done" ? s.status || "–" : s.cer === null ? "–" : `${fixed(s.cer)} / ${fixed(s.f1)}`;
      row.append(el("td", { class: page.winner === name ? "best" : null, text }));
    }
    row.append(el("td", { class: "winner", text: page.winner || (page.truth ? "tie" : "–") }),
      el("td", { text: page.agreement.map((a) => `${a.a} ↔ ${a.b} ${percent(a.similarity)}`).join("; ") || "–" }));
    body.append(row);
  }
  return el("table", { class: "score-table pages" }, el("thead", {}, head), body);
}

function verdict(card) {
  const layer = card.pages.filter((p) => p.text_layer).length;
  if (layer && layer === card.pages.length) {
    return el("p", { class: "verdict text-layer-note" }, `Every page came from the PDF's text layer: no engine read them, so there is nothing to score or compare. Run the job again with the PDF text layer set to "Engines read every page (never)".`);
  }
  if (card.winner) {
    const top = card.engines[0];
    return el("p", { class: "verdict" }, "On these pages, ", el("strong", { class: "winner-name", text: card.winner }),
      ` reads best: mean CER ${fixed(top.cer)}, F1 ${fixed(top.f1)} over ${card.corrected} corrected page${card.corrected === 1 ? "" : "s"}, winning ${top.wins} of them.`);
  }
  const agree = card.agreement.map((a) => `${a.a} ↔ ${a.b}: ${percent(a.similarity)}`).join("; ");
  return el("p", { class: "verdict muted" }, "No page is corrected yet: correct an engine's reading of a page (Pages, Ground truth) to see which engine is right. ",
    agree ? `Until then, how much the engines agree: ${agree}.` : "");
}

// The scorecard's element. `onPage(index)` opens a page; `onError(exc)` shows a failed export.
export function scorecardView(card, { onPage, onError }) {
  const exportButton = el("button", { type: "button", class: "export", text: "Export the corrected pages for ocrgate eval (zip)" });
  exportButton.disabled = !card.corrected;
  exportButton.addEventListener("click", async () => {
    try {
      const blob = await getBlob(`/v1/jobs/${encodeURIComponent(card.job_id)}/export`);
      download(`${jobStem(card.name)}.eval-set.zip`, blob);  // named as the job's other downloads
    } catch (exc) {
      onError(exc);
    }
  });
  const small = card.corrected && card.corrected < 5 ? el("p", { class: "warning small-text", text: `Only ${card.corrected} corrected page${card.corrected === 1 ? "" : "s"}: a difference of a few hundredths of CER may not hold on more pages.` }) : null;
  return el("section", { class: "scorecard", "aria-label": "Scorecard" },
    el("header", { class: "scorecard-head" }, el("h2", { text: "Scorecard" }), exportButton),
    verdict(card), small,
    enginesTable(card),
    el("p", { class: "muted small-text", text: `Ranking: ${card.ranking}. CER (character error rate: edits / truth characters) and WER are 0 when perfect; F1 (word-bag, order ignored) is 1 when perfect; text is compared case-folded with white space collapsed and markdown removed, as ocrgate eval does. Speed: seconds per page from rasterising to rendering; engine seconds: in the engine alone.` }),
    el("h3", { text: "Per page" }), pagesTable(card, onPage));
}
