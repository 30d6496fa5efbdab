import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  INPUT_FOR_KIND, MAX_TEXT, parseTopicIds, prefill, questionsHeading, readAnswer, visibleQuestions,
} from "../lib/questions.js";

const single = { id: 1, kind: "single", options: ["Weekly", "Monthly"], answer: null };
const multiple = { id: 2, kind: "multiple", options: ["Fiction", "Poetry", "Travel"], answer: ["Poetry"] };
const text = { id: 3, kind: "text", options: [], answer: "Mostly at night" };
const topics = { id: 4, kind: "topics", options: [], answer: [215, 239] };

test("each of the four kinds gets a fitting input", () => {
  assert.deepEqual(INPUT_FOR_KIND, { single: "radio", multiple: "checkbox", text: "textarea", topics: "text" });
  assert.equal(questionsHeading("Bookshop"), "Questions from Bookshop");
});

test("single choice: one of the options", () => {
  assert.equal(readAnswer(single, "Weekly"), "Weekly");
  assert.throws(() => readAnswer(single, null), /Choose one/);
  assert.throws(() => readAnswer(single, "Daily"), /not one of the choices/);
});

test("multiple choice: at least one option, deduplicated, in the options' order", () => {
  assert.deepEqual(readAnswer(multiple, ["Travel", "Fiction", "Travel"]), ["Fiction", "Travel"]);
  assert.throws(() => readAnswer(multiple, []), /at least one/);
  assert.throws(() => readAnswer(multiple, ["Cooking"]), /not one of the choices/);
});

test("free text: trimmed, not blank, at most 280 characters counted as the server counts", () => {
  assert.equal(readAnswer(text, "  hi  "), "hi");
  assert.throws(() => readAnswer(text, "   "), /Write an answer/);
  assert.equal(readAnswer(text, "x".repeat(MAX_TEXT)).length, MAX_TEXT);
  assert.throws(() => readAnswer(text, "x".repeat(MAX_TEXT + 1)), /280 characters \(it has 281\)/);
  // 280 emoji are 560 UTF-16 units but 280 characters for the server.
  assert.equal([...readAnswer(text, "😀".repeat(MAX_TEXT))].length, MAX_TEXT);
});

test("taxonomy topics: ids typed with commas or spaces, unique, 1 to 10", () => {
  assert.deepEqual(parseTopicIds("215, 239 215,,  1"), [215, 239, 1]);
  assert.deepEqual(readAnswer(topics, "215,239"), [215, 239]);
  assert.throws(() => readAnswer(topics, ""), /at least one topic/);
  assert.throws(() => readAnswer(topics, "215, books"), /“books” is not a topic id/);
  assert.throws(() => readAnswer(topics, "-3"), /not a topic id/);
  assert.throws(() => readAnswer(topics, Array.from({ length: 11 }, (_, i) => i + 1).join(",")), /at most 10/);
});

test("an unknown kind is refused plainly", () => {
  assert.throws(() => readAnswer({ kind: "ranking", options: [] }, "x"), /can't be answered here/);
});

test("the current answer is pre-filled", () => {
  assert.equal(prefill(single), "");
  assert.equal(prefill({ ...single, answer: "Monthly" }), "Monthly");
  assert.deepEqual(prefill(multiple), ["Poetry"]);
  assert.deepEqual(prefill({ ...multiple, answer: null }), []);
  assert.equal(prefill(text), "Mostly at night");
  assert.equal(prefill(topics), "215, 239");
  assert.equal(prefill({ ...topics, answer: null }), "");
});

test("skipped questions are hidden for the session", () => {
  const all = [single, multiple, text, topics];
  assert.deepEqual(visibleQuestions(all, new Set([2, 4])).map((q) => q.id), [1, 3]);
  assert.deepEqual(visibleQuestions(null, new Set()), []);
});
