// Getting started, opened once when the extension is installed: what works with no
// account (brands behind sites, browsing categories on the device) and signing in.
import { askAccess } from "./lib/access.js";
import { ask } from "./lib/browser.js";
import { localizePage, t } from "./lib/i18n.js";
import { $, explain, say } from "./lib/ui.js";

let savedUrl = "";

function show(status) {
  savedUrl = status.saysoUrl;
  $("recording").checked = status.recording;
  $("sayso-address").textContent = status.saysoUrl;
  $("signed-in-state").textContent = status.signedIn ? t("welcome_signed_in") : "";
  $("sign-in").hidden = status.signedIn;
}

async function run(message, done) {
  try {
    show(await ask(message));
    if (done) say(done, "ok");
  } catch (error) {
    say(explain(error));
  }
}

$("recording").addEventListener("change", () => {
  const on = $("recording").checked;
  run({ type: "saveSettings", recording: on },
    t(on ? "welcome_recording_on" : "welcome_recording_off"));
});
$("sign-in").addEventListener("click", async () => {
  const access = await askAccess(savedUrl, t("access_refused_sign_in"));
  if (!access.ok) return say(access.message);
  await run({ type: "signIn" }, t("done_signed_in"));
});

localizePage();
run({ type: "status" });
