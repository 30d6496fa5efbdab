// Classifier quality on a hand-labelled set of real public sites (test/data/labeled-pages.json).
// A page counts as a hit when one of its top-3 topics is the label, or on the label's path
// (its parent chain or a more specific topic under it). Measured numbers go in docs/extension.md.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { classify } from "../lib/classify.js";
import { labeled, tables } from "./tables.js";

function ancestors(id) {
  const chain = new Set();
  for (let t = tables.topics.get(id); t; t = tables.topics.get(t.parent)) chain.add(t.id);
  return chain;
}

function onPath(predicted, label) {
  return ancestors(predicted).has(label) || ancestors(label).has(predicted);
}

/** Top-3 accuracy (exact, and on the label's path) of the classifier on the labelled set. */
export function measure(options) {
  let exact = 0;
  let path = 0;
  for (const page of labeled) {
    const top = classify(page, tables, { limit: 3, ...options }).map((r) => r.topicId);
    if (top.some((id) => page.topics.includes(id))) exact += 1;
    if (top.some((id) => page.topics.some((label) => onPath(id, label)))) path += 1;
  }
  return { pages: labeled.length, exact: exact / labeled.length, path: path / labeled.length };
}

test("the labelled set has at least 300 pages with valid labels", () => {
  assert.ok(labeled.length >= 300, `${labeled.length} pages`);
  for (const page of labeled) for (const id of page.topics) assert.ok(tables.topics.has(id), `${page.hostname}: ${id}`);
});

test("top-3 accuracy with the shipped domain table", () => {
  const result = measure({});
  console.log(`with domain table: ${JSON.stringify(result)}`);
  assert.ok(result.path >= 0.9, JSON.stringify(result));
  assert.ok(result.exact >= 0.75, JSON.stringify(result));
});

test("top-3 accuracy from the title rules alone (domain table left out)", () => {
  const result = measure({ useDomains: false });
  console.log(`rules only: ${JSON.stringify(result)}`);
  assert.ok(result.path >= 0.5, JSON.stringify(result));
});
