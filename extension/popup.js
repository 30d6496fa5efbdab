// The popup: the brand behind this tab, its live fields with toggles, revoke everything.
import { activeTab, sendMessage } from "./lib/browser.js";
import { $, el, explain, say } from "./lib/ui.js";

const LABELS = { interests: "Interests", browsing_categories: "Browsing categories", channels: "Channels" };
let tabUrl = "";

async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}

function render(view) {
  say("");
  if (!view.site) {
    $("title").textContent = "Sayso";
    say("This page is not a website.", "warn");
    $("brand").hidden = true;
    return;
  }
  if (!view.brand) {
    $("title").textContent = view.site;
    say("This site is not a Sayso brand.", "warn");
    $("brand").hidden = true;
    return;
  }
  const { brand, live } = view;
  if (view.error) say(explain(view.error));
  $("title").textContent = brand.name;
  $("domain").textContent = brand.domain + (brand.verified ? " (verified)" : " (not verified)");
  $("unverified").hidden = brand.verified;
  const list = $("fields");
  list.replaceChildren();
  for (const { field, purpose } of brand.fields) {
    const box = el("input", "", {
      type: "checkbox", checked: live.includes(field), id: `f-${field}`, disabled: Boolean(view.error),
    });
    box.dataset.field = field;
    box.addEventListener("change", () => toggle(brand.brand_id, field, box.checked));
    const label = el("label", "", { htmlFor: box.id });
    label.append(el("strong", LABELS[field] || field), el("br"),
      el("span", `Purpose: “${purpose}”`, { className: "hint" }));
    const row = el("li");
    row.append(box, label);
    list.append(row);
  }
  $("revoke-all").disabled = live.length === 0 || Boolean(view.error);
  $("revoke-all").onclick = () => act({ type: "revokeBrand", url: tabUrl, brandId: brand.brand_id });
  $("brand").hidden = false;
}

async function act(message) {
  try {
    render(await ask(message));
  } catch (error) {
    say(explain(error));
  }
}

const toggle = (brandId, field, on) => act({ type: "toggle", url: tabUrl, brandId, field, on });

async function main() {
  // ?url= lets the end-to-end test open the popup as a page for a given site.
  const override = new URLSearchParams(location.search).get("url");
  tabUrl = override || (await activeTab())?.url || "";
  await act({ type: "popup", url: tabUrl });
}

main();
