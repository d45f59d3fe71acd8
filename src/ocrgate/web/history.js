// Recent jobs (GET /v1/jobs): name, status, pages and engines; choosing one opens it.

import { getJSON } from "./api.js";
import { el } from "./dom.js";

function ago(seconds) {
  const delta = Math.max(0, Date.now() / 1000 - seconds);
  if (delta < 60) return "just now";
  if (delta < 3600) return `${Math.round(delta / 60)} min ago`;
  if (delta < 86400) return `${Math.round(delta / 3600)} h ago`;
  return new Date(seconds * 1000).toLocaleDateString();
}

export class RecentJobs {
  constructor(list, onOpen) {
    this.list = list;
    this.onOpen = onOpen;
    this.asked = 0;
  }

  // Only the answer to the latest call is shown: an earlier, slower one (asked before a cancel, say)
  // would put a stale status back.
  async load(current = null) {
    this.asked += 1;
    const asked = this.asked;
    let jobs;
    try {
      jobs = await getJSON("/v1/jobs?limit=15");
    } catch {
      if (asked === this.asked) this.list.replaceChildren(el("li", { class: "muted", text: "Could not list the jobs." }));
      return;
    }
    if (asked !== this.asked) return;
    this.list.replaceChildren();
    for (const job of jobs) {
      const open = el("button", { type: "button", class: "link job-link", "data-job": job.id, text: job.name });
      if (job.id === current) open.setAttribute("aria-current", "true");
      open.addEventListener("click", () => this.onOpen(job.id));
      this.list.append(el("li", {}, open,
        el("span", { class: `badge status-${job.status}`, text: job.status }),
        el("span", { class: "muted small-text", text: `${job.page_count} p. · ${job.backends.join(", ")} · ${ago(job.created_at)}` })));
    }
    if (!jobs.length) this.list.append(el("li", { class: "muted small-text", text: "No jobs yet." }));
  }
}
