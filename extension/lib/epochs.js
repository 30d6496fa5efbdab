/**
 * Browsing-category counts per weekly epoch, kept on the device (4 epochs at most).
 * Pure: the state is a plain object the caller stores in chrome.storage.local.
 * @module epochs
 */

/** One epoch is a week. */
export const EPOCH_MS = 7 * 24 * 60 * 60 * 1000;
/** Epochs kept: the current one and the three before it. */
export const MAX_EPOCHS = 4;
/** Sites remembered per topic and epoch, as evidence ("4 sites"). */
export const MAX_SITES = 50;

/**
 * An empty state: no counts, nothing blocked.
 * @returns {{epochs: Object<string, Object<string, {visits: number, sites: string[]}>>, blocked: number[]}}
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
 * Drop epochs older than the last {@link MAX_EPOCHS} (relative to `timeMs`).
 * @param {ReturnType<typeof emptyState>} state
 * @param {number} timeMs
 * @returns {ReturnType<typeof emptyState>} a new state
 */
export function prune(state, timeMs) {
  const oldest = epochOf(timeMs) - (MAX_EPOCHS - 1);
  const epochs = {};
  for (const [epoch, counts] of Object.entries(state.epochs || {})) {
    if (Number(epoch) >= oldest && Number(epoch) <= epochOf(timeMs)) epochs[epoch] = counts;
  }
  return { epochs, blocked: [...(state.blocked || [])] };
}

/**
 * Count one visit to a page classified into `topicIds` (blocked topics are not counted).
 * @param {ReturnType<typeof emptyState>} state
 * @param {{timeMs: number, site: string, topicIds: number[]}} visit
 * @returns {ReturnType<typeof emptyState>} a new state
 */
export function record(state, { timeMs, site, topicIds }) {
  const next = prune(state, timeMs);
  const key = String(epochOf(timeMs));
  const counts = { ...(next.epochs[key] || {}) };
  for (const id of new Set(topicIds)) {
    if (next.blocked.includes(id)) continue;
    const entry = counts[id] || { visits: 0, sites: [] };
    const sites = entry.sites.includes(site) || entry.sites.length >= MAX_SITES
      ? entry.sites
      : [...entry.sites, site];
    counts[id] = { visits: entry.visits + 1, sites };
  }
  next.epochs[key] = counts;
  return next;
}

/**
 * The top categories over the kept epochs, with their evidence, most visited first.
 * @param {ReturnType<typeof emptyState>} state
 * @param {{timeMs: number, limit?: number}} options
 * @returns {Array<{topicId: number, visits: number, sites: number}>}
 */
export function summarize(state, { timeMs, limit = 10 }) {
  const kept = prune(state, timeMs);
  const totals = new Map();
  for (const counts of Object.values(kept.epochs)) {
    for (const [id, entry] of Object.entries(counts)) {
      const total = totals.get(id) || { visits: 0, sites: new Set() };
      total.visits += entry.visits;
      entry.sites.forEach((s) => total.sites.add(s));
      totals.set(id, total);
    }
  }
  return [...totals]
    .filter(([id]) => !kept.blocked.includes(Number(id)))
    .map(([id, t]) => ({ topicId: Number(id), visits: t.visits, sites: t.sites.size }))
    .sort((a, b) => b.visits - a.visits || b.sites - a.sites || a.topicId - b.topicId)
    .slice(0, limit);
}

/**
 * Remove a topic's counts (it may come back with new visits).
 * @param {ReturnType<typeof emptyState>} state
 * @param {number} topicId
 * @returns {ReturnType<typeof emptyState>}
 */
export function removeTopic(state, topicId) {
  const epochs = {};
  for (const [epoch, counts] of Object.entries(state.epochs || {})) {
    const { [topicId]: _gone, ...rest } = counts;
    epochs[epoch] = rest;
  }
  return { epochs, blocked: [...(state.blocked || [])] };
}

/**
 * Remove a topic and never count it again.
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
 * The `browsing_categories` disclosure value for a summary: weights relative to the most
 * visited category, in (0, 1].
 * @param {Array<{topicId: number, visits: number}>} summary
 * @returns {Array<{topic_id: number, weight: number}>}
 */
export function toDisclosure(summary) {
  const top = Math.max(0, ...summary.map((s) => s.visits));
  if (!top) return [];
  return summary.map((s) => ({
    topic_id: s.topicId,
    weight: Math.max(0.01, Math.round((s.visits / top) * 100) / 100),
  }));
}

/** At most this many categories are shown for review, and so may be shared. */
export const MAX_SHARED = 10;

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
  if (!Array.isArray(shown)) throw new Error("Send the list of categories shown.");
  if (shown.length > MAX_SHARED) throw new Error(`At most ${MAX_SHARED} categories can be shared.`);
  const seen = new Set();
  return shown.map((item) => {
    const topicId = item?.topic_id;
    const weight = item?.weight;
    if (!Number.isInteger(topicId) || !knownTopic(topicId)) {
      throw new Error(`Unknown topic ${JSON.stringify(topicId)}.`);
    }
    if (seen.has(topicId)) throw new Error(`Topic ${topicId} is listed twice.`);
    seen.add(topicId);
    if (typeof weight !== "number" || !(weight > 0 && weight <= 1)) {
      throw new Error(`The weight of topic ${topicId} must be in (0, 1].`);
    }
    return { topic_id: topicId, weight };
  });
}

/**
 * Of the categories the consumer reviewed, those still counted now (not removed, not
 * blocked since), with the weights the consumer saw. Never adds a topic.
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
 * Forget every count but keep the Block list: a blocked topic stays blocked.
 * @param {ReturnType<typeof emptyState>} state
 * @returns {ReturnType<typeof emptyState>}
 */
export function forgetCounts(state) {
  return { epochs: {}, blocked: [...(state.blocked || [])] };
}
