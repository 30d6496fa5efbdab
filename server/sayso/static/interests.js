// The topic browser without page reloads. Without this script every add and remove is a
// plain POST form and every category and search a plain link or GET form (the page
// reloads); with it, the same requests are sent with fetch, asking for JSON, and the
// browser's part of the page (#interest-browser) is replaced by the HTML the server
// rendered, so there is one template for both. Focus stays where the person was: on the
// same topic's button (now "Remove" after "Add"), else on the list of chosen interests.

const root = document.getElementById("interest-browser");
const status = document.getElementById("interest-status");

function focusAfter(key, fallback) {
  const same = key && root.querySelector(`[data-focus="${CSS.escape(key)}"]`);
  const errors = root.querySelector("#errors");
  const target = errors || same || root.querySelector(fallback) || root.querySelector("#chosen-heading");
  if (target) target.focus();
}

async function swap(url, options, key, fallback) {
  let response;
  try {
    response = await fetch(url, {
      ...options,
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
  } catch {
    // The server wrote this in the page's language (edit_interests.html).
    status.textContent = status.dataset.offline;
    return false;
  }
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("application/json")) {
    // Signed out, or an error page: let the browser show it as without script.
    window.location.assign(response.url);
    return false;
  }
  const body = await response.json();
  root.innerHTML = body.html;
  status.textContent = body.message || (body.errors || []).join(" ");
  focusAfter(key, fallback);
  return true;
}

root.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.classList.contains("js-interest")) {
    event.preventDefault();
    const button = event.submitter || form.querySelector("button");
    swap(form.action, { method: "POST", body: new FormData(form) }, button && button.dataset.focus);
  } else if (form.classList.contains("js-search")) {
    event.preventDefault();
    const url = new URL(form.action);
    url.hash = "";
    const q = new FormData(form).get("q") || "";
    if (q) url.searchParams.set("q", q);
    swap(url, { method: "GET" }, null, "#topic-search").then((ok) => {
      if (ok) history.pushState({}, "", url.toString() + "#search");
    });
  }
});

root.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-browse]");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  const url = new URL(link.href);
  url.hash = "";
  swap(url, { method: "GET" }, null, "#browse-heading").then((ok) => {
    if (ok) history.pushState({}, "", link.href);
  });
});

// Back and forward after a category or search opened without reload: show that view.
window.addEventListener("popstate", () => {
  const url = new URL(window.location.href);
  url.hash = "";
  swap(url, { method: "GET" }, null, "#browse-heading");
});
