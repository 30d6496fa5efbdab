/**
 * The Sayso API client. Pure: `fetch` and the token store are parameters, so it runs under
 * node --test against a stubbed fetch.
 * @module api
 */

import { t } from "./i18n.js";

/** The extension's OAuth client id, registered by `sayso init`. */
export const CLIENT_ID = "sayso-extension";
/** The one scope the extension asks for. */
export const SCOPE = "consent:manage";
/** Where Sayso runs unless the consumer says otherwise on the options page. */
export const DEFAULT_SAYSO_URL = "http://127.0.0.1:5000";

/** What went wrong: the catalogue key of the words the popup shows, with the way out. */
export const ERROR_KINDS = {
  unreachable: "error_unreachable",
  signed_out: "error_signed_out",
  revoked: "error_revoked",
  not_found: "error_not_found",
  failed: "error_failed",
};

/** An error with a `kind` from {@link ERROR_KINDS} and the HTTP status, if any. */
export class SaysoError extends Error {
  /**
   * @param {keyof ERROR_KINDS} kind
   * @param {number} [status]
   * @param {string} [detail]
   */
  constructor(kind, status = 0, detail = "") {
    super(detail || t(ERROR_KINDS[kind]));
    this.kind = kind;
    this.status = status;
  }
}

/**
 * Whether a URL's host is this computer as the manifest names it (`localhost` or
 * `127.0.0.1`, the only http hosts it may ask access to): the only hosts plain http may be
 * used with.
 * @param {URL} url
 * @returns {boolean}
 */
export function isLoopback(url) {
  return url.hostname === "localhost" || url.hostname === "127.0.0.1";
}

/**
 * Normalise a Sayso URL: https, or http on this computer only; no trailing slash, no path.
 * @param {string} value
 * @returns {string}
 * @throws {Error} saying in words what is wrong with the address
 */
export function normalizeSaysoUrl(value) {
  let url;
  try {
    url = new URL(String(value).trim());
  } catch {
    throw new Error(t("address_not_url"));
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(t("address_bad_scheme"));
  }
  if (url.protocol === "http:" && !isLoopback(url)) {
    throw new Error(t("address_plain_http", url.host));
  }
  return url.origin;
}

/**
 * The host permissions the manifest lets the extension ask for (its
 * `optional_host_permissions`): asking for anything else makes the browser answer "Only
 * permissions specified in the manifest may be requested.", so it is never asked.
 */
export const ASKABLE_ORIGINS = ["http://127.0.0.1/*", "http://localhost/*", "https://*/*"];

/**
 * Check a Sayso address the consumer typed, before the browser is asked for anything.
 * @param {string} value
 * @returns {{saysoUrl: string, pattern: string}} the address as it is kept, and the host
 *   permission it needs (one of {@link ASKABLE_ORIGINS} covers it)
 * @throws {Error} saying in words what is wrong with the address
 */
export function checkSaysoAddress(value) {
  const text = String(value ?? "").trim();
  if (!text) throw new Error(t("address_empty"));
  if (!/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    throw new Error(t("address_no_scheme", text.replace(/^\/+/, "")));
  }
  const saysoUrl = normalizeSaysoUrl(text);
  const url = new URL(saysoUrl);
  const pattern = `${url.protocol}//${url.hostname}/*`;
  const covered = url.protocol === "https:" || ASKABLE_ORIGINS.includes(pattern);
  if (!covered) {
    // normalizeSaysoUrl refuses every other http address; kept as a last guard so the
    // browser's own error never reaches the consumer.
    throw new Error(t("address_not_covered"));
  }
  return { saysoUrl, pattern };
}

/**
 * The origin an `iss` names, or null if it is not an http(s) URL of an origin alone.
 * @param {string} iss
 * @returns {string|null}
 */
function issuerOrigin(iss) {
  try {
    const url = new URL(iss);
    const bare = (url.pathname === "/" || url.pathname === "") && !url.search && !url.hash;
    return (url.protocol === "https:" || url.protocol === "http:") && bare ? url.origin : null;
  } catch {
    return null;
  }
}

/**
 * The authorization URL the sign-in window opens.
 * @param {string} saysoUrl
 * @param {{redirectUri: string, challenge: string, state: string}} p
 * @returns {string}
 */
export function authorizeUrl(saysoUrl, { redirectUri, challenge, state }) {
  const params = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: redirectUri,
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  return `${normalizeSaysoUrl(saysoUrl)}/oauth/authorize?${params}`;
}

/**
 * The code from the redirect the sign-in window ended on, after checking state and iss.
 * The answer must name the Sayso the extension asked (RFC 9207 `iss`, which Sayso puts in
 * every answer, errors too): one that names another server, or none, is refused, as a code
 * it carries may be another server's (a mix-up attack).
 * @param {string} redirectedTo
 * @param {{state: string, saysoUrl: string}} expected
 * @returns {string}
 */
