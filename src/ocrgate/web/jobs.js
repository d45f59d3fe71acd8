// Jobs: a PDF, a multi-page TIFF or a set of files read in the background. The job id lives in the URL
// (#job=ID, with the page and the view), a progress bar follows the events stream, each page shows with
// its picture, boxes and own timings as soon as an engine has read it, a page can be corrected into ground
// truth, and the scorecard says which engine reads these pages best. Cancel stops the job; once it has
// ended its result downloads in every format the gateway writes.

import { ApiError, call, getBlob, getJSON, postForm } from "./api.js";
import { el } from "./dom.js";
import { jobDownloads } from "./downloads.js";
import { openEvents } from "./events.js";
import { failed, jobPageView, resultsOf } from "./jobpage.js";
import { readState, writeState } from "./params.js";
import { scorecardView } from "./scorecard.js";
import { TruthEditor } from "./truth.js";

const FINAL = new Set(["completed", "failed", "cancelled", "expired"]);
const THUMBNAILS = 60; // pages whose picture is fetched for the strip before they are opened
const RECONNECT_MS = 3000; // a stream cut before the job's end is opened again after this (EventSource's wait)

export class JobView {
  constructor({ panel, progress, status, cancel, result, onError, setBusy, onChange }) {
    Object.assign(this, { panel, progress, status, cancel, result, onError, setBusy, onChange });
    this.source = null;
    this.id = null;
    cancel.addEventListener("click", () => this.cancelJob());
  }

  // `fields`: more form fields (text_layer).
  async submit(files, backends, backendOptions, fields = {}) {
    const job = await postForm("/v1/jobs", {
      file: files, backend: backends.join(","), boxes: "none",
      backend_options: Object.keys(backendOptions).length ? JSON.stringify(backendOptions) : null, ...fields,
    });
    writeState({ job: job.id, page: null, view: null });
    await this.attach(job.id, job);
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
    this.id = null;
    this.panel.hidden = true;
    for (const promise of Object.values(this.images || {})) promise.then((u) => u && URL.revokeObjectURL(u), () => {});
    this.images = {};
  }

  async attach(id, known = null) {
    this.close();
    this.id = id;
    let job = known;
    try {
      job = job || (await getJSON(`/v1/jobs/${encodeURIComponent(id)}`));
      const truths = await getJSON(`/v1/jobs/${encodeURIComponent(id)}/truth`);
      this.truths = Object.fromEntries(truths.map((t) => [t.index, t]));
    } catch (exc) {
      this.id = null;
      this.onError(exc);
      return;
    }
    if (this.id !== id) return;
    Object.assign(this, { job, pages: {}, errors: {}, timings: {}, final: null, images: {}, card: null });
    for (const name of job.backends) { this.pages[name] = {}; this.errors[name] = {}; this.timings[name] = {}; }
    this.panel.hidden = false;
    this.cancel.disabled = FINAL.has(job.status);
    this.panel.querySelector(".job-name").textContent = `${job.name} · ${job.page_count} page(s) · ${job.backends.join(", ")}`;
    this.build();
    const state = readState();
    this.current = Math.min(job.page_count, state.page) - 1;
    this.update(job.status, job.progress);
    this.setBusy(!FINAL.has(job.status));
    this.showView(state.view);
    this.showPage(this.current);
    this.listen(id);
  }

  build() {
    const job = this.job;
    this.strip = el("nav", { class: "page-strip", "aria-label": "Pages of the job" });
    for (let i = 0; i < job.page_count; i += 1) {
      const item = el("button", { type: "button", class: "strip-item pending", "data-page": String(i) },
        el("span", { class: "thumb" }), el("span", { class: "strip-label", text: `${i + 1}. ${job.page_names[i] || `page ${i + 1}`}` }),
        el("span", { class: "strip-marks" }));
      item.addEventListener("click", () => this.showPage(i));
      this.strip.append(item);
    }
    this.detail = el("div", { class: "page-detail" });
    this.truthEditor = new TruthEditor(job.id, { onSaved: (i, truth) => this.truthSaved(i, truth), onError: this.onError });
    this.pagesPanel = el("div", { class: "pages-panel" }, this.strip, this.detail, this.truthEditor.element);
    this.cardPanel = el("div", { class: "scorecard-panel" });
    const tab = (view, text) => {
      const b = el("button", { type: "button", role: "tab", class: "tab", "data-view": view, text });
      b.addEventListener("click", () => this.showView(view));
      return b;
    };
    this.tabs = el("div", { class: "tabs", role: "tablist", "aria-label": "Job views" }, tab("pages", "Pages"), tab("scorecard", "Scorecard"));
    this.pageNote = el("span", { class: "muted page-of", "aria-live": "polite" });
    this.downloads = jobDownloads(job, { onError: this.onError });
    this.view = el("article", { class: "jobview", "aria-label": `Job ${job.name}` },
      el("header", { class: "result-head" }, el("h2", { text: `${job.name} — ${job.backends.join(" vs ")}`, tabindex: "-1" }),
        this.tabs, this.pageNote, this.downloads.element),
      this.pagesPanel, this.cardPanel);
    this.result.replaceChildren(this.view);
  }

