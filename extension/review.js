// Review: the top categories with their evidence; remove, block, share, forget.
import { sendMessage } from "./lib/browser.js";
import { $, el, explain, say } from "./lib/ui.js";

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
    text.append(el("strong", row.name), el("br"), el("span", `${visits}, ${sites}`, { className: "hint evidence" }));
    const remove = el("button", "Remove", { className: "remove" });
    remove.addEventListener("click", () => run({ type: "remove", topicId: row.topicId }));
    const block = el("button", "Block", { className: "block", title: "Remove and never count again" });
    block.addEventListener("click", () => run({ type: "block", topicId: row.topicId }));
    item.append(text, remove, block);
    list.append(item);
  }
  $("empty").hidden = view.top.length > 0;
  $("share").disabled = view.top.length === 0;
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
    const { shared } = await ask({ type: "share" });
    say(`Shared ${shared.length} categories with Sayso.`, "ok");
  } catch (error) {
    say(explain(error));
  }
});
$("forget").addEventListener("click", () => run({ type: "forget" }));

run({ type: "review" });