export function codeFromRedirect(redirectedTo, { state, saysoUrl }) {
  const params = new URL(redirectedTo).searchParams;
  if (params.get("state") !== state) throw new SaysoError("failed", 0, t("sign_in_state_mismatch"));
  const iss = params.get("iss");
  if (!iss) {
    throw new SaysoError("failed", 0, t("sign_in_no_iss"));
  }
  if (issuerOrigin(iss) !== normalizeSaysoUrl(saysoUrl)) {
    throw new SaysoError("failed", 0, t("sign_in_other_server"));
  }
  if (params.get("error")) {
    throw new SaysoError("failed", 0, t("sign_in_not_allowed", params.get("error")));
  }
  const code = params.get("code");
  if (!code) throw new SaysoError("failed", 0, t("sign_in_no_code"));
  return code;
}

/**
 * The one place the extension's token lives, shared by every client the controller builds
 * (it builds one per message). Two guarantees the server's refresh-token rotation needs:
 * one refresh at a time (every caller that finds the token expired waits for the same
 * refresh, because presenting a refresh token twice revokes the whole sign-in), and
 * compare-and-delete (a failed call forgets the token only if it is still the one it used,
 * never a newer one another call stored meanwhile).
 * @param {{read: () => Promise<object|null>, write: (t: object) => Promise<void>, remove: () => Promise<void>}} storage
 */
export function createTokenStore({ read, write, remove }) {
  let refreshing = null;
  return {
    /** @returns {Promise<object|null>} the stored token */
    get: read,
    /** @param {object} token store it (replacing any other) */
    set: write,
    /** Forget the stored token, whichever it is (sign-out, another Sayso). */
    clear: remove,
    /**
     * Forget the stored token only if it still matches `used` on the fields `used` names
     * (`access_token` and/or `refresh_token`).
     * @param {object} used
     * @returns {Promise<boolean>} whether it was forgotten
     */
    async forget(used) {
      const current = await read();
      if (!current) return false;
      for (const [key, value] of Object.entries(used)) {
        if (current[key] !== value) return false;
      }
      await remove();
      return true;
    },
    /**
     * Run `refresh` unless one is already running, in which case wait for that one.
     * @template T
     * @param {() => Promise<T>} refresh
     * @returns {Promise<T>}
     */
    refreshOnce(refresh) {
      refreshing ??= refresh().finally(() => { refreshing = null; });
      return refreshing;
    },
  };
}

/**
 * A client for one Sayso server.
 * @param {{saysoUrl: string, fetch: typeof fetch, tokens: ReturnType<typeof createTokenStore>, now?: () => number}} options
 */
