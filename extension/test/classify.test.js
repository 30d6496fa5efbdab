import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildTables, classify, words } from "../lib/classify.js";
import { domains, tables, taxonomy } from "./tables.js";

test("every id in the domain table is a taxonomy v2 topic", () => {
  const ids = new Set(taxonomy.topics.map((t) => t.id));
  for (const [domain, topics] of Object.entries(domains)) {
    if (domain.startsWith("_")) continue;
    for (const id of topics) assert.ok(ids.has(id), `${domain}: ${id}`);
  }
});

test("a known domain is classified from the table, subdomains included", () => {
  const [first] = classify({ hostname: "www.allrecipes.com", title: "" }, tables);
  assert.equal(first.topicId, 173);
  assert.equal(classify({ hostname: "news.bbc.co.uk", title: "Home" }, tables)[0].topicId, 243);
});

test("rules from the taxonomy names classify an unknown site by its title", () => {
  const result = classify({ hostname: "example-shop.test", title: "Best Hiking & Camping gear" }, tables);
  assert.equal(result[0].topicId, 472);
  const dogs = classify({ hostname: "unknown.example", title: "Training your new puppy: dog tips" }, tables);
  assert.ok(dogs.slice(0, 3).some((r) => r.topicId === 268));
});

test("results are sorted by score, at most `limit`, and empty when nothing matches", () => {
  const result = classify({ hostname: "x.example", title: "Recipes for vegan pizza and coffee" }, tables, { limit: 3 });
  assert.ok(result.length <= 3);
  for (let i = 1; i < result.length; i++) assert.ok(result[i - 1].score >= result[i].score);
  assert.deepEqual(classify({ hostname: "qwzx.example", title: "zzzz" }, tables), []);
});

test("the domain table can be left out (rules only)", () => {
  // "nfl" is an everyday synonym, so the hostname alone still says American football.
  const rulesOnly = classify({ hostname: "www.nfl.com", title: "" }, tables, { useDomains: false });
  assert.equal(rulesOnly[0].topicId, 300);
  const unknown = classify({ hostname: "www.zappos.com", title: "" }, tables, { useDomains: false });
  assert.deepEqual(unknown, []);
  const empty = buildTables({ domains: {}, taxonomy });
  assert.equal(empty.domains.size, 0);
});

test("words are lower-cased and plural-folded", () => {
  assert.deepEqual(words("Best Recipes & Stories"), ["best", "recipe", "story"]);
});
