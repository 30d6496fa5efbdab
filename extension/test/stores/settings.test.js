// The settings and sign-in store (lib/stores/settings.js): on its own, then through the
// controller's messages against the fake Sayso.
import "../locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_SAYSO_URL } from "../../lib/api.js";
import { SAYSO_URL_KEY, RECORDING_KEY, TOKEN_KEY, createSettingsStore, ownToken }
  from "../../lib/stores/settings.js";
import { settle } from "../fake-dom.js";
import { BRAND_URL, DIRECTORY, SIGNED_IN, setup } from "../fake-sayso.js";
import { keysTouched, memoryStorage } from "../fake-storage.js";


const TOKEN = { access_token: "at", refresh_token: "r0", expires_at: 1e15 };

test("settings store: the address and recording have defaults; nothing stored, signed out", async () => {
  const storage = memoryStorage();
  const settings = createSettingsStore(storage);
  assert.deepEqual(await settings.read(), { saysoUrl: DEFAULT_SAYSO_URL, recording: false });
  assert.equal(await settings.signedIn(), false);
  assert.equal(await settings.tokens.get(), null);
});

test("settings store: saving stores the address normalised, recording only if true", async () => {
  const storage = memoryStorage({ [RECORDING_KEY]: true });
  const settings = createSettingsStore(storage);
  await settings.save({ saysoUrl: " https://sayso.example/some/path " });
  assert.deepEqual(storage.store, { saysoUrl: "https://sayso.example", recording: true });
  await settings.save({ recording: "yes" });
  assert.deepEqual(await settings.read(), { saysoUrl: "https://sayso.example", recording: false });
  await assert.rejects(settings.save({ saysoUrl: "ftp://sayso.example", recording: true }), /https:\/\//);
  assert.deepEqual(storage.store, { saysoUrl: "https://sayso.example", recording: false });
});

test("settings store: an address change is worked out, and nothing is stored", async () => {
  const storage = memoryStorage();
  const settings = createSettingsStore(storage);
  assert.deepEqual(await settings.addressChange("http://127.0.0.1:5000/"),
    { before: DEFAULT_SAYSO_URL, after: DEFAULT_SAYSO_URL, changed: false });
  assert.deepEqual(await settings.addressChange("https://Sayso.example"),
    { before: DEFAULT_SAYSO_URL, after: "https://sayso.example", changed: true });
  await assert.rejects(settings.addressChange("http://sayso.example"), /not this computer/);
  assert.deepEqual(storage.store, {});
});

test("settings store: a token counts only for the Sayso it came from", async () => {
  assert.equal(ownToken({}), null);
  assert.equal(ownToken({ token: TOKEN }), TOKEN, "a token that names no issuer is the configured one's");
  const issued = { ...TOKEN, issuer: DEFAULT_SAYSO_URL };
  assert.equal(ownToken({ token: issued }), issued);
  assert.equal(ownToken({ token: issued, saysoUrl: "https://sayso.example" }), null);

  const storage = memoryStorage({ [TOKEN_KEY]: issued });
  const settings = createSettingsStore(storage);
  assert.equal(await settings.signedIn(), true);
  await settings.save({ saysoUrl: "https://sayso.example" });
  assert.equal(await settings.signedIn(), false);
  assert.deepEqual(storage.store.token, issued, "kept, but never used for another Sayso");
});

test("settings store: the token store writes and clears the one token key", async () => {
  const storage = memoryStorage({ [SAYSO_URL_KEY]: "https://sayso.example" });
  const settings = createSettingsStore(storage);
  await settings.tokens.set({ ...TOKEN, issuer: "https://sayso.example" });
  assert.equal((await settings.tokens.get()).access_token, "at");
  assert.equal(await settings.tokens.forget({ access_token: "other" }), false);
  assert.equal(await settings.tokens.forget({ access_token: "at" }), true);
  assert.equal(await settings.signedIn(), false);
  await settings.tokens.set(TOKEN);
  await settings.tokens.clear();
  assert.equal(storage.store.token, undefined);
  await settings.read();
  assert.deepEqual(keysTouched(storage), [RECORDING_KEY, SAYSO_URL_KEY, TOKEN_KEY].sort());
});

test("sign-in runs PKCE, stores the token, and fetches the directory and the grants", async () => {
  const { controller, store, calls } = setup({ token: null, tabs: [{ id: 3, url: BRAND_URL }] });
  const status = await controller.handle({ type: "signIn" });
  assert.equal(status.signedIn, true);
  assert.equal(store.token.access_token, "at1");
  const body = new URLSearchParams(calls.find((c) => c.key === "POST /oauth/token").init.body);
  assert.equal(body.get("code"), "c1");
  assert.ok(body.get("code_verifier").length >= 43);
  assert.deepEqual(store.directory.domains, DIRECTORY);
  assert.deepEqual(store.overview.live, { br_1: ["interests"] });
});

test("concurrent messages with an expired token share one refresh; the sign-in survives", async () => {
  const { controller, store, server, calls } = setup({
    token: { access_token: "at", refresh_token: "r0", expires_at: 0 }, delay: 5,
  });
  Object.assign(store, SIGNED_IN);
  const [view, brands] = await Promise.all([
    controller.handle({ type: "popup", url: BRAND_URL }),
    controller.handle({ type: "brands" }),
    controller.handle({ type: "questions", brandId: "br_1" }),
  ]);
  const presented = calls.filter((c) => c.key === "POST /oauth/token")
    .map((c) => new URLSearchParams(c.init.body).get("refresh_token"));
  assert.deepEqual(presented, ["r0"]);
  assert.equal(server.familyRevoked, false);
  assert.deepEqual(server.events, []);
  assert.equal(view.error, undefined);
  assert.deepEqual(view.live, ["interests"]);
  assert.equal(brands.length, 1);
  assert.equal(store.token.refresh_token, "r1");
});

test("changing the Sayso address signs out and forgets its brands", async () => {
  const { controller, store, calls } = setup();
  Object.assign(store, SIGNED_IN, { overview: { live: {}, fetchedAt: 0 } });
  await controller.handle({ type: "saveSettings", saysoUrl: "https://sayso.example/" });
  assert.equal(store.saysoUrl, "https://sayso.example");
  assert.equal(store.token, undefined);
  assert.equal(store.overview, undefined);
  // Saving fetched the new Sayso's directory (the click on Save is the consumer's).
  assert.ok(calls.some((c) => c.key === "GET /api/v1/brands/directory"));
  assert.equal(store.directory.saysoUrl, "https://sayso.example");
});

test("a token stored after the address changed is never sent to the new address", async () => {
  const { controller, store, calls } = setup({
    token: { access_token: "at", refresh_token: "r0", expires_at: 0 }, delay: 20,
  });
  const refreshing = controller.refresh(); // the alarm: a refresh at 127.0.0.1:5000 ...
  while (!calls.some((c) => c.key === "POST /oauth/token")) await settle();
  // ... under way while the consumer saves another address.
  await controller.handle({ type: "saveSettings", saysoUrl: "https://other-sayso.example/" });
  await refreshing;
  assert.equal(store.token?.issuer, "http://127.0.0.1:5000"); // stored, as the old server's
  const switched = calls.length;
  const status = await controller.handle({ type: "status" });
  assert.equal(status.signedIn, false);
  await controller.handle({ type: "brands" }).catch(() => {});
  assert.deepEqual(calls.slice(switched).filter((c) => c.auth), []);
});

test("saving another address gives up the access to the old one", async () => {
  const { controller, dropped } = setup();
  await controller.handle({ type: "saveSettings", saysoUrl: "http://127.0.0.1:5001" });
  assert.deepEqual(dropped, []); // the same host: the same permission
  await controller.handle({ type: "saveSettings", saysoUrl: "https://sayso.example" });
  assert.deepEqual(dropped, ["http://127.0.0.1/*"]);
});

test("a sign-in answer that does not name the Sayso asked is not exchanged", async () => {
  for (const iss of [null, "https://evil.example"]) {
    const { controller, calls, store } = setup({
      token: null,
      signInAnswer: (state) =>
        `https://ext.chromiumapp.org/?code=c1&state=${state}` +
        (iss ? `&iss=${encodeURIComponent(iss)}` : ""),
    });
    await assert.rejects(controller.handle({ type: "signIn" }), /no iss|another server/);
    assert.equal(calls.filter((c) => c.key === "POST /oauth/token").length, 0);
    assert.equal(store.token, undefined);
  }
});

test("a plain-http address of another computer is refused in words, and nothing changes", async () => {
  const { controller, store, calls, dropped } = setup();
  await assert.rejects(
    controller.handle({ type: "saveSettings", saysoUrl: "http://sayso.example" }),
    /sayso\.example is not this computer .* only over https:\/\//,
  );
  assert.equal(store.saysoUrl, undefined); // still the default, http://127.0.0.1:5000
  assert.ok(store.token);
  assert.deepEqual(calls, []);
  assert.deepEqual(dropped, []);
});
