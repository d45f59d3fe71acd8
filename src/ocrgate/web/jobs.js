// PDFs and multi-page TIFFs go through jobs: the job id lives in the URL (#job=ID), a progress bar
// follows the events stream, pages appear as they finish, Cancel deletes the job.

import { ApiError, call, getJSON, postForm, url } from "./api.js";
import { compareView } from "./compare.js";
import { el, pageView, resultView } from "./render.js";

const FINAL = new Set(["completed", "failed", "cancelled", "expired"]);

export class JobView {
  constructor({ panel, progress, status, cancel, result, onError, setBusy }) {
    Object.assign(this, { panel, progress, status, cancel, result, onError, setBusy });
    this.source = null;
    this.id = null;
    cancel.addEventListener("click", () => this.cancelJob());
  }

  async submit(file, backends) {
    const job = await postForm("/v1/jobs", { file, backend: backends.join(","), boxes: "all" });
    history.replaceState(null, "", `${location.pathname}${location.search}#job=${encodeURIComponent(job.id)}`);
    this.attach(job.id, job);
  }

  close() {
    if (this.source) this.source.close();
    this.source = null;
    this.id = null;
    this.panel.hidden = true;
  }

  async attach(id, known = null) {
    this.close();
    this.id = id;
    let job = known;
    if (!job) {
      try {
        job = await getJSON(`/v1/jobs/${encodeURIComponent(id)}`);
      } catch (exc) {
        this.id = null;
        this.onError(exc);
        return;
      }
    }
    this.panel.hidden = false;
    this.cancel.disabled = FINAL.has(job.status);
    this.panel.querySelector(".job-name").textContent = `${job.name} · ${job.page_count} page(s) · ${job.backends.join(", ")}`;
    this.sections = {};
    this.result.replaceChildren();
    for (const name of job.backends) {
      const section = el("section", { class: "job-backend", "aria-label": `Pages from ${name}` }, el("h2", { text: `${job.name} — ${name}` }));
      this.sections[name] = section;
      this.result.append(section);
    }
    this.update(job.status, job.progress);
    this.setBusy(!FINAL.has(job.status));
    this.listen(id);
  }

  update(status, progress) {
    let done = 0;
    let total = 0;
    let failed = 0;
    for (const p of Object.values(progress || {})) {
      // an engine that reads the whole file reports its own count until its pages arrive
      done += Math.max(p.done, p.reported || 0) + p.failed;
      failed += p.failed;
      total += p.total;
    }
    this.progress.max = Math.max(1, total);
    this.progress.value = done;
    this.progress.setAttribute("aria-valuetext", `${done} of ${total} pages`);
    this.status.textContent = `${status} — ${done} / ${total} pages${failed ? ` (${failed} failed)` : ""}`;
  }

  listen(id) {
    const source = new EventSource(url(`/v1/jobs/${encodeURIComponent(id)}/events`));
    this.source = source;
    source.addEventListener("page", (message) => {
      const event = JSON.parse(message.data);
      this.update(event.status, event.progress);
      this.addPage(event);
    });
    source.addEventListener("progress", (message) => {
      const event = JSON.parse(message.data);
      this.update(event.status, event.progress);
    });
    source.addEventListener("job", (message) => {
      const event = JSON.parse(message.data);
      source.close();
      this.update(event.status, event.progress);
      this.finish(id, event.status);
    });
    source.addEventListener("error", () => {
      // The browser reconnects by itself while the job runs; a closed stream means it is gone.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.source = null;
        getJSON(`/v1/jobs/${encodeURIComponent(id)}`).then(
          (job) => { this.update(job.status, job.progress); if (FINAL.has(job.status)) this.finish(id, job.status); },
          (exc) => { this.setBusy(false); this.onError(exc); },
        );
      }
    });
  }

  addPage(event) {
    const section = this.sections[event.backend];
    if (!section) return;
    if (event.error || !event.page) {
      section.append(el("p", { class: "error-inline", text: `Page ${event.index + 1} failed: ${event.error || "no result"}` }));
      return;
    }
    if (section.querySelector(`.page[data-page="${event.page.index}"]`)) return; // replayed twice
    const view = pageView(event.page, { base: event.backend });
    const after = [...section.querySelectorAll(".page")].find((p) => Number(p.dataset.page) > event.page.index);
    section.insertBefore(view, after || null);
  }

  async finish(id, status) {
    if (this.id !== id) return;
    this.cancel.disabled = true;
    this.setBusy(false);
    if (status === "expired") {
      this.onError(new ApiError("not_found", "this job has expired", 404));
      return;
    }
    try {
      const result = await getJSON(`/v1/jobs/${encodeURIComponent(id)}/result`);
      if (this.id !== id) return;
      const view = result.results ? compareView(result) : resultView(result);
      this.result.replaceChildren(view);
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
      this.update(job.status, job.progress);
    } catch (exc) {
      this.onError(exc);
    }
  }
}