  update(status, progress) {
    let done = 0;
    let total = 0;
    let failedCount = 0;
    const parts = [];
    let pagesDone = this.job.page_count;
    for (const [name, p] of Object.entries(progress || {})) {
      // an engine that reads the whole file reports its own count until its pages arrive
      const finished = Math.max(p.done, p.reported || 0) + p.failed;
      done += finished;
      failedCount += p.failed;
      total += p.total;
      pagesDone = Math.min(pagesDone, finished);
      parts.push(`${name} ${finished}/${p.total}`);
    }
    this.progress.max = Math.max(1, total);
    this.progress.value = done;
    this.progress.setAttribute("aria-valuetext", `${done} of ${total} page readings`);
    const detail = parts.length > 1 ? ` (${parts.join(", ")})` : "";
    this.status.textContent = `${status} — ${pagesDone} / ${this.job.page_count} pages${detail}${failedCount ? `, ${failedCount} failed` : ""}`;
    this.status.dataset.status = status;
  }

  // Follow the job's events until its `job` event; a stream cut before it is opened again (the pages
  // already done are replayed), unless the job has ended meanwhile.
  listen(id) {
    let ended = false;
    const events = openEvents(`/v1/jobs/${encodeURIComponent(id)}/events`, (type, text) => {
      const event = JSON.parse(text);
      if (type === "page") {
        this.update("running", event.progress);
        this.addPage(event);
      } else if (type === "progress") {
        this.update("running", event.progress);
      } else if (type === "job") {
        ended = true;
        events.close();
        this.update(event.status, event.progress);
        this.finish(id, event.status);
      }
    });
    this.source = events;
    const current = () => this.source === events && this.id === id;
    events.ended.then(
      () => {
        if (ended || !current()) return;
        getJSON(`/v1/jobs/${encodeURIComponent(id)}`).then(
          (job) => {
            if (!current()) return;
            this.update(job.status, job.progress);
            if (FINAL.has(job.status)) this.finish(id, job.status);
            else setTimeout(() => { if (current()) this.listen(id); }, RECONNECT_MS);
          },
          (exc) => { if (current()) { this.setBusy(false); this.onError(exc); } },
        );
      },
      (exc) => { if (current()) { this.source = null; this.setBusy(false); this.onError(exc); } },
    );
  }

  addPage(event) {
    if (!this.pages[event.backend]) return;
    if (event.page && !failed(event.page)) this.pages[event.backend][event.index] = event.page;
    if (event.timings) this.timings[event.backend][event.index] = event.timings;
    else this.errors[event.backend][event.index] = event.error || "no result";
    this.markPage(event.index);
    if (event.index === this.current) this.renderDetail();
  }

  // The page's picture as an object URL, fetched once (a promise; null when it cannot be had).
  image(index) {
    if (!this.images[index]) {
      const id = this.id;
      this.images[index] = getBlob(`/v1/jobs/${encodeURIComponent(id)}/pages/${index}/image`).then((blob) => URL.createObjectURL(blob), () => null);
    }
    return this.images[index];
  }

  pagesAt(index) {
    return Object.fromEntries(this.job.backends.map((n) => [n, this.pages[n][index] || null]));
  }

  errorsAt(index) {
    return Object.fromEntries(this.job.backends.filter((n) => this.errors[n][index]).map((n) => [n, this.errors[n][index]]));
  }

