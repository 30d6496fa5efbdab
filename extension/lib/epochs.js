/**
 * Browsing-category evidence per weekly epoch, kept on the device (4 epochs at most), and
 * what it is worth: a category is proposed for sharing only once there is enough of it.
 * Pure: the state is a plain object the caller stores in chrome.storage.local.
 *
 * What is kept, per epoch, per category, per site (a registrable domain): the number of
 * visits, the days of the week they fell on (0-6, not the time), and the sum of the
 * classifier's confidence over those visits. No page address, no title, no time.
 * @module epochs
 */

import { t } from "./i18n.js";

/** One day. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** One epoch is a week. */
export const EPOCH_MS = 7 * DAY_MS;
/** Epochs kept: the current one and the three before it. */
export const MAX_EPOCHS = 4;
/** Sites remembered per category and epoch, as evidence. */
export const MAX_SITES = 50;
/**
 * The evidence a category needs before it is proposed: about two days of visits to a site
 * clearly about it, or three such sites on one day (see {@link evidenceOf}).
 */
export const MIN_EVIDENCE = 2;
/** At most this many categories are shown for review, and so may be shared. */
export const MAX_SHARED = 10;
/** A classifier score at or above this is full confidence (a site it knows by name). */
const SURE_SCORE = 2;

/**
 * An empty state: no counts, nothing blocked.
 * @returns {{epochs: Object<string, Object<string, Object<string, {v: number, d: number[], c: number}>>>, blocked: number[]}}
 */
export function emptyState() {
  return { epochs: {}, blocked: [] };
}

/**
 * The epoch a time falls in.
 * @param {number} timeMs
 * @returns {number}
 */
export function epochOf(timeMs) {
  return Math.floor(timeMs / EPOCH_MS);
}

/**
 * The day of its epoch a time falls on, 0-6.
 * @param {number} timeMs
 * @returns {number}
 */
export function dayOf(timeMs) {
  return Math.floor(timeMs / DAY_MS) - epochOf(timeMs) * 7;
}

/**
 * How sure the classifier is that a page is about a category, in [0, 1]: its score out of
 * {@link SURE_SCORE}, scaled down when the page fits another category much better (a
 * sports news title that also matches "Sports Cars" is weak evidence of sports cars).
 * @param {number} score the category's score for the page
 * @param {number} best the page's best score
 * @returns {number}
 */
export function confidenceOf(score, best) {
  if (!(score > 0) || !(best > 0)) return 0;
  const value = Math.min(1, score / SURE_SCORE) * Math.sqrt(Math.min(1, score / best));
  return Math.round(value * 100) / 100;
}

/**
 * What the evidence for one category is worth: how sure the classifier was (mean
 * confidence), times the days it was seen on, plus half a day for each further site and a
 * tenth for each further visit (at most five count). Visiting one page many times in a day
 * is worth little; coming back on other days, or to other sites, is worth more.
 * @param {{visits: number, days: number, sites: number, confidence: number}} e
 * @returns {number}
 */
export function evidenceOf({ visits, days, sites, confidence }) {
  if (!visits) return 0;
  const extraSites = Math.max(0, sites - 1);
  const extraVisits = Math.min(5, Math.max(0, visits - days));
  return confidence * (days + 0.5 * extraSites + 0.1 * extraVisits);
}

// A site's entry in the current format: {v: visits, d: days, c: summed confidence}.
const isEntry = (e) => e && Number.isInteger(e.v) && Array.isArray(e.d) && typeof e.c === "number";

/**
 * Drop epochs older than the last {@link MAX_EPOCHS} (relative to `timeMs`), and counts
 * kept by an older version of the extension (they had no days nor confidence).
 * @param {ReturnType<typeof emptyState>} state
 * @param {number} timeMs
 * @returns {ReturnType<typeof emptyState>} a new state
 */
export function prune(state, timeMs) {
  const oldest = epochOf(timeMs) - (MAX_EPOCHS - 1);
  const epochs = {};
  for (const [epoch, topics] of Object.entries(state?.epochs || {})) {
    if (Number(epoch) < oldest || Number(epoch) > epochOf(timeMs)) continue;
    const kept = {};
    for (const [id, sites] of Object.entries(topics || {})) {
      const good = Object.entries(sites || {}).filter(([, e]) => isEntry(e));
      if (good.length) kept[id] = Object.fromEntries(good);
    }
    epochs[epoch] = kept;
  }
  return { epochs, blocked: [...(state?.blocked || [])] };
}

