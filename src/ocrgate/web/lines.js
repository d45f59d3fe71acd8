// A page's text lines with their boxes, and lines of several engines aligned by where they sit on the page.
//
// An engine's lines are its blocks' `lines` where it gives them; otherwise a block's text is split at its
// line breaks (a table's at its rows) over equal bands of the block's box, as ocrgate.formats.lines does
// for ALTO and hOCR. Lines of different engines are aligned when their boxes overlap: vertically by at
// least half the lower line's height and horizontally by at least a third of the narrower line's width.
// Aligned lines form one row (an engine may have several lines in a row: a line another engine split).

const ESCAPE = /\\([!-/:-@[-`{-~])/g;
const TABLE_RULE = /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/;
export const NOT_IN_MARKDOWN = new Set(["header", "footer"]);

// Markdown text as it reads: CommonMark backslash escapes undone, table pipes and heading marks dropped.
export function plain(markdown) {
  return String(markdown || "")
    .split("\n")
    .filter((line) => !TABLE_RULE.test(line))
    .map((line) => line.replace(/^\s{0,3}#{1,6}\s+/, "").replace(/^\s*\|/, "").replace(/\|\s*$/, "")
      .replace(/(?<!\\)\|/g, " ").replace(ESCAPE, "$1").replace(/\s+/g, " ").trim())
    .filter(Boolean)
    .join("\n");
}

function score(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

// The text lines of one block: {bbox, text, score, estimated}.
export function blockLines(block) {
  if (block.lines && block.lines.length) {
    return block.lines.filter((l) => String(l.text || "").trim()).map((l) => ({
      bbox: l.bbox, text: String(l.text).replace(/\s+/g, " ").trim(), score: score(l.score ?? block.score), estimated: false,
    }));
  }
  const texts = plain(block.text).split("\n").filter(Boolean);
  const [x0, y0, x1, y1] = block.bbox;
  const step = (y1 - y0) / Math.max(1, texts.length);
  return texts.map((text, i) => ({
    bbox: [x0, y0 + i * step, x1, y0 + (i + 1) * step], text, score: score(block.score), estimated: true,
  }));
}

// Every line of a page in reading order, each knowing its block (`block`) and its place (`order`).
export function pageLines(page) {
  const out = [];
  (page.blocks || []).forEach((block, b) => {
    if (NOT_IN_MARKDOWN.has(block.kind)) return;
    for (const line of blockLines(block)) out.push({ ...line, block: b, order: out.length });
  });
  return out;
}

// A page's text as a person would type it: one line a line, blocks in reading order.
export function pageText(page) {
  return pageLines(page).map((l) => l.text).join("\n");
}

function overlaps(a, b) {
  const dy = Math.min(a.bbox[3], b.bbox[3]) - Math.max(a.bbox[1], b.bbox[1]);
  const dx = Math.min(a.bbox[2], b.bbox[2]) - Math.max(a.bbox[0], b.bbox[0]);
  const h = Math.min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1]);
  const w = Math.min(a.bbox[2] - a.bbox[0], b.bbox[2] - b.bbox[0]);
  return dy > 0 && dx > 0 && dy >= 0.5 * h && dx >= w / 3;
}

function union(boxes) {
  return [
    Math.min(...boxes.map((b) => b[0])), Math.min(...boxes.map((b) => b[1])),
    Math.max(...boxes.map((b) => b[2])), Math.max(...boxes.map((b) => b[3])),
  ];
}

// Lines of each engine ({name: lines}) aligned into rows, in reading order:
// [{bbox, lines: {name: [line...]}, text: {name: "joined text"}}]; a row lacks the engines with no line there.
export function alignLines(byEngine) {
  const names = Object.keys(byEngine);
  const all = names.flatMap((name) => byEngine[name].map((line) => ({ name, line, rank: line.order / Math.max(1, byEngine[name].length) })));
  const parent = all.map((_, i) => i);
  const find = (i) => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  for (let i = 0; i < all.length; i += 1) {
    for (let j = i + 1; j < all.length; j += 1) {
      if (all[i].name !== all[j].name && overlaps(all[i].line, all[j].line)) parent[find(i)] = find(j);
    }
  }
  const groups = new Map();
  all.forEach((item, i) => {
    const root = find(i);
    if (!groups.has(root)) groups.set(root, []);
    groups.get(root).push(item);
  });
  const rows = [...groups.values()].map((items) => {
    const lines = {};
    for (const name of names) {
      const mine = items.filter((it) => it.name === name).map((it) => it.line).sort((a, b) => a.order - b.order);
      if (mine.length) lines[name] = mine;
    }
    const text = Object.fromEntries(Object.entries(lines).map(([name, ls]) => [name, ls.map((l) => l.text).join(" ")]));
    const rank = items.reduce((sum, it) => sum + it.rank, 0) / items.length;
    return { bbox: union(items.map((it) => it.line.bbox)), lines, text, rank };
  });
  return rows.sort((a, b) => a.rank - b.rank || a.bbox[1] - b.bbox[1]);
}