export function createSaysoClient({ saysoUrl, fetch, tokens, now = () => Date.now() }) {
  const base = normalizeSaysoUrl(saysoUrl);

  async function send(path, init = {}) {
    try {
      // Never cookies: the extension speaks to Sayso only with its own bearer token.
      return await fetch(`${base}${path}`, { credentials: "omit", ...init });
    } catch (error) {
      throw new SaysoError("unreachable", 0,
        t("error_with_detail", t(ERROR_KINDS.unreachable), error.message));
    }
  }

  async function tokenRequest(form) {
    const response = await send("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: CLIENT_ID, ...form }).toString(),
    });
    if (!response.ok) {
      throw new SaysoError(response.status === 400 ? "revoked" : "failed", response.status);
    }
    const body = await response.json();
    const token = {
      access_token: body.access_token,
      refresh_token: body.refresh_token || null,
      expires_at: now() + (Number(body.expires_in) || 0) * 1000,
      issuer: base, // the server it may be sent to, and no other
    };
    await tokens.set(token);
    return token;
  }

  const fresh = (token) => token.expires_at - 30_000 > now();

  /** The stored access token, refreshed first if it has (nearly) expired. */
  async function accessToken() {
    const token = await tokens.get();
    if (!token) throw new SaysoError("signed_out");
    if (fresh(token)) return token.access_token;
    return tokens.refreshOnce(refresh);
  }

  /** One refresh; runs alone (see createTokenStore). */
  async function refresh() {
    // Read again: another caller may have refreshed between our read and getting here.
    const token = await tokens.get();
    if (!token) throw new SaysoError("signed_out");
    if (fresh(token)) return token.access_token;
    if (!token.refresh_token) {
      await tokens.forget({ access_token: token.access_token });
      throw new SaysoError("revoked");
    }
    try {
      return (
        await tokenRequest({ grant_type: "refresh_token", refresh_token: token.refresh_token })
      ).access_token;
    } catch (error) {
      // Only the token whose refresh token was refused; never one stored since.
      if (error.kind === "revoked") await tokens.forget({ refresh_token: token.refresh_token });
      throw error;
    }
  }

  async function authorized(path, init = {}) {
    const access = await accessToken();
    const response = await send(path, {
      ...init,
      headers: { ...(init.headers || {}), Authorization: `Bearer ${access}` },
    });
    if (response.status === 401 || response.status === 403) {
      await tokens.forget({ access_token: access });
      throw new SaysoError("revoked", response.status);
    }
    if (response.status === 404) throw new SaysoError("not_found", 404);
    if (!response.ok) throw new SaysoError("failed", response.status);
    return response.status === 204 ? null : response.json();
  }

  const brandPath = (brandId, field) =>
    `/api/v1/me/grants/${encodeURIComponent(brandId)}` +
    (field ? `/${encodeURIComponent(field)}` : "");

  const questionPath = (id) => `/api/v1/me/questions/${encodeURIComponent(id)}`;

  return {
    base,
    /** Exchange the code from the sign-in redirect for tokens (stored). */
    exchangeCode: (code, verifier, redirectUri) =>
      tokenRequest({
        grant_type: "authorization_code",
        code,
        code_verifier: verifier,
        redirect_uri: redirectUri,
      }),
    /** Sign out: revoke the token at Sayso (best effort) and forget it. */
    async signOut() {
      const token = await tokens.get();
      await tokens.clear();
      if (!token) return;
      const body = new URLSearchParams({
        client_id: CLIENT_ID,
        token: token.refresh_token || token.access_token,
      });
      try {
        await send("/oauth/revoke", {
          method: "POST",
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
          body: body.toString(),
        });
      } catch {
        // Forgotten locally either way; the token expires on its own.
      }
    },
    /** The brand behind a registrable domain, or null. Public: no token sent. */
    async lookup(domain) {
      const response = await send(`/api/v1/brands/lookup?domain=${encodeURIComponent(domain)}`);
      if (response.status === 404) return null;
      if (!response.ok) throw new SaysoError("failed", response.status);
      return response.json();
    },
    /**
     * Every domain a brand claims → the brand's id. Public: no token sent. With the ETag of
     * the list held, an unchanged list answers `{notModified: true}`.
     * @param {string|null} [etag]
     * @returns {Promise<{notModified: true}|{domains: Object<string, string>, etag: string|null}>}
     */
    async directory(etag = null) {
      const response = await send("/api/v1/brands/directory", {
        headers: etag ? { "If-None-Match": etag } : {},
      });
      if (response.status === 304) return { notModified: true };
      if (!response.ok) throw new SaysoError("failed", response.status);
      const body = await response.json();
      if (!body || typeof body.domains !== "object" || Array.isArray(body.domains)) {
        throw new SaysoError("failed", response.status, t("directory_unexpected"));
      }
      return { domains: body.domains, etag: response.headers?.get?.("ETag") || null };
    },
    /** Every brand that holds or held a grant, with its grants. */
    grants: () => authorized("/api/v1/me/grants"),
    /** Grant one field at once. */
    grant: (brandId, field) => authorized(brandPath(brandId, field), { method: "POST" }),
    /** Revoke one field, or (without a field) everything of one brand. */
    revoke: (brandId, field) => authorized(brandPath(brandId, field), { method: "DELETE" }),
    /** Replace the browsing_categories disclosure. */
    shareCategories: (value) =>
      authorized("/api/v1/me/disclosures/browsing_categories", {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ value }),
      }),
    /** The open questions of one brand the consumer grants anything, with their answers. */
    questions: (brandId) =>
      authorized(`/api/v1/me/questions?brand_id=${encodeURIComponent(brandId)}`),
    /** Answer one question, or change the answer. */
    answerQuestion: (id, answer) =>
      authorized(questionPath(id), {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ answer }),
      }),
    /** Remove the answer to one question. */
    clearAnswer: (id) => authorized(questionPath(id), { method: "DELETE" }),
  };
}

/**
 * The fields a brand can see right now, from a `GET /api/v1/me/grants` answer.
 * @param {Array<{brand_id: string, grants: Array<{field: string, active: boolean}>}>} overview
 * @param {string} brandId
 * @returns {string[]}
 */
export function liveFields(overview, brandId) {
  const entry = (overview || []).find((e) => e.brand_id === brandId);
  if (!entry) return [];
  return entry.grants.filter(isLive).map((g) => g.field).sort();
}

/**
 * Whether a grant from the API is live (the server's `active`).
 * @param {{active?: boolean}} grant
 * @returns {boolean}
 */
export function isLive(grant) {
  return grant.active === true;
}
