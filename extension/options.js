// Options: the Sayso address (and its host permission), sign-in, and category recording.
import { originPattern } from "./lib/domain.js";
import { requestOrigin, sendMessage } from "./lib/browser.js";
import { $, explain, say } from "./lib/ui.js";

async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}

function show(status) {
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

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  const saysoUrl = $("sayso-url").value;
  try {
    // The host permission for this one address, asked for while the click counts.
    if (!(await requestOrigin(originPattern(saysoUrl)))) {
      say("Without access to that address the extension cannot talk to Sayso.");
      return;
    }
  } catch (error) {
    say(error.message);
    return;
  }
  await run({ type: "saveSettings", saysoUrl }, "Saved.");
});

$("sign-in").addEventListener("click", async () => {
  const status = await ask({ type: "status" });
  if (!(await requestOrigin(originPattern(status.saysoUrl)))) {
    say("Without access to the Sayso address the extension cannot sign in.");
    return;
  }
  await run({ type: "signIn" }, "Signed in.");
});
$("sign-out").addEventListener("click", () => run({ type: "signOut" }, "Signed out."));
$("recording").addEventListener("change", () =>
  run({ type: "saveSettings", recording: $("recording").checked }),
);

run({ type: "status" });
