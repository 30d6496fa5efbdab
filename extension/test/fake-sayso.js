// A fake Sayso for the controller's message-level tests (test/stores/*.test.js,
// test/controller.test.js), with the server's rules that matter here:
// refresh tokens rotate once and presenting a rotated one revokes the whole family
// (sayso/services/tokens.py), the directory answers 304 to its ETag, and every request is
// recorded so a test can say what left the device.
import { webcrypto } from "node:crypto";
import { createController } from "../lib/controller.js";
import { DAY_MS, EPOCH_MS } from "../lib/epochs.js";
import { tables } from "./tables.js";

export const BASE = "http://127.0.0.1:5000";
export const BRAND = {
  brand_id: "br_1", name: "Bookshop", domain: "bookshop.example", verified: false,
  fields: [{ field: "channels", purpose: "email" }, { field: "interests", purpose: "books" }],
};
export const DIRECTORY = { "bookshop.example": "br_1", "other.example": "br_2" };
const DIRECTORY_ETAG = '"d1"';

/** A page of the brand's site. */
export const BRAND_URL = "https://www.bookshop.example/b/1";
/** What sign-in leaves in storage: the directory and the grants overview. */
export const SIGNED_IN = {
  directory: { saysoUrl: BASE, domains: DIRECTORY, etag: DIRECTORY_ETAG, fetchedAt: 10 * EPOCH_MS },
};
/** A page whose categories are American football (topic 300). */
export const NFL = { url: "https://www.nfl.com/", title: "NFL scores" };

/** Visit each page once a day for `days` days (a category needs evidence over days). */
export async function visitDaily(env, pages, days) {
  for (let day = 0; day < days; day++) {
    for (const page of pages) await env.controller.visited(1, page);
    env.advance(DAY_MS);
  }
}

/** What the review page sends to Share for a review it drew. */
export const shownOf = (review) => review.top.map((r) => ({ topic_id: r.topicId, weight: r.weight }));
/** The value of the last Share that reached Sayso. */
export const sharedBody = (calls) =>
  JSON.parse(calls.findLast((c) => c.key === "PUT /api/v1/me/disclosures/browsing_categories").init.body).value;

/**
 * The controller wired to a fake Sayso and an in-memory browser.
 * `signInAnswer(state)` is where the sign-in window ends (Sayso's redirect, with `iss`).
 * @param {{recording?: boolean, token?: object|null, live?: string[], delay?: number, clock?: number, tabs?: object[], signInAnswer?: (state: string) => string}} [options]
 */
