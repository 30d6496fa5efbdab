/**
 * On-device page classifier: a page's hostname and title → Topics taxonomy v2 ids.
 *
 * Two sources of evidence, both shipped with the extension, nothing fetched:
 * - a domain table (data/domains.json): registrable domain → topic ids, for popular sites;
 * - rules built from the taxonomy's own names (every word of "Cooking & Recipes" is a
 *   keyword of topic 173), plus a short list of everyday synonyms below.
 * Pure: no chrome.* here; the tables are passed in.
 * @module classify
 */

import { normalizeHostname, registrableDomain } from "./domain.js";

/** Words in topic names that say nothing about a page. */
const STOPWORDS = new Set([
  "and", "the", "of", "other", "by", "type", "general", "services", "service", "products",
  "resources", "supplies", "accessories", "equipment", "care", "more", "for", "a", "an",
  "s", "k", "12", "vehicles", "industrial", "events", "listings", "systems", "arts",
]);

/** Everyday words → topic ids, where the taxonomy's names don't say it the way titles do. */
export const SYNONYMS = {
  news: [243], headlines: [243], breaking: [243], politics: [247], election: [247],
  senate: [247], congress: [247], parliament: [247], world: [249], international: [249],
  markets: [561], economy: [561], business: [561], stock: [164], stocks: [164],
  invest: [164], investing: [164], etf: [164], crypto: [164], bitcoin: [164], trading: [164],
  bank: [444], banking: [444], mortgage: [157], loan: [447], loans: [447], credit: [447],
  tax: [151], taxes: [151], budget: [153], money: [153], finance: [149], insurance: [158],
  recipe: [173], recipes: [173], cooking: [173], cook: [173], baking: [451], food: [172],
  restaurant: [462], restaurants: [462], menu: [462], pizza: [464], coffee: [517],
  delivery: [461], grocery: [460], groceries: [460], vegan: [177], vegetarian: [176],
  movie: [12], movies: [12], film: [12], films: [12], cinema: [12], trailer: [12],
  box: [12], imdb: [12], music: [23], song: [23], songs: [23], lyrics: [23], album: [23],
  spotify: [23], radio: [23], podcast: [23], podcasts: [23], concert: [4], concerts: [4],
  tickets: [354], ticket: [354], tv: [363], series: [363], episode: [363], episodes: [363],
  streaming: [365], stream: [364], watch: [363], anime: [351], manga: [351], comic: [351],
  comics: [351], cartoon: [351], celebrity: [350], celebrities: [350], gossip: [350],
  art: [53], design: [53], museum: [53], photography: [56], photo: [56], photos: [56],
  theater: [361], theatre: [361], broadway: [362],
  game: [180], games: [180], gaming: [183], gamer: [183], xbox: [431], playstation: [431],
  nintendo: [431], steam: [183], esports: [187], chess: [465], puzzle: [186],
  car: [57], cars: [57], auto: [57], automotive: [57], motor: [57], suv: [76], truck: [72],
  ev: [375], electric: [375], tesla: [375], motorcycle: [70], bike: [369], bikes: [369],
  bicycle: [369], tires: [379], dealer: [83],
  beauty: [86], makeup: [92], cosmetics: [92], skincare: [385], skin: [385], hair: [99],
  fragrance: [94], perfume: [94], fitness: [97], workout: [97], gym: [392], yoga: [394],
  exercise: [97], training: [391], fashion: [96], style: [96], clothing: [572],
  clothes: [572], apparel: [572], dress: [599], dresses: [599], shoes: [585], shoe: [585],
  sneakers: [586], jewelry: [578], watches: [582], men: [296], women: [298],
  book: [100], books: [100], novel: [100], novels: [100], author: [100], authors: [100],
  reading: [100], literature: [100], poem: [102], poems: [102], poetry: [102],
  audiobook: [396], audiobooks: [396], bookstore: [397], magazine: [400], fanfiction: [398],
  fic: [398], writing: [401], writers: [401],
  software: [140], app: [140], apps: [140], code: [140], coding: [140], programming: [140],
  developer: [140], developers: [140], github: [140], linux: [140], python: [140],
  javascript: [140], api: [140], open: [140], computer: [126], computers: [126],
  tech: [126], technology: [126], laptop: [135], laptops: [135], pc: [126], hardware: [420],
  gpu: [421], cpu: [421], security: [423], cybersecurity: [423], vpn: [423],
  antivirus: [423], password: [423], router: [438], network: [137], wifi: [438],
  electronics: [434], gadgets: [430], camera: [428], cameras: [428], headphones: [425],
  audio: [424], tv_set: [433], phone: [528], phones: [528], smartphone: [528],
  iphone: [528], android: [528], mobile: [528], cloud: [534], hosting: [536], domain: [536],
  domains: [536], seo: [535], web: [533], website: [224], email: [533], mail: [533],
  chat: [532], video_call: [532], internet: [215], broadband: [217], telecom: [215],
  job: [236], jobs: [236], career: [237], careers: [237], hiring: [238], resume: [559],
  salary: [237], course: [541], courses: [541], learn: [227], learning: [227],
  education: [227], school: [542], university: [229], college: [229], students: [227],
  student: [227], tutorial: [227], lessons: [227], language: [277], languages: [277],
  law: [239], legal: [242], lawyer: [242], attorney: [242], court: [239], government: [239],
  gov: [239], official: [239], passport: [239], visa: [239],
  forum: [250], forums: [250], community: [250], discussion: [250], reddit: [250],
  social: [253], friends: [253], followers: [253], profile: [253], dating: [254],
  family: [254], parenting: [258], parents: [258], baby: [260], babies: [260], kids: [258],
  wedding: [254], charity: [562], donate: [562], nonprofit: [562], volunteer: [562],
  pet: [263], pets: [263], dog: [268], dogs: [268], puppy: [268], cat: [267], cats: [267],
  animal: [263], animals: [263], vet: [263], wildlife: [263],
  home: [207], house: [207], garden: [208], gardening: [208], furniture: [482],
  decor: [209], interior: [209], diy: [211], tools: [491], kitchen: [507], mattress: [478],
  appliances: [210], cleaning: [502],
  realestate: [272], estate: [272], homes: [569], apartment: [567], apartments: [567],
  rent: [567], rentals: [567], property: [272], properties: [272],
  shop: [289], shopping: [289], store: [289], deals: [293], deal: [293], coupon: [293],
  coupons: [293], sale: [293], discount: [293], buy: [289], price: [607], prices: [607],
  reviews: [607], review: [607], gifts: [601], gift: [601], toys: [608], toy: [608],
  luxury: [602], marketplace: [603], amazon: [603],
  sport: [299], sports: [299], nfl: [300], football: [325], soccer: [325], nba: [304],
  basketball: [304], mlb: [303], baseball: [303], nhl: [317], hockey: [317], cricket: [309],
  rugby: [322], tennis: [328], golf: [315], f1: [610], formula: [610], racing: [610],
  nascar: [610], boxing: [609], ufc: [609], mma: [609], cycling: [310], running: [323],
  marathon: [323], olympics: [321], ski: [324], skiing: [324], surf: [620], scores: [299],
  league: [299], espn: [299],
  travel: [332], trip: [332], trips: [332], vacation: [629], holiday: [629],
  flight: [334], flights: [334], airline: [334], airlines: [334], airport: [334],
  hotel: [340], hotels: [340], booking: [340], resort: [340], cruise: [337],
  cruises: [337], train: [341], rail: [341], bus: [341], tours: [627], tour: [627],
  rental: [336], destinations: [332], beach: [345], luggage: [343],
  outdoors: [201], hiking: [472], camping: [472], fishing: [202], crafts: [469],
  craft: [469], knitting: [469], sewing: [469], boating: [470], christmas: [471],
  halloween: [471],
};

