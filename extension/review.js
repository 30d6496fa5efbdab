// Review: the categories with enough evidence, the sites that led to each (on the device
// only); remove a site or a category, block a category, share, forget.
import { ask } from "./lib/browser.js";
import { localizePage, plural, t } from "./lib/i18n.js";
import { $, el, explain, say } from "./lib/ui.js";

/** Exactly what the page shows now, as Share sends it: topic ids with the weights drawn. */
let shown = [];

/**
 * How sure the classifier was, in words.
 * @param {number} confidence in [0, 1]
 */
function sureness(confidence) {
  if (confidence >= 0.8) return t("sure_clearly");
  if (confidence >= 0.5) return t("sure_mostly");
  return t("sure_partly");
}

function siteRow(site, visits) {
  const row = el("li");
  row.dataset.site = site;
  row.append(el("span", plural("review_site", visits, site), { className: "site" }));
  const remove = el("button", t("review_remove_site"), { className: "remove-site" });
  remove.setAttribute("aria-label", t("review_remove_site_label", site));
  remove.addEventListener("click", () => run({ type: "removeSite", site }, t("review_site_removed", site)));
  row.append(remove);
  return row;
}

function categoryRow(row) {
  const item = el("li");
  item.dataset.topicId = String(row.topicId);
  const head = el("div", "", { className: "head" });
  head.append(el("span", row.name, { className: "name" }),
    el("span", t("review_weight", row.weight), { className: "hint weight" }));
  const facts = t("review_evidence", plural("review_days", row.days),
    plural("review_visits", row.visits), plural("review_to_sites", row.sites.length),
    sureness(row.confidence));
  item.append(head, el("p", facts, { className: "hint evidence" }));
  item.append(el("p", t("review_because"), { className: "hint" }));
  const sites = el("ul", "", { className: "sites" });
  for (const { site, visits } of row.sites) sites.append(siteRow(site, visits));
  item.append(sites);
  const actions = el("div", "", { className: "actions" });
  const remove = el("button", t("review_remove_category"), { className: "remove" });
  remove.setAttribute("aria-label", t("review_remove_category_label", row.name));
  remove.addEventListener("click", () =>
    run({ type: "remove", topicId: row.topicId }, t("review_category_removed", row.name)));
  const block = el("button", t("review_block"), { className: "block", title: t("review_block_title") });
  block.setAttribute("aria-label", t("review_block_label", row.name));
  block.addEventListener("click", () =>
    run({ type: "block", topicId: row.topicId }, t("review_category_blocked", row.name)));
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
  $("waiting").textContent = waiting ? plural("review_waiting", waiting) : "";
  $("waiting").hidden = !waiting;
  const blocked = view.blocked?.length || 0;
  $("blocked").textContent = blocked ? plural("review_blocked", blocked) : "";
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
    const note = leftOut ? ` ${plural("review_left_out", leftOut)}` : "";
    say(`${plural("review_shared", shared.length)}${note}`, "ok");
  } catch (error) {
    say(explain(error));
  }
});
$("forget").addEventListener("click", () => run({ type: "forget" }, t("review_forgotten")));

localizePage();
run({ type: "review" });
