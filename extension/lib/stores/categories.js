/**
 * Browsing categories counted on the device, and what the review page shows and shares of
 * them. Owns the storage keys `categories` (the weekly evidence and the Block list) and
 * `sharedAt` (when they were last shared). Nothing here talks to Sayso.
 * @module stores/categories
 */

import { SaysoError } from "../api.js";
import { classify } from "../classify.js";
import { registrableDomain } from "../domain.js";
import { t } from "../i18n.js";
import { MAX_SHARED, blockTopic, checkShown, confidenceOf, emptyState, evidence, forgetCounts,
  record, removeSite, removeTopic, stillCounted, toDisclosure } from "../epochs.js";

/** The storage key of the counts and the Block list (see epochs.emptyState). */
export const CATEGORIES_KEY = "categories";
/** The storage key of the time the categories were last shared. */
export const SHARED_AT_KEY = "sharedAt";

/**
 * @typedef {object} CategoriesDeps
 * @property {import("./storage.js").KeyValueStorage} storage
 * @property {() => number} now
 * @property {() => Promise<object>} tables classifier tables (see classify.buildTables)
 */

/**
 * The categories store.
 * @param {CategoriesDeps} deps
 */
export function createCategoriesStore({ storage, now, tables }) {
  /** @returns {Promise<ReturnType<typeof emptyState>>} the stored counts */
  const read = async () => (await storage.get([CATEGORIES_KEY]))[CATEGORIES_KEY] || emptyState();
  const write = (state) => storage.set({ [CATEGORIES_KEY]: state });

  /**
   * Count one loaded page's categories. Only inside {@link inTurn}.
   * @param {{hostname: string, title?: string}} page
   */
  async function count({ hostname, title }) {
    const topics = classify({ hostname, title: title || "" }, await tables(), { limit: 3 });
    if (!topics.length) return;
    const best = topics[0].score;
    await write(record(await read(), {
      timeMs: now(),
      site: registrableDomain(hostname),
      topics: topics.map((t) => ({ topicId: t.topicId, confidence: confidenceOf(t.score, best) })),
    }));
  }

  // Every change to the stored counts runs one at a time, in order: each is a
  // read-modify-write, and tab events and the consumer's clicks arrive concurrently (a
  // visit counted at the same moment must not write back counts or blocks just removed).
  let queue = Promise.resolve();
  const turn = { count };

  /**
   * Run `change` once every change to the counts asked for before it is done. It gets
   * `count` (count a loaded page), which may be called only there.
   * @template T
   * @param {(turn: {count: typeof count}) => Promise<T>} change
   * @returns {Promise<T>}
   */
  function inTurn(change) {
    const next = queue.then(() => change(turn));
    queue = next.catch(() => {});
    return next;
  }

  /** Replace the counts with `apply(counts)`, in turn. */
  const update = (apply) => inTurn(async () => write(apply(await read())));

  /**
   * Forget a category's counts (it may come back with new visits).
   * @param {number} topicId
   * @returns {Promise<void>}
   */
  const remove = (topicId) => update((state) => removeTopic(state, topicId));

  /**
   * Forget what one site contributed to every category.
   * @param {string} site registrable domain
   * @returns {Promise<void>}
   * @throws {SaysoError} if `site` is no site
   */
  async function removeSiteCounts(site) {
    if (typeof site !== "string" || !site) throw new SaysoError("failed", 0, t("site_missing"));
    await update((state) => removeSite(state, site));
  }

  /**
   * Forget a category's counts and never count it again.
   * @param {number} topicId
   * @returns {Promise<void>}
   */
  const block = (topicId) => update((state) => blockTopic(state, topicId));

  /**
   * Forget every count and when they were shared; the Block list is kept.
   * @returns {Promise<void>}
   */
  const forget = () => inTurn(async () => {
    await write(forgetCounts(await read()));
    await storage.remove([SHARED_AT_KEY]);
  });

  /**
   * The review page's view: the categories with enough evidence (at most ten, strongest
   * first) with their evidence and the sites that led to each (all on the device), the
   * weight each would be shared with, and how many more were seen too little to propose.
   * @returns {Promise<{top: Array<object>, waiting: number, blocked: number[]}>}
   */
  async function review() {
    const { topics } = await tables();
    const state = await read();
    const all = evidence(state, { timeMs: now() });
    const proposed = all.filter((row) => row.proposed).slice(0, MAX_SHARED);
    const weights = toDisclosure(proposed);
    const top = proposed.map((row, i) => ({
      ...row,
      weight: weights[i].weight,
      name: topics.get(row.topicId)?.name || `Category ${row.topicId}`,
    }));
    return { top, waiting: all.filter((row) => !row.proposed).length, blocked: state.blocked };
  }

  /**
   * What to share of what the review page showed (`shown`: `[{topic_id, weight}]` as
   * drawn): only those still counted now, with the weights shown; never a topic not shown.
   * @param {unknown} shown
   * @returns {Promise<{value: Array<{topic_id: number, weight: number}>, leftOut: number}>}
   * @throws {SaysoError} if `shown` is malformed, or none of it is counted any more
   */
  async function toShare(shown) {
    const { topics } = await tables();
    let reviewed;
    try {
      reviewed = checkShown(shown, (id) => topics.has(id));
    } catch (problem) {
      throw new SaysoError("failed", 0, problem.message);
    }
    const value = stillCounted(await read(), reviewed, now());
    if (reviewed.length && !value.length) {
      throw new SaysoError("failed", 0, t("share_nothing_counted"));
    }
    return { value, leftOut: reviewed.length - value.length };
  }

  /**
   * Note that the categories were shared now.
   * @returns {Promise<void>}
   */
  const markShared = () => storage.set({ [SHARED_AT_KEY]: now() });

  return { read, inTurn, remove, removeSite: removeSiteCounts, block, forget, review, toShare,
    markShared };
}
