// How engines' readings of the same line differ: words in common stay plain; a word (or, between two
// engines, the characters of a word) that the others lack is marked as "only in" this engine. Nothing is
// struck through: a difference says the engines disagree, not which one is wrong.
//
// Words are matched by their longest common subsequence (LCS); between two engines, a stretch where both
// have other words is compared again character by character, so `brovvn` / `brown` marks `vv` / `w`.

const MAX_CELLS = 4_000_000;

export const words = (text) => String(text || "").split(/\s+/).filter(Boolean);

// For each item of a and of b: whether it is part of their longest common subsequence.
// Returns null when the sequences are too long for an O(n*m) table.
export function lcs(a, b) {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_CELLS) return null;
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

// Consecutive runs of one kind: [{text, kind, missing}] with kind "same" or "only".
function runs(pieces) {
  const out = [];
  for (const piece of pieces) {
    const last = out[out.length - 1];
    if (last && last.kind === piece.kind && String(last.missing) === String(piece.missing)) last.text += piece.text;
    else out.push({ ...piece });
  }
  return out;
}

// Two readings: word LCS, then characters within the stretches where both differ.
function pair(a, b) {
  const wa = words(a);
  const wb = words(b);
  const d = lcs(wa, wb) || { keepA: wa.map(() => false), keepB: wb.map(() => false) };
  const outA = [];
  const outB = [];
  let i = 0;
  let j = 0;
  const gap = (ga, gb) => {
    const ta = ga.join(" ");
    const tb = gb.join(" ");
    const chars = ta && tb ? lcs([...ta], [...tb]) : null;
    const mark = (text, keep, out) => [...text].forEach((c, k) => out.push({ text: c, kind: keep && keep[k] ? "same" : "only" }));
    mark(ta, chars && chars.keepA, outA);
    mark(tb, chars && chars.keepB, outB);
  };
  while (i < wa.length || j < wb.length) {
    const ga = [];
    const gb = [];
    while (i < wa.length && !d.keepA[i]) ga.push(wa[i++]);
    while (j < wb.length && !d.keepB[j]) gb.push(wb[j++]);
    if (ga.length || gb.length) {
      if (outA.length && ga.length) outA.push({ text: " ", kind: "same" });
      if (outB.length && gb.length) outB.push({ text: " ", kind: "same" });
      gap(ga, gb);
    }
    if (i < wa.length && j < wb.length) {
      for (const [w, out] of [[wa[i], outA], [wb[j], outB]]) {
        if (out.length) out.push({ text: " ", kind: "same" });
        out.push({ text: w, kind: "same" });
      }
      i += 1;
      j += 1;
    }
  }
  return [runs(outA), runs(outB)];
}

// Several readings ({engine: text}): per engine, runs [{text, kind, missing}]; kind "same" (every other
// engine has it), "only" (no other engine has it) or "some" (`missing` names the engines that lack it).
export function diffReadings(readings) {
  const names = Object.keys(readings);
  if (names.length === 2) {
    const [a, b] = pair(readings[names[0]], readings[names[1]]);
    return { [names[0]]: a, [names[1]]: b };
  }
  const tokens = Object.fromEntries(names.map((n) => [n, words(readings[n])]));
  const out = {};
  for (const name of names) {
    const lacking = tokens[name].map(() => []);
    for (const other of names) {
      if (other === name) continue;
      const d = lcs(tokens[name], tokens[other]);
      tokens[name].forEach((_, k) => { if (!d || !d.keepA[k]) lacking[k].push(other); });
    }
    const pieces = [];
    tokens[name].forEach((w, k) => {
      if (k) pieces.push({ text: " ", kind: "same" });
      const missing = lacking[k];
      const kind = !missing.length ? "same" : missing.length === names.length - 1 ? "only" : "some";
      pieces.push({ text: w, kind, missing: kind === "some" ? missing : undefined });
    });
    out[name] = runs(pieces);
  }
  return out;
}
