/**
 * What people call the things Sayso names with ids: the fields and permissions a brand may
 * be granted, in the words of Sayso's own pages. Every page of the extension shows these,
 * never the ids ("interests", "channels", "answers"). Pure: no chrome.* here.
 * @module labels
 */

/** Each field or permission a brand may ask for: a short name and what it lets it see or do. */
export const GRANT_LABELS = {
  interests: { name: "Your interests", about: "topics you said you are interested in" },
  browsing_categories: {
    name: "Your browsing categories",
    about: "the kinds of sites you visit, as you reviewed and shared them",
  },
  channels: {
    name: "How you want to be contacted",
    about: "email, text and the like, how often at most, and when not to",
  },
  contacts: {
    name: "Reports of the messages it sends you",
    about: "so Sayso can check them against how you want to be contacted",
  },
  answers: { name: "Your answers to its questions", about: "only the answers you choose to give" },
};

/**
 * The name people use for a field or permission; an unknown one (say, added to Sayso after
 * this version of the extension) is tidied up rather than shown as an id.
 * @param {string} id e.g. "channels"
 * @returns {string} e.g. "How you want to be contacted"
 */
export function grantName(id) {
  const known = Object.hasOwn(GRANT_LABELS, id) ? GRANT_LABELS[id] : null;
  if (known) return known.name;
  const words = String(id || "").replace(/[_:.-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : "Something unnamed";
}

/**
 * What a field or permission lets a brand see or do, or "" for an unknown one.
 * @param {string} id
 * @returns {string}
 */
export function grantAbout(id) {
  return Object.hasOwn(GRANT_LABELS, id) ? GRANT_LABELS[id].about : "";
}

/**
 * A list of fields and permissions in words, sorted as given: "Your interests and How you
 * want to be contacted" is not what people write, so later names start lower case.
 * @param {string[]} ids
 * @returns {string} "" for none
 */
export function grantList(ids) {
  const names = (ids || []).map((id, i) => {
    const name = grantName(id);
    return i === 0 ? name : name[0].toLowerCase() + name.slice(1);
  });
  if (names.length <= 1) return names.join("");
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
}

/**
 * "1 visit", "3 visits": a count with its noun.
 * @param {number} count
 * @param {string} one the singular
 * @param {string} [many] the plural (one + "s" unless given)
 * @returns {string}
 */
export function counted(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}
