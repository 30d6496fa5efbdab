// Loads the shipped classifier data for the tests (the extension fetches the same files).
import { readFileSync } from "node:fs";
import { buildTables } from "../lib/classify.js";

const read = (path) => JSON.parse(readFileSync(new URL(`../${path}`, import.meta.url), "utf8"));

export const domains = read("data/domains.json");
export const taxonomy = read("data/taxonomy-v2.json");
export const tables = buildTables({ domains, taxonomy });
export const labeled = read("test/data/labeled-pages.json").pages;
