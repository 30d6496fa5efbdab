/**
 * What people call the things Sayso names with ids: the fields and permissions a brand may
 * be granted, in the words of Sayso's own pages. Every page of the extension shows these,
 * never the ids ("interests", "channels", "answers"). Pure: no chrome.* here.
 * @module labels
 */

import { listOf, t } from "./i18n.js";

/**
 * Each field or permission a brand may ask for: the catalogue keys of its short name and of
 * what it lets the brand see or do (messages grant_<id> and grant_<id>_about).
 */
export const GRANT_LABELS = {
  interests: { name: "grant_interests", about: "grant_interests_about" },
  browsing_categories: { name: "grant_browsing_categories", about: "grant_browsing_categories_about" },
  channels: { name: "grant_channels", about: "grant_channels_about" },
  contacts: { name: "grant_contacts", about: "grant_contacts_about" },
  answers: { name: "grant_answers", about: "grant_answers_about" },
  age_band: { name: "grant_age_band", about: "grant_age_band_about" },
  location: { name: "grant_location", about: "grant_location_about" },
  languages: { name: "grant_languages", about: "grant_languages_about" },
  life_stage: { name: "grant_life_stage", about: "grant_life_stage_about" },
  household_size: { name: "grant_household_size", about: "grant_household_size_about" },
  hear_about: { name: "grant_hear_about", about: "grant_hear_about_about" },
};

/**
 * The name people use for a field or permission, in their language; an unknown one (say,
 * added to Sayso after this version of the extension) is tidied up rather than shown as an
 * id.
 * @param {string} id e.g. "channels"
 * @returns {string} e.g. "How you want to be contacted"
 */
export function grantName(id) {
  const known = Object.hasOwn(GRANT_LABELS, id) ? GRANT_LABELS[id] : null;
  if (known) return t(known.name);
  const words = String(id || "").replace(/[_:.-]+/g, " ").trim();
  return words ? words[0].toUpperCase() + words.slice(1) : t("grant_unnamed");
}

/**
 * What a field or permission lets a brand see or do, or "" for an unknown one.
 * @param {string} id
 * @returns {string}
 */
export function grantAbout(id) {
  return Object.hasOwn(GRANT_LABELS, id) ? t(GRANT_LABELS[id].about) : "";
}

/**
 * A list of fields and permissions in words, sorted as given, joined as the language joins
 * lists. "Your interests and How you want to be contacted" is not what people write, so
 * later names start lower case, unless the language keeps capitals (German nouns; the
 * catalogue's lowercase_in_lists says).
 * @param {string[]} ids
 * @returns {string} "" for none
 */
export function grantList(ids) {
  const lower = t("lowercase_in_lists") === "yes";
  const names = (ids || []).map((id, i) => {
    const name = grantName(id);
    return i === 0 || !lower ? name : name[0].toLowerCase() + name.slice(1);
  });
  return names.length ? listOf(names) : "";
}
