import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { settle } from "./fake-dom.js";
import {
  SaysoError, authorizeUrl, codeFromRedirect, createSaysoClient, createTokenStore, liveFields,
  normalizeSaysoUrl,
} from "../lib/api.js";

/** A fetch stub answering from a table of "METHOD path" → [status, body]. */
function stubFetch(routes) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const { pathname, search } = new URL(url);
    const key = `${init.method || "GET"} ${pathname}${search}`;
    calls.push({ key, init });
    if (!(key in routes)) throw new TypeError("Failed to fetch");
    const [status, body] = routes[key];
    return { status, ok: status >= 200 && status < 300, json: async () => body };
  };
  return { fetch, calls };
}

function memoryTokens(initial = null) {
  let token = initial;
  return {
    ...createTokenStore({
      read: async () => token, write: async (t) => { token = t; }, remove: async () => { token = null; },
    }),
    peek: () => token,
  };
}

const BASE = "http://127.0.0.1:5000";

test("the authorize URL asks for consent:manage with S256", () => {
  const url = new URL(authorizeUrl(BASE, { redirectUri: "https://x.chromiumapp.org/", challenge: "c", state: "s" }));
  assert.equal(url.pathname, "/oauth/authorize");
  assert.equal(url.searchParams.get("scope"), "consent:manage");
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  assert.equal(url.searchParams.get("client_id"), "sayso-extension");
});

test("the redirect's state and iss are checked", () => {
  const ok = `https://x.chromiumapp.org/?code=abc&state=s&iss=${encodeURIComponent(BASE)}`;
  assert.equal(codeFromRedirect(ok, { state: "s", saysoUrl: BASE }), "abc");
  assert.throws(() => codeFromRedirect(ok, { state: "other", saysoUrl: BASE }), SaysoError);
  const evil = "https://x.chromiumapp.org/?code=abc&state=s&iss=https%3A%2F%2Fevil.example";
  assert.throws(() => codeFromRedirect(evil, { state: "s", saysoUrl: BASE }), /another server/);
  const denied = `https://x.chromiumapp.org/?error=access_denied&state=s&iss=${encodeURIComponent(BASE)}`;
  assert.throws(() => codeFromRedirect(denied, { state: "s", saysoUrl: BASE }), /access_denied/);
});

test("an answer without iss is refused, a code in it or not", () => {
  // Sayso names itself in every answer (RFC 9207); one that does not may come from another
  // server (a mix-up), so its code is never exchanged.
  for (const answer of [
    "https://x.chromiumapp.org/?code=abc&state=s",
    "https://x.chromiumapp.org/?code=abc&state=s&iss=",
    "https://x.chromiumapp.org/?error=access_denied&state=s",
  ]) {
    assert.throws(() => codeFromRedirect(answer, { state: "s", saysoUrl: BASE }), /no iss/);
  }
  for (const iss of [`${BASE}/elsewhere`, `${BASE}/?x=1`, "not a url", "http://127.0.0.1:5001"]) {
    const answer = `https://x.chromiumapp.org/?code=abc&state=s&iss=${encodeURIComponent(iss)}`;
    assert.throws(() => codeFromRedirect(answer, { state: "s", saysoUrl: BASE }), /another server/);
  }
  const slash = `https://x.chromiumapp.org/?code=abc&state=s&iss=${encodeURIComponent(`${BASE}/`)}`;
  assert.equal(codeFromRedirect(slash, { state: "s", saysoUrl: BASE }), "abc");
});

test("Sayso URLs are normalised and must be http(s)", () => {
  assert.equal(normalizeSaysoUrl("http://127.0.0.1:5000/"), BASE);
  assert.equal(normalizeSaysoUrl(" https://sayso.example/path "), "https://sayso.example");
  assert.throws(() => normalizeSaysoUrl("ftp://x"), /must start with https:\/\//);
  assert.throws(() => normalizeSaysoUrl("sayso.example"), /not a web address/);
});

test("plain http is refused for any Sayso but this computer's, in words", () => {
  assert.equal(normalizeSaysoUrl("http://localhost:5000"), "http://localhost:5000");
  for (const address of [
    "http://sayso.example",
    "http://192.168.1.10:5000",
    "http://10.0.0.1",
    "http://localhost.evil.example",
    "http://127.0.0.1.nip.io",
  ]) {
    assert.throws(
      () => normalizeSaysoUrl(address),
      /is not this computer .* only over https:\/\/.*anyone on the network could read/,
      address,
    );
  }
});

test("code exchange stores the token; requests send it without cookies", async () => {
  const tokens = memoryTokens();
  const { fetch, calls } = stubFetch({
    "POST /oauth/token": [200, { access_token: "at", refresh_token: "rt", expires_in: 600 }],
    "GET /api/v1/me/grants": [200, [{ brand_id: "br_1", grants: [
      { field: "interests", active: true }, { field: "channels", active: false }] }]],
  });
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 0 });
  await api.exchangeCode("code", "verifier", "https://x.chromiumapp.org/");
  assert.equal(tokens.peek().access_token, "at");
  const body = new URLSearchParams(calls[0].init.body);
  assert.equal(body.get("code_verifier"), "verifier");
  assert.equal(body.get("client_id"), "sayso-extension");
  const overview = await api.grants();
  assert.equal(calls[1].init.headers.Authorization, "Bearer at");
  assert.equal(calls[1].init.credentials, "omit");
  assert.deepEqual(liveFields(overview, "br_1"), ["interests"]);
  assert.deepEqual(liveFields(overview, "br_2"), []);
});

