// chrome.storage.local in memory, for the stores' own tests: `store` is what is stored,
// `calls` every call made (to check a store touches only the keys it owns).

/**
 * @param {object} [initial] what is stored at first
 * @returns {{store: object, calls: Array<{op: string, keys: string[]}>, get: Function, set: Function, remove: Function}}
 */
export function memoryStorage(initial = {}) {
  const store = structuredClone(initial);
  const calls = [];
  return {
    store,
    calls,
    get: async (keys) => {
      calls.push({ op: "get", keys: [...keys] });
      return structuredClone(Object.fromEntries(keys.filter((k) => k in store).map((k) => [k, store[k]])));
    },
    set: async (items) => {
      calls.push({ op: "set", keys: Object.keys(items) });
      Object.assign(store, structuredClone(items));
    },
    remove: async (keys) => {
      calls.push({ op: "remove", keys: [...keys] });
      keys.forEach((k) => delete store[k]);
    },
  };
}

/** Every key a store read, wrote or removed, sorted. */
export const keysTouched = (storage) =>
  [...new Set(storage.calls.flatMap((c) => c.keys))].sort();

/** A clock the test moves: `now()` and `advance(ms)`. */
export function fakeClock(start) {
  let t = start;
  return { now: () => t, advance: (ms) => { t += ms; } };
}
