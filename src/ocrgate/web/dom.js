// Building the page safely: elements from tag, attributes and children, never from HTML strings.

let uid = 0;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

export function nextId(prefix = "u") {
  uid += 1;
  return `${prefix}${uid}`;
}

export function download(name, content, type) {
  const blob = content instanceof Blob ? content : new Blob([content], { type });
  const href = URL.createObjectURL(blob);
  const a = el("a", { href, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 5000);
}

export function stem(name) {
  return String(name || "result").replace(/\.[^.]+$/, "") || "result";
}

export const fixed = (value, digits = 3) => (value === null || value === undefined ? "–" : Number(value).toFixed(digits));
export const percent = (value) => (value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`);
