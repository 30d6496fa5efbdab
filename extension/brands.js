// My brands: every brand with live access, what it can see in words, and Revoke.
import { ask } from "./lib/browser.js";
import { localizePage, t } from "./lib/i18n.js";
import { grantList } from "./lib/labels.js";
import { $, el, explain, say } from "./lib/ui.js";

function render(brands) {
  const list = $("brands");
  list.replaceChildren();
  for (const entry of brands) {
    const item = el("li");
    item.dataset.brandId = entry.brand_id;
    const text = el("span", "", { className: "grow" });
    text.append(el("strong", entry.brand_name), el("br"),
      el("span", t("brands_can_see", grantList(entry.live)), { className: "hint" }));
    const revoke = el("button", t("brands_revoke"), { className: "danger" });
    revoke.setAttribute("aria-label", t("brands_revoke_label", entry.brand_name));
    revoke.addEventListener("click", async () => {
      try {
        await ask({ type: "revokeBrand", brandId: entry.brand_id });
        await load();
        say(t("brands_revoked", entry.brand_name), "ok");
      } catch (error) {
        say(explain(error));
      }
    });
    item.append(text, revoke);
    list.append(item);
  }
  $("list").hidden = brands.length === 0;
  $("empty").hidden = brands.length > 0;
}

async function load() {
  try {
    render(await ask({ type: "brands" }));
    $("sign-in-hint").hidden = true;
  } catch (error) {
    if (error?.kind === "signed_out" || error?.kind === "revoked") {
      $("sign-in-hint").hidden = false;
      if (error.kind === "revoked") say(explain(error));
      return;
    }
    say(explain(error));
  }
}

localizePage();
load();
