// My brands: every brand with live access, with revoke.
import { sendMessage } from "./lib/browser.js";
import { $, el, explain, say } from "./lib/ui.js";

async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}

function render(brands) {
  const list = $("brands");
  list.replaceChildren();
  for (const entry of brands) {
    const item = el("li");
    const text = el("span");
    text.append(el("strong", entry.brand_name), el("br"), el("span", entry.live.join(", "), { className: "hint" }));
    const revoke = el("button", "Revoke", { className: "danger" });
    revoke.addEventListener("click", async () => {
      try {
        await ask({ type: "revokeBrand", brandId: entry.brand_id });
        await load();
      } catch (error) {
        say(explain(error));
      }
    });
    item.append(text, revoke);
    list.append(item);
  }
  $("empty").hidden = brands.length > 0;
}

async function load() {
  try {
    render(await ask({ type: "brands" }));
  } catch (error) {
    say(explain(error));
  }
}

load();