/**
 * Lower-case words of a text (letters and digits), plural "s" folded away.
 * @param {string} text
 * @returns {string[]}
 */
export function words(text) {
  return (String(text || "").toLowerCase().match(/[a-z0-9]+/g) || []).map(stem);
}

function stem(word) {
  if (word.length > 4 && word.endsWith("ies")) return word.slice(0, -3) + "y";
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1);
  return word;
}

/**
 * Build the lookup tables once, from the shipped data.
 * @param {{domains: Object<string, number[]>, taxonomy: {topics: Array<{id: number, name: string, parent: number|null, depth: number}>}}} data
 * @returns {{domains: Map<string, number[]>, keywords: Map<string, Set<number>>, sizes: Map<number, number>, topics: Map<number, {id: number, name: string, parent: number|null, depth: number}>}}
 */
export function buildTables({ domains, taxonomy }) {
  const topics = new Map(taxonomy.topics.map((t) => [t.id, t]));
  const keywords = new Map();
  const sizes = new Map();
  const add = (word, id) => {
    if (!keywords.has(word)) keywords.set(word, new Set());
    keywords.get(word).add(id);
  };
  for (const topic of taxonomy.topics) {
    const own = [...new Set(words(topic.name))].filter((w) => !STOPWORDS.has(w) && w.length > 1);
    sizes.set(topic.id, Math.max(own.length, 1));
    for (const w of own) add(w, topic.id);
  }
  for (const [word, ids] of Object.entries(SYNONYMS)) {
    for (const id of ids) if (topics.has(id)) add(stem(word), id);
  }
  const table = new Map();
  for (const [domain, ids] of Object.entries(domains || {})) {
    if (domain.startsWith("_")) continue;
    table.set(normalizeHostname(domain), ids.filter((id) => topics.has(id)));
  }
  return { domains: table, keywords, sizes, topics };
}