export function setup({
  recording = false,
  token = { access_token: "at", refresh_token: "r0", expires_at: 1e15 },
  live: initiallyLive = ["interests"],
  delay = 0,
  clock = 10 * EPOCH_MS,
  tabs = [],
  signInAnswer = (state) =>
    `https://ext.chromiumapp.org/?code=c1&state=${state}&iss=${encodeURIComponent(BASE)}`,
} = {}) {
  const store = { recording, ...(token ? { token } : {}) };
  const calls = [];
  const badges = {};
  const titles = {};
  let live = [...initiallyLive];
  let answer = null;
  const server = {
    access: new Set([token?.access_token]),
    refresh: new Map(token?.refresh_token ? [[token.refresh_token, "fresh"]] : []),
    familyRevoked: false,
    issued: 0,
    events: [],
    failNext: null,
  };
  const wait = () => (delay ? new Promise((r) => setTimeout(r, delay)) : Promise.resolve());
  const reply = (status, body, headers = {}) => ({
    status, ok: status >= 200 && status < 300, json: async () => body,
    headers: { get: (name) => headers[name] ?? null },
  });
  const issue = () => {
    server.issued += 1;
    const pair = { access_token: `at${server.issued}`, refresh_token: `r${server.issued}` };
    server.access.add(pair.access_token);
    server.refresh.set(pair.refresh_token, "fresh");
    return reply(200, { ...pair, expires_in: 600 });
  };

  const fetch = async (url, init = {}) => {
    const { pathname, search } = new URL(url);
    const key = `${init.method || "GET"} ${pathname}${search}`;
    const auth = init.headers?.Authorization;
    calls.push({ key, init, auth, url });
    await wait();
    if (server.failNext && key.startsWith(server.failNext)) {
      server.failNext = null;
      throw new TypeError("Failed to fetch");
    }
    if (key === "POST /oauth/token") {
      const form = new URLSearchParams(init.body);
      if (form.get("grant_type") === "authorization_code") return issue();
      const presented = form.get("refresh_token");
      if (server.refresh.get(presented) === "rotated") {
        server.familyRevoked = true;
        server.events.push("oauth:refresh:reused");
      }
      if (server.familyRevoked || server.refresh.get(presented) !== "fresh") {
        return reply(400, { error: "invalid_grant" });
      }
      server.refresh.set(presented, "rotated");
      return issue();
    }
    if (key === "GET /api/v1/brands/directory") {
      if (init.headers?.["If-None-Match"] === DIRECTORY_ETAG) return reply(304, null);
      return reply(200, { domains: DIRECTORY }, { ETag: DIRECTORY_ETAG });
    }
    if (key === "GET /api/v1/brands/lookup?domain=bookshop.example") return reply(200, BRAND);
    if (key.startsWith("GET /api/v1/brands/lookup")) return reply(404, {});
    const presented = (auth || "").replace("Bearer ", "");
    if (server.familyRevoked || !server.access.has(presented)) return reply(401, {});
    if (key === "GET /api/v1/me/grants") {
      return reply(200, [{ brand_id: "br_1", brand_name: "Bookshop",
        grants: ["channels", "interests"].map((f) => ({ field: f, active: live.includes(f) })) }]);
    }
    if (key === "DELETE /api/v1/me/grants/br_1") { live = []; return reply(200, {}); }
    const field = pathname.split("/").pop();
    if (key.startsWith("DELETE /api/v1/me/grants/br_1/")) {
      live = live.filter((f) => f !== field);
      return reply(200, {});
    }
    if (key.startsWith("POST /api/v1/me/grants/br_1/")) { live = [...live, field]; return reply(200, {}); }
    if (key === "PUT /api/v1/me/disclosures/browsing_categories") return reply(200, JSON.parse(init.body));
    if (key === "GET /api/v1/me/questions?brand_id=br_1") {
      return reply(200, [{ id: 5, brand_id: "br_1", brand_name: "Bookshop", kind: "text", prompt: "Why books?",
        purpose: "shelf", why: null, options: [], answer }]);
    }
    if (key === "PUT /api/v1/me/questions/5") { answer = JSON.parse(init.body).answer; return reply(200, { answer }); }
    if (key === "DELETE /api/v1/me/questions/5") { answer = null; return reply(204, null); }
    throw new TypeError("Failed to fetch");
  };

  let t = clock;
  const openTabs = [...tabs];
  const dropped = [];
  let held = null; // the next write of the counts, held open (see holdNextCountsWrite)
  const controller = createController({
    storageGet: async (keys) => Object.fromEntries(keys.filter((k) => k in store).map((k) => [k, store[k]])),
    storageSet: async (items) => {
      if (held && "categories" in items) {
        const { reached, gate } = held;
        held = null;
        reached();
        await gate;
      }
      Object.assign(store, structuredClone(items));
    },
    storageRemove: async (keys) => keys.forEach((k) => delete store[k]),
    fetch,
    crypto: webcrypto,
    redirectUri: () => "https://ext.chromiumapp.org/",
    launchWebAuthFlow: async (url) => signInAnswer(new URL(url).searchParams.get("state")),
    setBadge: async (tabId, text, title) => { badges[tabId] = text; titles[tabId] = title; },
    tabs: async () => openTabs,
    tables: async () => tables,
    now: () => t,
    dropOrigin: async (pattern) => { dropped.push(pattern); return true; },
  });
  return {
    controller, store, calls, badges, titles, server, openTabs, dropped,
    advance: (ms) => { t += ms; },
    /** Hold the next write of the counts open (storage is slow): `hit` once it is waiting. */
    holdNextCountsWrite: () => {
      let release;
      let reached;
      const gate = new Promise((r) => { release = r; });
      const hit = new Promise((r) => { reached = r; });
      held = { reached, gate };
      return { hit, release };
    },
    liveOnServer: () => [...live],
  };
}