  markPage(index) {
    const item = this.strip.querySelector(`[data-page="${index}"]`);
    const names = this.job.backends;
    const read = names.filter((n) => this.pages[n][index]);
    const bad = names.filter((n) => this.errors[n][index]);
    item.classList.toggle("pending", read.length + bad.length < names.length);
    item.classList.toggle("done", read.length === names.length);
    item.classList.toggle("failed", bad.length > 0);
    item.classList.toggle("corrected", !!this.truths[index]);
    item.querySelector(".strip-marks").textContent = `${this.truths[index] ? "✓ truth · " : ""}${read.length}/${names.length}`;
    item.title = `${read.length ? `read by ${read.join(", ")}` : "not read yet"}${bad.length ? `; failed on ${bad.join(", ")}` : ""}${this.truths[index] ? "; corrected" : ""}`;
    const thumb = item.querySelector(".thumb");
    if (read.length && !thumb.firstChild && (index < THUMBNAILS || index === this.current)) {
      this.image(index).then((src) => { if (src && !thumb.firstChild) thumb.append(el("img", { src, alt: "" })); });
    }
  }

  showPage(index) {
    if (!this.job) return;
    this.current = Math.min(Math.max(0, index), this.job.page_count - 1);
    writeState({ page: this.current ? this.current + 1 : null });
    for (const item of this.strip.children) {
      const on = Number(item.dataset.page) === this.current;
      item.classList.toggle("current", on);
      if (on) item.setAttribute("aria-current", "page");
      else item.removeAttribute("aria-current");
    }
    this.pageNote.textContent = `Page ${this.current + 1} of ${this.job.page_count}`;
    this.renderDetail(true);
    this.strip.querySelector(`[data-page="${this.current}"]`)?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  renderDetail(moved = false) {
    const index = this.current;
    const pages = this.pagesAt(index);
    const timings = Object.fromEntries(this.job.backends.map((n) => [n, this.timings[n][index] || null]));
    this.detail.replaceChildren(jobPageView(this.job, index, { pages, errors: this.errorsAt(index), timings, result: this.final, image: this.image(index) }));
    const readers = this.job.backends.filter((n) => pages[n] && !failed(pages[n])).join(",");
    const stale = this.truthEditor.index !== index || this.truthEditor.readers !== readers;
    if (moved || (stale && !this.truthEditor.dirty)) this.truthEditor.show(index, pages, this.truths[index] || null);
  }

  truthSaved(index, truth) {
    if (truth) this.truths[index] = truth;
    else delete this.truths[index];
    this.markPage(index);
    if (this.viewName === "scorecard") this.refreshScorecard();
  }

  showView(view) {
    this.viewName = view === "scorecard" ? "scorecard" : "pages";
    writeState({ view: this.viewName === "pages" ? null : this.viewName });
    for (const tab of this.tabs.children) tab.setAttribute("aria-selected", String(tab.dataset.view === this.viewName));
    this.pagesPanel.hidden = this.viewName !== "pages";
    this.cardPanel.hidden = this.viewName !== "scorecard";
    if (this.viewName === "scorecard") this.refreshScorecard();
  }

  async refreshScorecard() {
    const id = this.id;
    try {
      const card = await getJSON(`/v1/jobs/${encodeURIComponent(id)}/scorecard`);
      if (this.id !== id) return;
      this.cardPanel.replaceChildren(scorecardView(card, { onPage: (i) => { this.showView("pages"); this.showPage(i); }, onError: this.onError }));
    } catch (exc) {
      this.onError(exc);
    }
  }

  async finish(id, status) {
    if (this.id !== id) return;
    this.cancel.disabled = true;
    this.setBusy(false);
    this.onChange();
    if (status !== "expired") this.downloads.ready(true);
    if (status === "expired") {
      this.onError(new ApiError("not_found", "this job has expired", 404));
      return;
    }
    try {
      const result = await getJSON(`/v1/jobs/${encodeURIComponent(id)}/result`);
      if (this.id !== id) return;
      this.final = result;
      for (const [name, response] of Object.entries(resultsOf(result))) {
        for (const page of response.pages || []) if (!failed(page)) this.pages[name][page.index] = page;
      }
      this.renderDetail();
      if (this.viewName === "scorecard") this.refreshScorecard();
    } catch (exc) {
      if (status !== "cancelled") this.onError(exc);
    }
  }

  async cancelJob() {
    if (!this.id) return;
    const id = this.id;
    this.cancel.disabled = true;
    try {
      const job = await call(`/v1/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (this.id !== id) return;
      this.update(job.status, job.progress);
      this.onChange(); // the recent jobs say cancelled now, whenever the stream's end arrives
    } catch (exc) {
      this.onError(exc);
    }
  }
}