test("an expired access token is refreshed first", async () => {
  const tokens = memoryTokens({ access_token: "old", refresh_token: "rt", expires_at: 0 });
  const { fetch, calls } = stubFetch({
    "POST /oauth/token": [200, { access_token: "new", refresh_token: "rt2", expires_in: 600 }],
    "POST /api/v1/me/grants/br_1/interests": [200, { granted: { br_1: ["interests"] } }],
  });
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 1000 });
  await api.grant("br_1", "interests");
  assert.equal(calls[1].init.headers.Authorization, "Bearer new");
  assert.equal(tokens.peek().refresh_token, "rt2");
});

test("errors say what went wrong: unreachable, signed out, revoked", async () => {
  const down = createSaysoClient({ saysoUrl: BASE, fetch: stubFetch({}).fetch, tokens: memoryTokens() });
  await assert.rejects(down.lookup("x.example"), { kind: "unreachable" });
  await assert.rejects(down.grants(), { kind: "signed_out" });
  const tokens = memoryTokens({ access_token: "at", expires_at: 1e15 });
  const { fetch } = stubFetch({ "GET /api/v1/me/grants": [401, {}] });
  const revoked = createSaysoClient({ saysoUrl: BASE, fetch, tokens });
  await assert.rejects(revoked.grants(), { kind: "revoked" });
  assert.equal(tokens.peek(), null);
});

test("lookup is public and 404 means no brand", async () => {
  const { fetch, calls } = stubFetch({
    "GET /api/v1/brands/lookup?domain=bookshop.example": [200, { brand_id: "br_1", verified: true }],
    "GET /api/v1/brands/lookup?domain=nobody.example": [404, {}],
  });
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens: memoryTokens() });
  assert.equal((await api.lookup("bookshop.example")).brand_id, "br_1");
  assert.equal(await api.lookup("nobody.example"), null);
  assert.equal(calls[0].init.headers, undefined);
});

test("sharing replaces the browsing_categories disclosure", async () => {
  const { fetch, calls } = stubFetch({
    "PUT /api/v1/me/disclosures/browsing_categories": [200, { value: [] }],
    "DELETE /api/v1/me/grants/br_1": [200, { revoked: { br_1: ["interests"] } }],
    "POST /oauth/revoke": [200, {}],
  });
  const tokens = memoryTokens({ access_token: "at", refresh_token: "rt", expires_at: 1e15 });
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens });
  await api.shareCategories([{ topic_id: 100, weight: 1 }]);
  assert.deepEqual(JSON.parse(calls[0].init.body), { value: [{ topic_id: 100, weight: 1 }] });
  await api.revoke("br_1");
  await api.signOut();
  assert.equal(new URLSearchParams(calls[2].init.body).get("token"), "rt");
  assert.equal(tokens.peek(), null);
});

test("a brand's open questions are listed, answered and cleared with the bearer token", async () => {
  const question = { id: 7, brand_id: "br_1", kind: "single", options: ["a", "b"], answer: null };
  const { fetch, calls } = stubFetch({
    "GET /api/v1/me/questions?brand_id=br%201": [200, [question]],
    "PUT /api/v1/me/questions/7": [200, { answer: "a" }],
    "DELETE /api/v1/me/questions/7": [204, null],
    "PUT /api/v1/me/questions/8": [404, {}],
    "PUT /api/v1/me/questions/9": [422, {}],
  });
  const tokens = memoryTokens({ access_token: "at", expires_at: 1e15 });
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens });
  assert.deepEqual(await api.questions("br 1"), [question]);
  assert.equal(calls[0].init.headers.Authorization, "Bearer at");
  assert.equal(calls[0].init.credentials, "omit");
  assert.deepEqual(await api.answerQuestion(7, "a"), { answer: "a" });
  assert.equal(calls[1].init.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[1].init.body), { answer: "a" });
  assert.equal(await api.clearAnswer(7), null);
  assert.equal(calls[2].init.headers.Authorization, "Bearer at");
  await assert.rejects(api.answerQuestion(8, "a"), { kind: "not_found" });
  await assert.rejects(api.answerQuestion(9, "zzz"), { kind: "failed", status: 422 });
  assert.equal(tokens.peek().access_token, "at");
});

