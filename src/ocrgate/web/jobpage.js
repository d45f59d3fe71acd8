// One page of a job on screen: its picture (GET /v1/jobs/{id}/pages/{n}/image, fetched once) with every
// engine's boxes as soon as that engine finished the page; line by line when the job has several engines.

import { comparePage } from "./compare.js";
import { el } from "./dom.js";
import { jobStem } from "./downloads.js";
import { pageView, rawFor, timingsView } from "./render.js";

export const failed = (page) => !page || (page.flags || []).some((f) => f.startsWith("failed"));

// `{backend: response}` of a job's result (one backend's answer, or a comparison's).
export function resultsOf(result) {
  if (!result) return {};
  return result.results ? result.results : { [result.backend]: result };
}

// The page `index` of a job: `pages` {backend: page|null}, `errors` {backend: message}, `timings` {backend:
// this page's own stage timings (its `page` event's), or null}, `result` the job's result once it ended (raw
// output), `image` a promise of the page picture's URL.
export function jobPageView(job, index, { pages, errors, timings = {}, result, image }) {
  const names = job.backends;
  const results = resultsOf(result);
  const done = names.filter((n) => pages[n]);
  if (!done.length && !Object.keys(errors).length) {
    return el("p", { class: "muted waiting", text: `Page ${index + 1} is not read yet; it appears here as soon as an engine has read it.` });
  }
  if (names.length === 1) {
    const name = names[0];
    const page = pages[name];
    if (!page || failed(page)) return el("p", { class: "error-inline", text: `Page ${index + 1} failed: ${errors[name] || (page && page.flags.join("; ")) || "no result"}` });
    const response = results[name] || { backend: name, pages: [page] };
    const view = pageView(page, { response, imageSrc: image, base: jobStem(job.name), pages: job.page_count });
    if (timings[name]) view.querySelector(".page-head").append(timingsView({ timings: timings[name] }));
    return view;
  }
  const raws = {};
  for (const name of names) {
    const response = results[name];
    if (response && pages[name]) raws[name] = rawFor(response, pages[name]);
  }
  const shown = Object.fromEntries(names.map((n) => [n, failed(pages[n]) ? null : pages[n]]));
  const own = Object.fromEntries(names.filter((n) => timings[n]).map((n) => [n, timings[n]]));
  return comparePage({ names, pages: shown, raws, timings: own, errors, imageSrc: image, base: jobStem(job.name), pageCount: job.page_count });
}
