// A small, safe markdown renderer. It never parses engine text as HTML: it builds DOM nodes with
// createElement/textContent, so "<script>" or "onerror=" stay visible text. Only a whitelist of
// elements is produced; images only from data:image/ URIs, links only http(s).

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  return node;
}

const INLINE =
  /(`[^`]+`)|(!\[([^\]]*)\]\(([^)\s]+)\))|(\[([^\]]+)\]\(([^)\s]+)\))|(\*\*([^*]+)\*\*)|(\*([^*\s][^*]*)\*)|(\b_([^_\s][^_]*)_\b)|\\([!-\/:-@[-`{-~])/g;

export function inline(text, parent) {
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) parent.append(document.createTextNode(text.slice(last, m.index)));
    last = m.index + m[0].length;
    if (m[1]) {
      parent.append(el("code", m[1].slice(1, -1)));
    } else if (m[2]) {
      const src = m[4];
      if (/^data:image\/(png|jpe?g|gif|webp);base64,[A-Za-z0-9+/=]+$/i.test(src)) {
        const img = el("img");
        img.src = src;
        img.alt = m[3];
        img.className = "md-figure";
        parent.append(img);
      } else {
        parent.append(el("span", `[image: ${m[3] || "figure"}]`));
      }
    } else if (m[5]) {
      if (/^https?:\/\//i.test(m[7])) {
        const a = el("a");
        a.href = m[7];
        a.rel = "noopener noreferrer";
        a.target = "_blank";
        inline(m[6], a);
        parent.append(a);
      } else {
        inline(m[6], parent);
      }
    } else if (m[8]) {
      const strong = el("strong");
      inline(m[9], strong);
      parent.append(strong);
    } else if (m[14]) {
      parent.append(document.createTextNode(m[14])); // a CommonMark backslash escape: the character itself
    } else if (m[10] || m[12]) {
      const em = el("em");
      inline(m[11] || m[13], em);
      parent.append(em);
    }
  }
  if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  return parent;
}

function splitRow(line) {
  let row = line.trim();
  if (row.startsWith("|")) row = row.slice(1);
  if (row.endsWith("|")) row = row.slice(0, -1);
  return row.split("|").map((cell) => cell.trim());
}

const isTableSep = (line) => /^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$/.test(line);
const LIST = /^\s*([-*+]|\d+[.)])\s+(.*)$/;

// Render markdown into a DocumentFragment.
export function renderMarkdown(source) {
  const out = document.createDocumentFragment();
  const lines = String(source || "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  let para = [];
  const flush = () => {
    if (para.length) out.append(inline(para.join(" "), el("p")));
    para = [];
  };
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      flush();
      i += 1;
      continue;
    }
    const fence = line.match(/^\s*(```|~~~|\$\$)/);
    if (fence) {
      flush();
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i += 1;
      const pre = el("pre");
      pre.append(el("code", body.join("\n")));
      if (fence[1] === "$$") pre.className = "md-equation";
      out.append(pre);
      continue;
    }
    const heading = line.match(/^\s*(#{1,6})\s+(.*)$/);
    if (heading) {
      flush();
      out.append(inline(heading[2].replace(/\s#+\s*$/, ""), el(`h${Math.min(6, heading[1].length + 2)}`)));
      i += 1;
      continue;
    }
    if (line.includes("|") && i + 1 < lines.length && isTableSep(lines[i + 1])) {
      flush();
      const table = el("table");
      const head = el("thead");
      const tr = el("tr");
      for (const cell of splitRow(line)) tr.append(inline(cell, el("th")));
      head.append(tr);
      table.append(head);
      const body = el("tbody");
      i += 2;
      while (i < lines.length && lines[i].includes("|") && lines[i].trim()) {
        const row = el("tr");
        for (const cell of splitRow(lines[i])) row.append(inline(cell, el("td")));
        body.append(row);
        i += 1;
      }
      table.append(body);
      out.append(table);
      continue;
    }
    const item = line.match(LIST);
    if (item) {
      flush();
      const ordered = /\d/.test(item[1]);
      const list = el(ordered ? "ol" : "ul");
      while (i < lines.length) {
        const m = lines[i].match(LIST);
        if (!m || /\d/.test(m[1]) !== ordered) break;
        list.append(inline(m[2], el("li")));
        i += 1;
      }
      out.append(list);
      continue;
    }
    para.push(line.trim());
    i += 1;
  }
  flush();
  return out;
}

// Engine table HTML: parsed in an inert document, then only whitelisted elements and the
// colspan/rowspan attributes are copied; everything else keeps only its text.
const TABLE_TAGS = new Set(["TABLE", "THEAD", "TBODY", "TFOOT", "TR", "TH", "TD", "CAPTION", "B", "I", "STRONG", "EM", "BR", "SUB", "SUP"]);

function copySafe(node, parent) {
  for (const child of node.childNodes) {
    if (child.nodeType === Node.TEXT_NODE) {
      parent.append(document.createTextNode(child.textContent));
    } else if (child.nodeType === Node.ELEMENT_NODE) {
      if (child.tagName === "SCRIPT" || child.tagName === "STYLE") continue;
      if (TABLE_TAGS.has(child.tagName)) {
        const copy = document.createElement(child.tagName.toLowerCase());
        for (const attr of ["colspan", "rowspan"]) {
          const value = child.getAttribute(attr);
          if (value && /^\d{1,3}$/.test(value)) copy.setAttribute(attr, value);
        }
        copySafe(child, copy);
        parent.append(copy);
      } else {
        copySafe(child, parent);
      }
    }
  }
}

export function safeTableHtml(html) {
  const doc = new DOMParser().parseFromString(String(html), "text/html");
  const out = document.createDocumentFragment();
  copySafe(doc.body, out);
  return out;
}
