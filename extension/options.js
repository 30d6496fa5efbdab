// Options: sign-in, category recording, and the Sayso address (with its host permission).
import { askAccess } from "./lib/access.js";
import { ask } from "./lib/browser.js";
import { localizePage, t } from "./lib/i18n.js";
import { $, explain, say } from "./lib/ui.js";

/** The saved Sayso address, as the background last reported it. */
let savedUrl = "";

function show(status) {
  savedUrl = status.saysoUrl;
  $("sayso-url").value = status.saysoUrl;
  $("recording").checked = status.recording;
  $("redirect-uri").textContent = status.redirectUri;
  $("signed-in-state").textContent =
    t(status.signedIn ? "options_signed_in" : "options_signed_out", status.saysoUrl);
  $("sign-in").hidden = status.signedIn;
  $("sign-out").hidden = !status.signedIn;
}

async function run(message, done) {
  try {
    show(await ask(message));
    if (done) say(done, "ok");
  } catch (error) {
    say(explain(error));
  }
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  // The address is checked in words before the browser is asked for access to it.
  const access = await askAccess($("sayso-url").value, t("access_refused_address"));
  if (!access.ok) {
    say(access.message);
    $("sayso-url").setAttribute("aria-invalid", "true");
    return;
  }
  $("sayso-url").removeAttribute("aria-invalid");
  await run({ type: "saveSettings", saysoUrl: access.saysoUrl }, t("done_saved"));
});

$("sign-in").addEventListener("click", async () => {
  const access = await askAccess(savedUrl, t("access_refused_sign_in"));
  if (!access.ok) return say(access.message);
  await run({ type: "signIn" }, t("done_signed_in"));
});
$("sign-out").addEventListener("click", () => run({ type: "signOut" }, t("done_signed_out")));
$("recording").addEventListener("change", () =>
  run({ type: "saveSettings", recording: $("recording").checked }),
);

localizePage();
run({ type: "status" });
