// Review: the top categories with their evidence; remove, block, share, forget.
import { sendMessage } from "./lib/browser.js";
import { $, el, explain, say } from "./lib/ui.js";

/** Exactly what the page shows now, as Share sends it: topic ids with the weights drawn. */
let shown = [];

async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}

function render(view) {
  $("off").hidden = view.recording;
  const list = $("top");
  list.replaceChildren();
  for (const row of view.top) {
    const item = el("li");
    item.dataset.topicId = String(row.topicId);
    const text = el("span", "", { className: "grow" });
    const visits = `${row.visits} visit${row.visits === 1 ? "" : "s"}`;
    const sites = `${row.sites} site${row.sites === 1 ? "" : "s"}`;
    text.append(
      el("strong", row.name), el("br"),
      el("span", `${visits}, ${sites}`, { className: "hint evidence" }),
      el("span", ` · shared with weight ${row.weight}`, { className: "hint weight" }),
    );
    const remove = el("button", "Remove", { className: "remove" });
    remove.addEventListener("click", () => run({ type: "remove", topicId: row.topicId }));
    const block = el("button", "Block", { className: "block", title: "Remove and never count again" });
    block.addEventListener("click", () => run({ type: "block", topicId: row.topicId }));
    item.append(text, remove, block);
    list.append(item);
  }
  shown = view.top.map((row) => ({ topic_id: row.topicId, weight: row.weight }));
  $("empty").hidden = view.top.length > 0;
  $("share").disabled = view.top.length === 0;
  const blocked = view.blocked?.length || 0;
  $("blocked").textContent = blocked
    ? `${blocked} blocked categor${blocked === 1 ? "y is" : "ies are"} never counted (Forget all keeps them blocked).`
    : "";
}

async function run(message) {
  try {
    render(await ask(message));
  } catch (error) {
    say(explain(error));
  }
}

$("share").addEventListener("click", async () => {
  try {
    const { shared, leftOut } = await ask({ type: "share", categories: shown });
    const note = leftOut ? ` (${leftOut} no longer counted ${leftOut === 1 ? "was" : "were"} left out)` : "";
    say(`Shared ${shared.length} categories with Sayso${note}.`, "ok");
  } catch (error) {
    say(explain(error));
  }
});
$("forget").addEventListener("click", () => run({ type: "forget" }));

run({ type: "review" });
