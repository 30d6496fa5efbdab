// Getting started, opened once when the extension is installed: what works with no
// account (brands behind sites, browsing categories on the device) and signing in.
import { askAccess } from "./lib/access.js";
import { ask } from "./lib/browser.js";
import { $, explain, say } from "./lib/ui.js";

let savedUrl = "";

function show(status) {
  savedUrl = status.saysoUrl;
  $("recording").checked = status.recording;
  $("sayso-address").textContent = status.saysoUrl;
  $("signed-in-state").textContent = status.signedIn ? "You are signed in." : "";
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
    on ? "Your browsing categories are now worked out on this device." : "Turned off.");
});
$("sign-in").addEventListener("click", async () => {
  const access = await askAccess(savedUrl,
    "Without access to your Sayso's address the extension cannot sign in.");
  if (!access.ok) return say(access.message);
  await run({ type: "signIn" }, "Signed in.");
});

run({ type: "status" });