test("listing questions signed out or with a revoked token says so", async () => {
  const signedOut = createSaysoClient({ saysoUrl: BASE, fetch: stubFetch({}).fetch, tokens: memoryTokens() });
  await assert.rejects(signedOut.questions("br_1"), { kind: "signed_out" });
  const tokens = memoryTokens({ access_token: "at", expires_at: 1e15 });
  const { fetch } = stubFetch({ "GET /api/v1/me/questions?brand_id=br_1": [403, {}] });
  const revoked = createSaysoClient({ saysoUrl: BASE, fetch, tokens });
  await assert.rejects(revoked.questions("br_1"), { kind: "revoked" });
  assert.equal(tokens.peek(), null);
});

/** A fetch whose answers wait until the test releases them, to interleave other work. */
function gatedFetch() {
  const calls = [];
  const fetch = (url, init = {}) => new Promise((resolve) => {
    const { pathname } = new URL(url);
    calls.push({
      key: `${init.method || "GET"} ${pathname}`, init,
      answer: (status, body) => resolve({ status, ok: status < 300, json: async () => body }),
    });
  });
  return { fetch, calls, settle };
}

test("concurrent callers share one refresh of an expired token", async () => {
  const tokens = memoryTokens({ access_token: "old", refresh_token: "r0", expires_at: 0 });
  const { fetch, calls, settle } = gatedFetch();
  // Two clients, as the controller builds one per message, over the same token store.
  const one = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 1000 });
  const two = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 1000 });
  const both = Promise.all([one.grants(), two.questions("br_1")]);
  await settle();
  assert.deepEqual(calls.map((c) => c.key), ["POST /oauth/token"]);
  calls[0].answer(200, { access_token: "new", refresh_token: "r1", expires_in: 600 });
  await settle();
  for (const call of calls.slice(1)) call.answer(200, []);
  await both;
  assert.deepEqual(calls.map((c) => c.key), ["POST /oauth/token", "GET /api/v1/me/grants", "GET /api/v1/me/questions"]);
  assert.ok(calls.slice(1).every((c) => c.init.headers.Authorization === "Bearer new"));
  assert.equal(tokens.peek().refresh_token, "r1");
});

test("a refused refresh forgets only the token it presented, not one stored since", async () => {
  const tokens = memoryTokens({ access_token: "old", refresh_token: "r0", expires_at: 0 });
  const { fetch, calls, settle } = gatedFetch();
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 1000 });
  const failing = api.grants();
  await settle();
  const newer = { access_token: "signed-in-again", refresh_token: "s1", expires_at: 1e15 };
  await tokens.set(newer); // the consumer signed in again meanwhile
  calls[0].answer(400, { error: "invalid_grant" });
  await assert.rejects(failing, { kind: "revoked" });
  assert.deepEqual(tokens.peek(), newer);

  // With nothing newer stored, the refused token is forgotten.
  await tokens.set({ access_token: "old", refresh_token: "r0", expires_at: 0 });
  const again = api.grants();
  await settle();
  calls[1].answer(400, { error: "invalid_grant" });
  await assert.rejects(again, { kind: "revoked" });
  assert.equal(tokens.peek(), null);
});

test("a 401 forgets only the access token that was sent", async () => {
  const tokens = memoryTokens({ access_token: "at", refresh_token: "r0", expires_at: 1e15 });
  const { fetch, calls, settle } = gatedFetch();
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens, now: () => 1000 });
  const refused = api.grants();
  await settle();
  const newer = { access_token: "at2", refresh_token: "r1", expires_at: 1e15 };
  await tokens.set(newer);
  calls[0].answer(401, {});
  await assert.rejects(refused, { kind: "revoked" });
  assert.deepEqual(tokens.peek(), newer);
});

test("the directory is public and answers 304 to its ETag", async () => {
  const calls = [];
  const fetch = async (url, init = {}) => {
    calls.push(init);
    if (init.headers?.["If-None-Match"] === '"v1"') return { status: 304, ok: false, json: async () => null };
    return { status: 200, ok: true, json: async () => ({ domains: { "bookshop.example": "br_1" } }),
      headers: { get: (h) => (h === "ETag" ? '"v1"' : null) } };
  };
  const api = createSaysoClient({ saysoUrl: BASE, fetch, tokens: memoryTokens() });
  assert.deepEqual(await api.directory(), { domains: { "bookshop.example": "br_1" }, etag: '"v1"' });
  assert.deepEqual(await api.directory('"v1"'), { notModified: true });
  assert.equal(calls[0].headers.Authorization, undefined);
  assert.equal(calls[0].credentials, "omit");
});
