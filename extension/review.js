// Review: the categories with enough evidence, the sites that led to each (on the device
// only); remove a site or a category, block a category, share, forget.
import { ask } from "./lib/browser.js";
import { counted } from "./lib/labels.js";
import { $, el, explain, say } from "./lib/ui.js";

/** Exactly what the page shows now, as Share sends it: topic ids with the weights drawn. */
let shown = [];

/**
 * How sure the classifier was, in words.
 * @param {number} confidence in [0, 1]
 */
function sureness(confidence) {
  if (confidence >= 0.8) return "pages clearly about it";
  if (confidence >= 0.5) return "pages mostly about it";
  return "pages partly about it";
}

function siteRow(site, visits) {
  const row = el("li");
  row.dataset.site = site;
  row.append(el("span", `${site} (${counted(visits, "visit")})`, { className: "site" }));
  const remove = el("button", "Remove site", { className: "remove-site" });
  remove.setAttribute("aria-label", `Remove site ${site} from every category`);
  remove.addEventListener("click", () => run({ type: "removeSite", site }, `${site} removed.`));
  row.append(remove);
  return row;
}

function categoryRow(row) {
  const item = el("li");
  item.dataset.topicId = String(row.topicId);
  const head = el("div", "", { className: "head" });
  head.append(el("span", row.name, { className: "name" }),
    el("span", `shared with weight ${row.weight}`, { className: "hint weight" }));
  const facts = `Seen on ${counted(row.days, "day")}: ${counted(row.visits, "visit")} to ` +
    `${counted(row.sites.length, "site")}, ${sureness(row.confidence)}`;
  item.append(head, el("p", facts, { className: "hint evidence" }));
  item.append(el("p", "Because of:", { className: "hint" }));
  const sites = el("ul", "", { className: "sites" });
  for (const { site, visits } of row.sites) sites.append(siteRow(site, visits));
  item.append(sites);
  const actions = el("div", "", { className: "actions" });
  const remove = el("button", "Remove category", { className: "remove" });
  remove.setAttribute("aria-label", `Remove category ${row.name}`);
  remove.addEventListener("click", () =>
    run({ type: "remove", topicId: row.topicId }, `${row.name} removed.`));
  const block = el("button", "Block", { className: "block", title: "Remove and never count again" });
  block.setAttribute("aria-label", `Block ${row.name}: remove it and never count it again`);
  block.addEventListener("click", () =>
    run({ type: "block", topicId: row.topicId }, `${row.name} blocked.`));
  actions.append(remove, block);
  item.append(actions);
  return item;
}

function render(view) {
  $("off").hidden = view.recording;
  $("top").replaceChildren(...view.top.map(categoryRow));
  shown = view.top.map((row) => ({ topic_id: row.topicId, weight: row.weight }));
  $("empty").hidden = view.top.length > 0;
  $("share").disabled = view.top.length === 0;
  const waiting = view.waiting || 0;
  $("waiting").textContent = waiting
    ? `${counted(waiting, "more category", "more categories")} seen too little to suggest yet.`
    : "";
  $("waiting").hidden = !waiting;
  const blocked = view.blocked?.length || 0;
  $("blocked").textContent = blocked
    ? `${blocked} blocked categor${blocked === 1 ? "y is" : "ies are"} never counted (Forget all keeps them blocked).`
    : "";
  $("blocked").hidden = !blocked;
}

async function run(message, done) {
  try {
    render(await ask(message));
    if (done) say(done, "ok");
  } catch (error) {
    say(explain(error));
  }
}

$("share").addEventListener("click", async () => {
  try {
    const { shared, leftOut } = await ask({ type: "share", categories: shown });
    const note = leftOut ? ` (${leftOut} no longer counted ${leftOut === 1 ? "was" : "were"} left out)` : "";
    say(`Shared ${counted(shared.length, "category", "categories")} with Sayso${note}.`, "ok");
  } catch (error) {
    say(explain(error));
  }
});
$("forget").addEventListener("click", () => run({ type: "forget" }, "Everything counted is forgotten."));

run({ type: "review" });
