// The backend chooser: each backend's health and workers, a checkbox, and its options (options.js).
// The choice and the options live in the URL (params.js); the gateway's default backend is chosen first.

import { getJSON } from "./api.js";
import { el } from "./dom.js";
import { optionsForm } from "./options.js";
import { readState, writeState } from "./params.js";

function deviceText(worker) {
  const h = worker.health || {};
  const gpus = (h.device && h.device.gpus) || [];
  if (gpus.length) return gpus.map((g) => g.name || `GPU ${g.index ?? g.id ?? ""}`).join(", ");
  return (h.engine && h.engine.device) || "cpu";
}

export class BackendPicker {
  constructor(list, onError) {
    this.list = list;
    this.onError = onError;
    this.forms = {};
    this.list.addEventListener("change", (e) => {
      if (e.target.matches('input[name="backend"]')) this.sync(e.target);
    });
  }

  async load() {
    const state = readState();
    const before = this.chosen();
    const values = { ...state.options, ...this.backendOptions() };
    let backends;
    try {
      backends = await getJSON("/v1/backends");
    } catch (exc) {
      this.list.replaceChildren(el("li", { class: "muted", text: "Could not list the backends." }));
      this.onError(exc);
      return;
    }
    const wanted = before.length ? before : state.backends;
    const fallback = backends.find((b) => b.default && b.healthy) || backends.find((b) => b.healthy) || backends[0];
    this.forms = {};
    this.list.replaceChildren();
    for (const b of backends) {
      const id = `backend-${b.name}`;
      const devices = [...new Set(b.workers.map(deviceText))].join(", ") || "no worker";
      const healthy = b.workers.filter((w) => w.healthy).length;
      const input = el("input", { type: "checkbox", id, name: "backend", value: b.name });
      input.checked = wanted ? wanted.includes(b.name) : b === fallback;
      const schema = b.info && b.info.options_schema;
      const form = optionsForm(b.name, schema, values[b.name] || {}, () => this.save());
      this.forms[b.name] = form;
      const details = el("details", { class: "backend-options", "data-backend": b.name },
        el("summary", { class: "small-text", text: `${b.name} options${schema ? "" : " (not described yet)"}` }), form.element);
      if (form.values && Object.keys(form.values()).length) details.open = true;
      details.hidden = !input.checked;
      this.list.append(el("li", { "data-backend": b.name },
        el("div", { class: "backend-row" },
          input,
          el("label", { for: id },
            el("span", { class: "name", text: b.name }),
            b.default ? el("span", { class: "badge default", text: "default" }) : null,
            el("span", { class: `badge ${b.healthy ? "ok" : "down"}`, text: b.healthy ? "healthy" : "down" }),
            el("span", { class: "muted small-text", text: `${devices} · ${healthy}/${b.workers.length} workers · queue ${b.queue_depth}/${b.capacity}` }))),
        details));
    }
    if (!this.chosen().length && backends.length) this.list.querySelector("input").checked = true;
    this.save();
  }

  sync(input) {
    const details = this.list.querySelector(`details[data-backend="${input.value}"]`);
    if (details) details.hidden = !input.checked;
    this.save();
  }

  save() {
    writeState({ backends: this.chosen(), options: this.backendOptions() });
  }

  chosen() {
    return [...this.list.querySelectorAll('input[name="backend"]:checked')].map((i) => i.value);
  }

  // The chosen backends' own options that are set: {backend: {option: value}}.
  backendOptions() {
    const out = {};
    for (const name of this.chosen()) {
      const values = this.forms[name] ? this.forms[name].values() : {};
      if (Object.keys(values).length) out[name] = values;
    }
    return out;
  }

  valid() {
    return this.chosen().every((name) => !this.forms[name] || this.forms[name].valid());
  }
}
