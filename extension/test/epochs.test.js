import assert from "node:assert/strict";
import { test } from "node:test";
import {
  EPOCH_MS, MAX_EPOCHS, blockTopic, emptyState, epochOf, record, removeTopic, summarize,
  toDisclosure,
} from "../lib/epochs.js";

const T0 = 100 * EPOCH_MS;

test("visits are counted per topic with the sites as evidence", () => {
  let s = emptyState();
  s = record(s, { timeMs: T0, site: "a.example", topicIds: [100, 173] });
  s = record(s, { timeMs: T0 + 1, site: "a.example", topicIds: [100] });
  s = record(s, { timeMs: T0 + 2, site: "b.example", topicIds: [100] });
  assert.deepEqual(summarize(s, { timeMs: T0 }), [
    { topicId: 100, visits: 3, sites: 2 },
    { topicId: 173, visits: 1, sites: 1 },
  ]);
});

test("at most four weekly epochs are kept", () => {
  let s = emptyState();
  for (let week = 0; week < 6; week++) {
    s = record(s, { timeMs: T0 + week * EPOCH_MS, site: `s${week}.example`, topicIds: [100] });
  }
  assert.equal(Object.keys(s.epochs).length, MAX_EPOCHS);
  assert.deepEqual(summarize(s, { timeMs: T0 + 5 * EPOCH_MS }), [
    { topicId: 100, visits: 4, sites: 4 },
  ]);
  assert.equal(epochOf(T0 + EPOCH_MS - 1), 100);
});

test("removed topics come back with new visits; blocked ones never", () => {
  let s = record(emptyState(), { timeMs: T0, site: "a.example", topicIds: [100, 173] });
  s = removeTopic(s, 100);
  s = blockTopic(s, 173);
  assert.deepEqual(summarize(s, { timeMs: T0 }), []);
  s = record(s, { timeMs: T0, site: "a.example", topicIds: [100, 173] });
  assert.deepEqual(summarize(s, { timeMs: T0 }), [{ topicId: 100, visits: 1, sites: 1 }]);
  assert.deepEqual(s.blocked, [173]);
});

test("the disclosure weighs categories against the most visited", () => {
  assert.deepEqual(toDisclosure([{ topicId: 1, visits: 4 }, { topicId: 2, visits: 1 }]), [
    { topic_id: 1, weight: 1 },
    { topic_id: 2, weight: 0.25 },
  ]);
  assert.deepEqual(toDisclosure([]), []);
});

test("record does not change the state it was given", () => {
  const s = emptyState();
  record(s, { timeMs: T0, site: "a.example", topicIds: [1] });
  assert.deepEqual(s, emptyState());
});