/**
 * Count one visit to a page of `site` classified into `topics` (blocked ones are not).
 * @param {ReturnType<typeof emptyState>} state
 * @param {{timeMs: number, site: string, topics: Array<{topicId: number, confidence: number}>}} visit
 * @returns {ReturnType<typeof emptyState>} a new state
 */
export function record(state, { timeMs, site, topics }) {
  const next = prune(state, timeMs);
  const key = String(epochOf(timeMs));
  const day = dayOf(timeMs);
  const epoch = { ...(next.epochs[key] || {}) };
  const seen = new Set();
  for (const { topicId, confidence } of topics) {
    if (seen.has(topicId) || next.blocked.includes(topicId)) continue;
    seen.add(topicId);
    const sites = { ...(epoch[topicId] || {}) };
    const entry = sites[site];
    if (!entry && Object.keys(sites).length >= MAX_SITES) continue;
    const sure = Math.min(1, Math.max(0, Number(confidence) || 0));
    sites[site] = entry
      ? { v: entry.v + 1, d: entry.d.includes(day) ? entry.d : [...entry.d, day].sort(),
          c: Math.round((entry.c + sure) * 100) / 100 }
      : { v: 1, d: [day], c: sure };
    epoch[topicId] = sites;
  }
  next.epochs[key] = epoch;
  return next;
}

/**
 * Every category counted over the kept epochs, with its evidence, strongest first:
 * visits, distinct days, the sites (each with its visits, most first), the mean
 * confidence, what that is worth ({@link evidenceOf}) and whether it is enough to propose.
 * @param {ReturnType<typeof emptyState>} state
 * @param {{timeMs: number}} options
 * @returns {Array<{topicId: number, visits: number, days: number, sites: Array<{site: string, visits: number}>, confidence: number, evidence: number, proposed: boolean}>}
 */
export function evidence(state, { timeMs }) {
  const kept = prune(state, timeMs);
  const totals = new Map();
  for (const [epoch, topics] of Object.entries(kept.epochs)) {
    for (const [id, sites] of Object.entries(topics)) {
      if (kept.blocked.includes(Number(id))) continue;
      const total = totals.get(id) || { visits: 0, days: new Set(), sites: new Map(), sure: 0 };
      for (const [site, e] of Object.entries(sites)) {
        total.visits += e.v;
        total.sure += e.c;
        e.d.forEach((day) => total.days.add(`${epoch}:${day}`));
        total.sites.set(site, (total.sites.get(site) || 0) + e.v);
      }
      totals.set(id, total);
    }
  }
  return [...totals]
    .map(([id, t]) => {
      const row = {
        topicId: Number(id),
        visits: t.visits,
        days: t.days.size,
        sites: [...t.sites]
          .map(([site, visits]) => ({ site, visits }))
          .sort((a, b) => b.visits - a.visits || a.site.localeCompare(b.site)),
        confidence: t.visits ? Math.round((t.sure / t.visits) * 100) / 100 : 0,
      };
      const worth = evidenceOf({ ...row, sites: row.sites.length });
      return { ...row, evidence: Math.round(worth * 100) / 100, proposed: worth >= MIN_EVIDENCE };
    })
    .filter((row) => row.visits > 0)
    .sort((a, b) => b.evidence - a.evidence || b.visits - a.visits || a.topicId - b.topicId);
}

/**
 * The categories proposed for sharing: those with enough evidence, strongest first, at
 * most `limit`.
 * @param {ReturnType<typeof emptyState>} state
 * @param {{timeMs: number, limit?: number}} options
 */
export function summarize(state, { timeMs, limit = MAX_SHARED }) {
  return evidence(state, { timeMs }).filter((row) => row.proposed).slice(0, limit);
}

/**
 * Remove a category's counts (it may come back with new visits).
 * @param {ReturnType<typeof emptyState>} state
 * @param {number} topicId
 * @returns {ReturnType<typeof emptyState>}
 */