/**
 * Classify a page. The result is sorted by score, best first (at most `limit`).
 * @param {{hostname: string, title?: string}} page
 * @param {ReturnType<typeof buildTables>} tables
 * @param {{limit?: number, useDomains?: boolean}} [options]
 * @returns {Array<{topicId: number, score: number}>}
 */
export function classify({ hostname, title }, tables, { limit = 5, useDomains = true } = {}) {
  const host = normalizeHostname(hostname).replace(/^www\./, "");
  const scores = new Map();
  const bump = (id, value) => scores.set(id, (scores.get(id) || 0) + value);

  if (useDomains) {
    const site = tables.domains.get(host) || tables.domains.get(registrableDomain(host) || "");
    if (site) site.forEach((id, i) => bump(id, 3 - i * 0.25));
  }

  // Title words count fully; hostname labels (and keywords hidden inside them, such as
  // "recipes" in "allrecipes") count less: a name is weaker evidence than a title.
  const titleWords = new Set(words(title));
  const hostLabels = host.split(".").slice(0, -1).flatMap((label) => label.split("-"));
  const hostWords = new Set(hostLabels.map(stem));
  const matched = new Map();
  const note = (word, weight) => {
    for (const id of tables.keywords.get(word) || []) {
      matched.set(id, (matched.get(id) || 0) + weight);
    }
  };
  for (const word of titleWords) note(word, 1);
  for (const word of hostWords) if (!titleWords.has(word)) note(word, 0.8);
  for (const label of hostLabels) {
    if (label.length < 7) continue;
    for (const [word] of tables.keywords) {
      if (word.length >= 4 && label !== word && label.includes(word) && !hostWords.has(word)) {
        note(word, 0.5);
      }
    }
  }
  for (const [id, hits] of matched) {
    const topic = tables.topics.get(id);
    const coverage = Math.min(hits / tables.sizes.get(id), 1.5);
    bump(id, coverage + 0.05 * topic.depth);
    // A specific topic is evidence for its parents too, more weakly.
    let parent = topic.parent;
    let share = 0.3;
    while (parent != null && tables.topics.has(parent)) {
      bump(parent, coverage * share);
      parent = tables.topics.get(parent).parent;
      share /= 2;
    }
  }
  return [...scores]
    .filter(([, score]) => score >= 0.5)
    .map(([topicId, score]) => ({ topicId, score: Math.round(score * 1000) / 1000 }))
    .sort((a, b) => b.score - a.score || a.topicId - b.topicId)
    .slice(0, limit);
}
