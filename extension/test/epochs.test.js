import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  DAY_MS, EPOCH_MS, MAX_EPOCHS, MIN_EVIDENCE, blockTopic, confidenceOf, dayOf, emptyState,
  epochOf, evidence, evidenceOf, prune, record, removeSite, removeTopic, stillCounted,
  summarize, toDisclosure,
} from "../lib/epochs.js";

const T0 = 100 * EPOCH_MS;
const sure = (...ids) => ids.map((topicId) => ({ topicId, confidence: 1 }));

test("visits are counted per category with days, sites and confidence as evidence", () => {
  let s = emptyState();
  s = record(s, { timeMs: T0, site: "a.example", topics: [...sure(100), { topicId: 173, confidence: 0.4 }] });
  s = record(s, { timeMs: T0 + 1, site: "a.example", topics: sure(100) });
  s = record(s, { timeMs: T0 + DAY_MS, site: "b.example", topics: sure(100) });
  const [books, cooking] = evidence(s, { timeMs: T0 + DAY_MS });
  assert.deepEqual(books, {
    topicId: 100, visits: 3, days: 2,
    sites: [{ site: "a.example", visits: 2 }, { site: "b.example", visits: 1 }],
    confidence: 1, evidence: 2.6, proposed: true,
  });
  assert.deepEqual(cooking, {
    topicId: 173, visits: 1, days: 1, sites: [{ site: "a.example", visits: 1 }],
    confidence: 0.4, evidence: 0.4, proposed: false,
  });
  assert.deepEqual(summarize(s, { timeMs: T0 + DAY_MS }).map((r) => r.topicId), [100]);
  // What is kept: visits, days of the week, summed confidence; no time, no page.
  assert.deepEqual(s.epochs[String(epochOf(T0))][173], { "a.example": { v: 1, d: [0], c: 0.4 } });
});

test("the evidence weighs days over sites over visits, times confidence", () => {
  const one = { visits: 1, days: 1, sites: 1, confidence: 1 };
  assert.equal(evidenceOf(one), 1);
  // Reloading one page all day is not enough to propose a category...
  assert.ok(evidenceOf({ ...one, visits: 30 }) < MIN_EVIDENCE);
  // ...two sites on one day is not either; three are, and so are two days of one site.
  assert.ok(evidenceOf({ ...one, visits: 2, sites: 2 }) < MIN_EVIDENCE);
  assert.ok(evidenceOf({ ...one, visits: 3, sites: 3 }) >= MIN_EVIDENCE);
  assert.ok(evidenceOf({ ...one, visits: 2, days: 2 }) >= MIN_EVIDENCE);
  // A weak match needs much more of it.
  assert.ok(evidenceOf({ visits: 3, days: 2, sites: 2, confidence: 0.3 }) < MIN_EVIDENCE);
  assert.equal(evidenceOf({ visits: 0, days: 0, sites: 0, confidence: 1 }), 0);
});

test("confidence is the score out of 2, less when the page fits another category better", () => {
  assert.equal(confidenceOf(3.85, 3.85), 1);
  assert.equal(confidenceOf(0.85, 0.85), 0.43);
  // ESPN's title matches "Sports Cars" (0.65) far less than "Sports" (5.3).
  assert.ok(confidenceOf(0.65, 5.3) < 0.15);
  assert.equal(confidenceOf(0, 1), 0);
});

test("two sports sites on one day propose nothing, not nine categories", () => {
  let s = emptyState();
  s = record(s, { timeMs: T0, site: "espn.com", topics: [
    { topicId: 299, confidence: 1 }, { topicId: 191, confidence: 0.11 }, { topicId: 376, confidence: 0.11 }] });
  s = record(s, { timeMs: T0, site: "nfl.com", topics: [
    { topicId: 300, confidence: 1 }, { topicId: 299, confidence: 0.35 }] });
  assert.deepEqual(summarize(s, { timeMs: T0 }), []);
  assert.equal(evidence(s, { timeMs: T0 }).length, 4);
});

test("at most four weekly epochs are kept; days are counted per epoch", () => {
  let s = emptyState();
  for (let week = 0; week < 6; week++) {
    s = record(s, { timeMs: T0 + week * EPOCH_MS, site: `s${week}.example`, topics: sure(100) });
  }
  assert.equal(Object.keys(s.epochs).length, MAX_EPOCHS);
  const [row] = evidence(s, { timeMs: T0 + 5 * EPOCH_MS });
  assert.equal(row.visits, 4);
  assert.equal(row.days, 4);
  assert.equal(row.sites.length, 4);
  assert.equal(epochOf(T0 + EPOCH_MS - 1), 100);
  assert.equal(dayOf(T0 + 3 * DAY_MS + 5), 3);
});

test("counts from an older version (no days, no confidence) are dropped", () => {
  const old = { epochs: { [epochOf(T0)]: { 100: { visits: 5, sites: ["a.example"] } } }, blocked: [7] };
  assert.deepEqual(prune(old, T0), { epochs: { [epochOf(T0)]: {} }, blocked: [7] });
  assert.deepEqual(evidence(old, { timeMs: T0 }), []);
});

test("removed categories come back with new visits; blocked ones never", () => {
  let s = record(emptyState(), { timeMs: T0, site: "a.example", topics: sure(100, 173) });
  s = removeTopic(s, 100);
  s = blockTopic(s, 173);
  assert.deepEqual(evidence(s, { timeMs: T0 }), []);
  s = record(s, { timeMs: T0, site: "a.example", topics: sure(100, 173) });
  assert.deepEqual(evidence(s, { timeMs: T0 }).map((r) => r.topicId), [100]);
  assert.deepEqual(s.blocked, [173]);
});

test("removing a site removes what it contributed to every category", () => {
  let s = emptyState();
  for (const day of [0, 1]) {
    s = record(s, { timeMs: T0 + day * DAY_MS, site: "a.example", topics: sure(100, 173) });
    s = record(s, { timeMs: T0 + day * DAY_MS, site: "b.example", topics: sure(100) });
  }
  assert.deepEqual(summarize(s, { timeMs: T0 + DAY_MS }).map((r) => r.topicId), [100, 173]);
  const reviewed = toDisclosure(summarize(s, { timeMs: T0 + DAY_MS }));
  s = removeSite(s, "a.example");
  assert.ok(!JSON.stringify(s).includes("a.example"));
  const [books, ...rest] = evidence(s, { timeMs: T0 + DAY_MS });
  assert.deepEqual(books.sites, [{ site: "b.example", visits: 2 }]);
  assert.deepEqual(rest, []);
  // What was reviewed before the removal: only what is still proposed is shared.
  assert.deepEqual(stillCounted(s, reviewed, T0 + DAY_MS).map((c) => c.topic_id), [100]);
});

test("the disclosure weighs categories against the strongest evidence", () => {
  assert.deepEqual(toDisclosure([{ topicId: 1, evidence: 4 }, { topicId: 2, evidence: 2 }]), [
    { topic_id: 1, weight: 1 },
    { topic_id: 2, weight: 0.5 },
  ]);
  assert.deepEqual(toDisclosure([]), []);
});

test("record does not change the state it was given", () => {
  const s = emptyState();
  record(s, { timeMs: T0, site: "a.example", topics: sure(1) });
  assert.deepEqual(s, emptyState());
});
