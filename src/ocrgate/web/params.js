// What the page shows, kept in the URL's fragment so a reload (or the link, sent on) shows it again:
// `backends` (a comma list), `options` (JSON: backend -> its options), `text_layer` (the person's own
// choice of the form field; absent: the gateway's default), `job` (a job id), `page` (1-based) and `view`
// (`pages` or `scorecard`).

export function readState() {
  const params = new URLSearchParams(location.hash.slice(1));
  let options = {};
  try {
    options = JSON.parse(params.get("options") || "{}") || {};
  } catch {
    options = {};
  }
  const backends = params.get("backends");
  return {
    job: params.get("job"),
    backends: backends === null ? null : backends.split(",").filter(Boolean),
    options: typeof options === "object" && !Array.isArray(options) ? options : {},
    textLayer: params.get("text_layer"),
    page: Math.max(1, Number(params.get("page")) || 1),
    view: params.get("view") || "pages",
  };
}

// Set (or, with null / "" / an empty object, remove) keys of the fragment, without a new history entry.
export function writeState(updates) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, value] of Object.entries(updates)) {
    const empty = value === null || value === undefined || value === "" || (typeof value === "object" && !Object.keys(value).length);
    if (empty) params.delete(key);
    else params.set(key, Array.isArray(value) ? value.join(",") : typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const hash = params.toString();
  history.replaceState(null, "", `${location.pathname}${location.search}${hash ? `#${hash}` : ""}`);
}
