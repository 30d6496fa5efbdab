// Options: the Sayso address (and its host permission), sign-in, and category recording.
import { normalizeSaysoUrl } from "./lib/api.js";
import { originPattern } from "./lib/domain.js";
import { requestOrigin, sendMessage } from "./lib/browser.js";
import { $, explain, say } from "./lib/ui.js";

async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}

/** The saved Sayso address, as the background last reported it. */
let savedUrl = "";

function show(status) {
  savedUrl = status.saysoUrl;
  $("sayso-url").value = status.saysoUrl;
  $("recording").checked = status.recording;
  $("redirect-uri").textContent = status.redirectUri;
  $("signed-in-state").textContent = status.signedIn
    ? `Signed in to ${status.saysoUrl}.`
    : `Signed out of ${status.saysoUrl}.`;
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

/**
 * Ask for the host permission for one Sayso address. Call it first thing in a click
 * handler, before anything is awaited: Firefox grants a permission request only while the
 * click is still being handled.
 * @param {string} saysoUrl
 * @param {string} refused what to say if the consumer says no
 * @returns {Promise<boolean>} whether the extension may talk to that address
 */
async function permitted(saysoUrl, refused) {
  try {
    // An address the extension will not use (plain http to another computer) is refused
    // in words before the browser is asked for anything.
    normalizeSaysoUrl(saysoUrl);
    if (await requestOrigin(originPattern(saysoUrl))) return true;
    say(refused);
  } catch (error) {
    say(error.message);
  }
  return false;
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const saysoUrl = $("sayso-url").value;
  const refused = "Without access to that address the extension cannot talk to Sayso.";
  if (!(await permitted(saysoUrl, refused))) return;
  await run({ type: "saveSettings", saysoUrl }, "Saved.");
});

$("sign-in").addEventListener("click", async () => {
  const refused = "Without access to the Sayso address the extension cannot sign in.";
  if (!(await permitted(savedUrl, refused))) return;
  await run({ type: "signIn" }, "Signed in.");
});
$("sign-out").addEventListener("click", () => run({ type: "signOut" }, "Signed out."));
$("recording").addEventListener("change", () =>
  run({ type: "saveSettings", recording: $("recording").checked }),
);

run({ type: "status" });
