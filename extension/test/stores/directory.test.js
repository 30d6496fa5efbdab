// The brand directory store (lib/stores/directory.js): on its own, then through the
// controller's messages against the fake Sayso.
import "../locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { DIRECTORY_KEY, DIRECTORY_MAX_AGE_MS, createDirectoryStore }
  from "../../lib/stores/directory.js";
import { BRAND_URL, DIRECTORY, SIGNED_IN, setup } from "../fake-sayso.js";
import { fakeClock, keysTouched, memoryStorage } from "../fake-storage.js";


const HERE = "http://127.0.0.1:5000";

/** A directory store over memory, and a Sayso client that answers `answers` in turn. */
function directoryStore(initial, answers = []) {
  const storage = memoryStorage(initial);
  const clock = fakeClock(1_000_000);
  const asked = [];
  const client = async () => ({
    directory: async (etag) => { asked.push(etag); return answers.shift(); },
  });
  return { storage, clock, asked, client, directory: createDirectoryStore({ storage, now: clock.now }) };
}

test("directory store: the first fetch stores the domains with their ETag and time", async () => {
  const { storage, asked, client, directory } = directoryStore({}, [{ domains: DIRECTORY, etag: '"d1"' }]);
  assert.equal(await directory.domains(), undefined);
  assert.equal(await directory.refresh({ saysoUrl: HERE, client }), true);
  assert.deepEqual(asked, [null]);
  assert.deepEqual(storage.store.directory,
    { saysoUrl: HERE, domains: DIRECTORY, etag: '"d1"', fetchedAt: 1_000_000 });
  assert.deepEqual(await directory.domains(), DIRECTORY);
});

test("directory store: fetched at most once an hour, with the ETag; a 304 only renews the time", async () => {
  const stored = { saysoUrl: HERE, domains: DIRECTORY, etag: '"d1"', fetchedAt: 1_000_000 };
  const { storage, clock, asked, client, directory } =
    directoryStore({ [DIRECTORY_KEY]: stored }, [{ notModified: true }]);
  clock.advance(DIRECTORY_MAX_AGE_MS - 1);
  assert.equal(await directory.refresh({ saysoUrl: HERE, client }), false);
  assert.deepEqual(asked, [], "fresh: Sayso is not asked");
  clock.advance(1);
  assert.equal(await directory.refresh({ saysoUrl: HERE, client }), false);
  assert.deepEqual(asked, ['"d1"']);
  assert.deepEqual(storage.store.directory, { ...stored, fetchedAt: 1_000_000 + DIRECTORY_MAX_AGE_MS });
});

test("directory store: another Sayso's directory, or a forced refresh, is fetched at once", async () => {
  const stored = { saysoUrl: HERE, domains: DIRECTORY, etag: '"d1"', fetchedAt: 1_000_000 };
  const { storage, asked, client, directory } = directoryStore({ [DIRECTORY_KEY]: stored },
    [{ domains: { "shop.example": "br_9" }, etag: '"x"' }, { notModified: true }]);
  assert.equal(await directory.refresh({ saysoUrl: "https://sayso.example", client }), true);
  assert.deepEqual(asked, [null], "another Sayso's ETag means nothing here");
  assert.equal(storage.store.directory.saysoUrl, "https://sayso.example");
  assert.equal(await directory.refresh({ saysoUrl: "https://sayso.example", client, force: true }), false);
  assert.deepEqual(asked, [null, '"x"']);
});

test("directory store: what a lookup said is kept until the next fetch, never before the first", async () => {
  const { storage, directory } = directoryStore({});
  assert.equal(await directory.learn("bookshop.example", "br_1"), false);
  assert.equal(storage.store.directory, undefined);
  storage.store.directory = { saysoUrl: HERE, domains: { ...DIRECTORY }, etag: '"d1"', fetchedAt: 0 };
  assert.equal(await directory.learn("bookshop.example", "br_1"), false, "already known");
  assert.equal(await directory.learn("nobody.example", null), false, "already unknown");
  assert.equal(await directory.learn("new.example", "br_3"), true);
  assert.equal(await directory.learn("other.example", null), true);
  assert.deepEqual(await directory.domains(), { "bookshop.example": "br_1", "new.example": "br_3" });
  assert.equal(storage.store.directory.etag, '"d1"');
  await directory.clear();
  assert.equal(await directory.domains(), undefined);
  assert.deepEqual(keysTouched(storage), [DIRECTORY_KEY]);
});

test("the full brand record is fetched only when the popup is opened", async () => {
  const { controller, calls, store } = setup();
  Object.assign(store, SIGNED_IN);
  await controller.visited(1, { url: BRAND_URL, title: "x" });
  assert.ok(!calls.some((c) => c.key.includes("/brands/lookup")));
  await controller.handle({ type: "popup", url: BRAND_URL });
  assert.ok(calls.some((c) => c.key === "GET /api/v1/brands/lookup?domain=bookshop.example"));
  // The directory was fresh: the popup did not fetch it again.
  assert.ok(!calls.some((c) => c.key === "GET /api/v1/brands/directory"));
});

test("the timer refreshes the grants, and the directory at most once an hour (304 if unchanged)", async () => {
  const { controller, calls, store, badges, advance } = setup({ tabs: [{ id: 3, url: BRAND_URL }] });
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/brands/directory", "GET /api/v1/me/grants"]);
  assert.equal(badges[3], "1");
  calls.length = 0;
  advance(15 * 60 * 1000);
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/me/grants"]);
  calls.length = 0;
  advance(DIRECTORY_MAX_AGE_MS);
  await controller.refresh();
  const [directory] = calls;
  assert.equal(directory.key, "GET /api/v1/brands/directory");
  assert.equal(directory.init.headers["If-None-Match"], '"d1"');
  assert.deepEqual(store.directory.domains, DIRECTORY);
  // Signed out, the timer asks only for the public directory.
  delete store.token;
  calls.length = 0;
  advance(DIRECTORY_MAX_AGE_MS);
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/brands/directory"]);
});