export function removeTopic(state, topicId) {
  const epochs = {};
  for (const [epoch, topics] of Object.entries(state.epochs || {})) {
    const { [topicId]: _gone, ...rest } = topics;
    epochs[epoch] = rest;
  }
  return { epochs, blocked: [...(state.blocked || [])] };
}

/**
 * Remove everything a site contributed, to every category (new visits count again).
 * @param {ReturnType<typeof emptyState>} state
 * @param {string} site
 * @returns {ReturnType<typeof emptyState>}
 */
export function removeSite(state, site) {
  const epochs = {};
  for (const [epoch, topics] of Object.entries(state.epochs || {})) {
    const kept = {};
    for (const [id, sites] of Object.entries(topics)) {
      const { [site]: _gone, ...rest } = sites;
      if (Object.keys(rest).length) kept[id] = rest;
    }
    epochs[epoch] = kept;
  }
  return { epochs, blocked: [...(state.blocked || [])] };
}

/**
 * Remove a category and never count it again.
 * @param {ReturnType<typeof emptyState>} state
 * @param {number} topicId
 * @returns {ReturnType<typeof emptyState>}
 */
export function blockTopic(state, topicId) {
  const next = removeTopic(state, topicId);
  if (!next.blocked.includes(topicId)) next.blocked.push(topicId);
  return next;
}

/**
 * The `browsing_categories` disclosure value for the proposed categories: weights
 * relative to the strongest evidence, in (0, 1].
 * @param {Array<{topicId: number, evidence: number}>} summary
 * @returns {Array<{topic_id: number, weight: number}>}
 */
export function toDisclosure(summary) {
  const top = Math.max(0, ...summary.map((s) => s.evidence));
  if (!top) return [];
  return summary.map((s) => ({
    topic_id: s.topicId,
    weight: Math.max(0.01, Math.round((s.evidence / top) * 100) / 100),
  }));
}

/**
 * Check the list the review page showed and asks to share: an array of at most
 * {@link MAX_SHARED} `{topic_id, weight}`, integer ids of known topics, each once, weights
 * in (0, 1].
 * @param {unknown} shown
 * @param {(topicId: number) => boolean} knownTopic
 * @returns {Array<{topic_id: number, weight: number}>} a clean copy
 * @throws {Error} saying what is wrong
 */
export function checkShown(shown, knownTopic) {
  if (!Array.isArray(shown)) throw new Error(t("share_list_missing"));
  if (shown.length > MAX_SHARED) throw new Error(t("share_too_many", MAX_SHARED));
  const seen = new Set();
  return shown.map((item) => {
    const topicId = item?.topic_id;
    const weight = item?.weight;
    if (!Number.isInteger(topicId) || !knownTopic(topicId)) {
      throw new Error(t("share_unknown_topic", JSON.stringify(topicId)));
    }
    if (seen.has(topicId)) throw new Error(t("share_topic_twice", String(topicId)));
    seen.add(topicId);
    if (typeof weight !== "number" || !(weight > 0 && weight <= 1)) {
      throw new Error(t("share_bad_weight", String(topicId)));
    }
    return { topic_id: topicId, weight };
  });
}

/**
 * Of the categories the consumer reviewed, those still proposed now (not removed, not
 * blocked, not fallen below the minimum of evidence because a site was removed since),
 * with the weights the consumer saw. Never adds a category.
 * @param {ReturnType<typeof emptyState>} state
 * @param {Array<{topic_id: number, weight: number}>} reviewed
 * @param {number} timeMs
 * @returns {Array<{topic_id: number, weight: number}>}
 */
export function stillCounted(state, reviewed, timeMs) {
  const present = new Set(summarize(state, { timeMs, limit: Infinity }).map((s) => s.topicId));
  return reviewed.filter((c) => present.has(c.topic_id));
}

/**
 * Forget every count but keep the Block list: a blocked category stays blocked.
 * @param {ReturnType<typeof emptyState>} state
 * @returns {ReturnType<typeof emptyState>}
 */
export function forgetCounts(state) {
  return { epochs: {}, blocked: [...(state.blocked || [])] };
}
