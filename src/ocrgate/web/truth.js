// Correcting one engine's reading of a page into its ground truth: a text area seeded with that engine's
// text, saved with the job on the gateway (PUT /v1/jobs/{id}/truth/{page}), so it survives a reload and is
// the same in every browser. The scorecard scores every engine against it.

import { call, sendJSON } from "./api.js";
import { el } from "./dom.js";
import { pageText } from "./lines.js";

const when = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

export class TruthEditor {
  // `onSaved(index, truth|null)` after a save or a removal; `onError(exc)` on a failed call.
  constructor(jobId, { onSaved, onError }) {
    this.jobId = jobId;
    this.onSaved = onSaved;
    this.onError = onError;
    this.index = null;
    this.element = el("section", { class: "truth", "aria-label": "Ground truth for this page" });
  }

  get dirty() {
    return !!this.area && this.area.value !== this.baseline;
  }

  // Show page `index`: its truth, else the text of the first engine in `pages` ({name: page}) to start from.
  show(index, pages, truth) {
    this.index = index;
    const readers = Object.keys(pages).filter((n) => pages[n] && !(pages[n].flags || []).some((f) => f.startsWith("failed")));
    const seed = truth && truth.backend && readers.includes(truth.backend) ? truth.backend : readers[0];
    this.readers = readers.join(",");
    this.truth = truth;
    this.status = el("p", { class: "truth-status small-text", "aria-live": "polite" });
    this.area = el("textarea", { class: "truth-text", rows: "12", spellcheck: "false", "aria-label": `Ground truth of page ${index + 1}` });
    this.area.value = truth ? truth.text : seed ? pageText(pages[seed]) : "";
    this.baseline = this.area.value; // what "unsaved" is measured against: the truth, or the untouched seed
    this.from = el("select", { class: "truth-from small", "aria-label": "Engine to start from" }, ...readers.map((n) => el("option", { value: n, text: n })));
    if (seed) this.from.value = seed;
    const reseed = el("button", { type: "button", class: "small", text: "Start again from its reading" });
    reseed.addEventListener("click", () => {
      if (this.from.value) this.area.value = pageText(pages[this.from.value]);
      if (!this.truth) this.baseline = this.area.value;
      this.area.focus();
      this.describe(this.truth);
    });
    const save = el("button", { type: "button", class: "primary-inline truth-save", text: "Save as ground truth" });
    save.addEventListener("click", () => this.save());
    const remove = el("button", { type: "button", class: "small truth-remove", text: "Remove the truth" });
    remove.hidden = !truth;
    remove.addEventListener("click", () => this.remove());
    this.area.addEventListener("input", () => this.describe(this.truth));
    this.area.addEventListener("keydown", (e) => {
      if ((e.ctrlKey || e.metaKey) && (e.key === "Enter" || e.key === "s")) { e.preventDefault(); this.save(); }
    });
    this.element.replaceChildren(
      el("header", { class: "truth-head" }, el("h3", { text: "Ground truth" }),
        el("label", { class: "small-text" }, "Start from ", this.from), reseed),
      el("p", { class: "muted small-text", text: "Correct the text so it reads exactly as the page does (one line a line), then save: the scorecard scores every engine against it." }),
      this.area, el("div", { class: "truth-actions" }, save, remove), this.status);
    this.element.dataset.page = String(index);
    this.element.classList.toggle("has-truth", !!truth);
    this.describe(this.truth);
    if (!readers.length) this.area.placeholder = "No engine has read this page yet; you can type its text.";
  }

  describe(truth) {
    if (this.dirty) this.status.textContent = "Unsaved changes (Ctrl+Enter saves).";
    else if (truth) this.status.textContent = `Saved at ${when(truth.updated_at)}${truth.backend ? `, corrected from ${truth.backend}` : ""}.`;
    else this.status.textContent = "Not corrected yet.";
  }

  async save() {
    const index = this.index;
    try {
      const truth = await sendJSON(`/v1/jobs/${encodeURIComponent(this.jobId)}/truth/${index}`, "PUT", { text: this.area.value, backend: this.from.value || null });
      if (this.index !== index) return;
      this.truth = truth;
      this.baseline = truth.text;
      this.element.classList.add("has-truth");
      this.element.querySelector(".truth-remove").hidden = false;
      this.describe(truth);
      this.onSaved(index, truth);
    } catch (exc) {
      this.onError(exc);
    }
  }

  async remove() {
    const index = this.index;
    try {
      await call(`/v1/jobs/${encodeURIComponent(this.jobId)}/truth/${index}`, { method: "DELETE" });
      this.truth = null;
      this.baseline = this.area.value;
      this.element.classList.remove("has-truth");
      this.element.querySelector(".truth-remove").hidden = true;
      this.describe(null);
      this.onSaved(index, null);
    } catch (exc) {
      this.onError(exc);
    }
  }
}
