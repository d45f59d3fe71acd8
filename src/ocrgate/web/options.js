// A backend's request options as form controls, generated from the JSON Schema its workers publish
// (GET /v1/backends: info.options_schema; pydantic's draft 2020-12 output): an enum is a select, a number
// or integer an input with its minimum and maximum, a boolean a checkbox, a string a text input. Only
// what the person sets is sent; an empty control means the backend's default.

import { el } from "./dom.js";

function resolve(schema, root) {
  let node = schema || {};
  for (let depth = 0; node.$ref && depth < 8; depth += 1) {
    const name = String(node.$ref).replace(/^#\/(\$defs|definitions)\//, "");
    node = { ...((root.$defs || root.definitions || {})[name] || {}), ...node, $ref: undefined };
  }
  if (Array.isArray(node.anyOf)) {
    const kinds = node.anyOf.map((s) => resolve(s, root)).filter((s) => s.type !== "null");
    if (kinds.length === 1) return { ...kinds[0], ...node, anyOf: undefined, type: kinds[0].type, nullable: true };
  }
  if (Array.isArray(node.type)) {
    const kinds = node.type.filter((t) => t !== "null");
    if (kinds.length === 1) return { ...node, type: kinds[0], nullable: node.type.includes("null") };
  }
  return node;
}

function control(id, prop, spec, value) {
  const hint = [spec.description, spec.default !== undefined && spec.default !== null ? `default ${JSON.stringify(spec.default)}` : ""].filter(Boolean).join("; ");
  const common = { id, name: prop, "data-option": prop, title: hint || null };
  if (Array.isArray(spec.enum)) {
    const select = el("select", common, el("option", { value: "", text: spec.default !== undefined && spec.default !== null ? `default (${spec.default})` : "default" }));
    spec.enum.forEach((option, i) => select.append(el("option", { value: String(i), text: String(option) })));
    const at = spec.enum.findIndex((o) => o === value);
    if (at >= 0) select.value = String(at);
    return { node: select, read: () => (select.value === "" ? undefined : spec.enum[Number(select.value)]) };
  }
  if (spec.type === "number" || spec.type === "integer") {
    const min = spec.minimum ?? (spec.exclusiveMinimum !== undefined ? spec.exclusiveMinimum + (spec.type === "integer" ? 1 : 0) : undefined);
    const max = spec.maximum ?? (spec.exclusiveMaximum !== undefined ? spec.exclusiveMaximum - (spec.type === "integer" ? 1 : 0) : undefined);
    const input = el("input", { ...common, type: "number", min, max, step: spec.type === "integer" ? "1" : "any", placeholder: spec.default ?? "default", inputmode: "decimal" });
    if (typeof value === "number") input.value = String(value);
    return { node: input, read: () => (input.value === "" || !input.checkValidity() ? undefined : Number(input.value)) };
  }
  if (spec.type === "boolean") {
    const input = el("input", { ...common, type: "checkbox" });
    const fallback = spec.default === true;
    input.checked = typeof value === "boolean" ? value : fallback;
    return { node: input, read: () => (input.checked === fallback ? undefined : input.checked) };
  }
  if (spec.type === "string") {
    const input = el("input", { ...common, type: "text", placeholder: spec.default ?? "default", maxlength: spec.maxLength, minlength: spec.minLength });
    if (typeof value === "string") input.value = value;
    return { node: input, read: () => (input.value.trim() === "" ? undefined : input.value) };
  }
  return null; // arrays and objects: not settable here (the API takes them)
}

// The form for one backend: {element, values(), valid()}; `initial` holds values to start with.
export function optionsForm(backend, schema, initial = {}, onChange = () => {}) {
  const root = schema || {};
  const fields = [];
  const list = el("div", { class: "options-fields" });
  for (const [prop, raw] of Object.entries(root.properties || {})) {
    const spec = resolve(raw, root);
    const id = `opt-${backend}-${prop}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const made = control(id, prop, spec, initial[prop]);
    if (!made) continue;
    made.node.addEventListener("change", onChange);
    made.node.addEventListener("input", onChange);
    fields.push([prop, made]);
    const label = el("label", { for: id, text: spec.title || prop });
    const row = el("div", { class: `option option-${spec.type || "enum"}` }, label, made.node);
    if (spec.description) row.append(el("span", { class: "muted small-text option-help", text: spec.description }));
    list.append(row);
  }
  if (!fields.length) list.append(el("p", { class: "muted small-text", text: "This backend takes no options." }));
  const values = () => {
    const out = {};
    for (const [prop, made] of fields) {
      const value = made.read();
      if (value !== undefined) out[prop] = value;
    }
    return out;
  };
  const valid = () => fields.every(([, made]) => !made.node.checkValidity || made.node.reportValidity());
  return { element: list, values, valid, count: fields.length };
}

// The `text_layer` form field (README, "PDF text layers instead of OCR"): what a PDF page's own text layer
// is used for. Left alone it shows what the gateway does when the field is not set: `auto` for one
// engine, `never` when several are compared (each engine reads every page); once the person picks a
// value, that value stays. {element, value(), comparing(several), chosen()}.
const TEXT_LAYER = [
  ["auto", "Auto: a reliable text layer instead of OCR"],
  ["never", "Engines read every page (never)"],
  ["only", "Text layer only (no OCR)"],
];

export function textLayerControl(initial = null, onChange = () => {}) {
  const select = el("select", { id: "text-layer", name: "text_layer" },
    ...TEXT_LAYER.map(([value, text]) => el("option", { value, text })));
  const hint = el("p", { class: "muted small-text text-layer-hint", id: "text-layer-hint" });
  select.setAttribute("aria-describedby", hint.id);
  let picked = TEXT_LAYER.some(([value]) => value === initial) ? initial : null;
  let several = false;
  const show = () => {
    select.value = picked || (several ? "never" : "auto");
    hint.textContent = picked
      ? "Your choice for PDF pages."
      : several
        ? "Default when comparing: every engine reads every page, so the engines are compared, not the PDF's own text."
        : "Default: a page with a reliable text layer is read from it, without OCR.";
  };
  select.addEventListener("change", () => {
    picked = select.value;
    show();
    onChange(picked);
  });
  show();
  const element = el("fieldset", { class: "text-layer" },
    el("legend", { text: "PDF text layer" }), el("label", { class: "visually-hidden", for: select.id, text: "PDF text layer" }), select, hint);
  return {
    element,
    value: () => select.value,
    chosen: () => picked,
    comparing(value) {
      several = !!value;
      show();
    },
  };
}
