// Passkeys (WebAuthn) for the forms marked data-passkey: "register" (account page),
// "sign_in" (sign-in page, usernameless), "second_factor" (after the password) and
// "confirm" (before removing a passkey). The server hands out the options as JSON
// (base64url for binary values) and checks the answer; this file only carries them
// between the page, navigator.credentials and the server. The forms are hidden until this
// file shows them: without script a passkey cannot be used, and the password still can.

// The sentences shown, from the page (_passkey_script.html), so they are in its language.
const ENGLISH = {
  noSupport: "This browser cannot use passkeys. Sign in with your password, or try another browser.",
  prompt: "Follow your browser's prompt to use your passkey…",
  checking: "Checking your passkey…",
  cancelled: "No passkey was used. Try again when you are ready.",
  exists: "This device already holds a passkey for your account.",
  failed: "The passkey could not be used. Try again, or use your password.",
  error: "Something went wrong. Reload the page and try again.",
};

function message(name) {
  const element = document.getElementById("passkey-messages");
  return (element && element.dataset[name]) || ENGLISH[name];
}

function toBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
}

function toBase64url(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function creationOptions(json) {
  const options = { ...json, challenge: toBytes(json.challenge) };
  options.user = { ...json.user, id: toBytes(json.user.id) };
  options.excludeCredentials = (json.excludeCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) }));
  return options;
}

function requestOptions(json) {
  const options = { ...json, challenge: toBytes(json.challenge) };
  options.allowCredentials = (json.allowCredentials || []).map((c) => ({ ...c, id: toBytes(c.id) }));
  return options;
}

function credentialJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toBase64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64url(r.attestationObject);
    response.transports = typeof r.getTransports === "function" ? r.getTransports() : [];
  } else {
    response.authenticatorData = toBase64url(r.authenticatorData);
    response.signature = toBase64url(r.signature);
    if (r.userHandle) response.userHandle = toBase64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
  };
}

async function post(url, body, token) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
    body: JSON.stringify(body),
  });
  let answer = {};
  try {
    answer = await response.json();
  } catch {
    answer = {};
  }
  if (!response.ok) {
    throw new Error(answer.message || message("error"));
  }
  return answer;
}

function optionsUrl(kind) {
  return kind === "register" ? "/account/passkeys/options" : "/login/passkey/options";
}

async function run(form, say) {
  const kind = form.dataset.passkey;
  const token = form.querySelector("input[name=csrf_token]").value;
  const options = await post(optionsUrl(kind), kind === "register" ? {} : { purpose: kind }, token);
  let credential;
  try {
    credential =
      kind === "register"
        ? await navigator.credentials.create({ publicKey: creationOptions(options) })
        : await navigator.credentials.get({ publicKey: requestOptions(options) });
  } catch (error) {
    if (error && error.name === "NotAllowedError") {
      throw new Error(message("cancelled"));
    }
    if (error && error.name === "InvalidStateError") {
      throw new Error(message("exists"));
    }
    throw new Error(message("failed"));
  }
  say(message("checking"));
  const body = { credential: credentialJSON(credential) };
  if (kind === "register") {
    body.name = form.querySelector("input[name=name]").value;
  } else {
    body.purpose = kind;
    const next = form.querySelector("input[name=next]");
    if (next && next.value) body.next = next.value;
  }
  const answer = await post(form.dataset.action, body, token);
  window.location.assign(answer.redirect);
}

document.addEventListener("DOMContentLoaded", () => {
  const supported = typeof window.PublicKeyCredential === "function" && !!navigator.credentials;
  for (const form of document.querySelectorAll("form[data-passkey]")) {
    const status = form.querySelector(".passkey-status");
    const say = (text) => {
      if (status) status.textContent = text;
    };
    const button = form.querySelector("button[type=submit]");
    form.hidden = false; // hidden without script: there is nothing it could do
    if (!supported) {
      say(message("noSupport"));
      if (button) button.disabled = true;
      continue;
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!form.reportValidity()) return;
      if (button) button.disabled = true;
      say(message("prompt"));
      try {
        await run(form, say);
      } catch (error) {
        say(error.message);
        if (button) button.disabled = false;
      }
    });
  }
});
