// The gateway's API key (`api_keys` in its config): asked for in the key dialog when the gateway answers
// 401 (or from the "API key" button), kept for this tab only (sessionStorage: gone when the tab closes)
// and sent as `X-API-Key` on every /v1 call, the header the gateway reads (gateway/auth.py).

const STORAGE = "ocrgate.api-key";
export const KEY_HEADER = "X-API-Key";

export function apiKey() {
  try {
    return sessionStorage.getItem(STORAGE) || "";
  } catch {
    return ""; // storage switched off: the key is asked for again
  }
}

function keep(key) {
  try {
    if (key) sessionStorage.setItem(STORAGE, key);
    else sessionStorage.removeItem(STORAGE);
  } catch {
    /* storage switched off */
  }
  document.dispatchEvent(new CustomEvent("ocrgate:api-key", { detail: { set: !!key } }));
}

// `headers` (an object) with the key added when there is one.
export function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, [KEY_HEADER]: key } : { ...headers };
}

let asking = null;
let declined = false; // the person closed the dialog: no more asking on every 401 until they press the button

// Open the key dialog; a promise of the key entered, or null when it was cancelled or forgotten.
// `refused`: the key sent was refused (the dialog says so). Several 401s at once share one dialog.
export function askForKey({ refused = false, asked = false } = {}) {
  if (declined && !asked) return Promise.resolve(null);
  if (!asking) {
    asking = showDialog(refused).then(({ action, key }) => {
      asking = null;
      declined = action !== "save" && action !== "forget"; // cancelled, or closed with Escape
      return key;
    });
  }
  return asking;
}

function showDialog(refused) {
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  const note = document.getElementById("key-note");
  if (!dialog || typeof dialog.showModal !== "function") return Promise.resolve({ action: "", key: null });
  note.textContent = refused
    ? "The gateway refused this key. Enter a valid one."
    : "This gateway needs an API key. It is kept for this tab only, and sent with every request.";
  input.value = apiKey();
  dialog.returnValue = "";
  // "Use this key" is the form's only submit button, so Enter in the key field uses the key (a form's
  // implicit submission clicks its first submit button); "Forget" and "Cancel" act only on their own click.
  for (const button of dialog.querySelectorAll('button[type="button"][value]')) {
    button.onclick = () => dialog.close(button.value);
  }
  dialog.showModal();
  input.focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const action = dialog.returnValue;
      const key = action === "save" ? input.value.trim() : "";
      if (action === "forget") keep("");
      else if (key) keep(key);
      resolve({ action, key: key || null });
    }, { once: true });
  });
}
