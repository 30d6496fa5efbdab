/**
 * The Sayso API client. Pure: `fetch` and the token store are parameters, so it runs under
 * node --test against a stubbed fetch.
 * @module api
 */

/** The extension's OAuth client id, registered by `sayso init`. */
export const CLIENT_ID = "sayso-extension";
/** The one scope the extension asks for. */
export const SCOPE = "consent:manage";
/** Where Sayso runs unless the consumer says otherwise on the options page. */
export const DEFAULT_SAYSO_URL = "http://127.0.0.1:5000";

/** What went wrong, in words the popup can show with the way out. */
export const ERROR_KINDS = {
  unreachable: "Sayso can't be reached. Check the Sayso address on the options page.",
  signed_out: "You are signed out. Sign in from the options page.",
  revoked: "Your sign-in was revoked or has expired. Sign in again from the options page.",
  not_found: "Not found.",
  failed: "Sayso refused the request.",
};

/** An error with a `kind` from {@link ERROR_KINDS} and the HTTP status, if any. */
export class SaysoError extends Error {
  /**
   * @param {keyof ERROR_KINDS} kind
   * @param {number} [status]
   * @param {string} [detail]
   */
  constructor(kind, status = 0, detail = "") {
    super(detail || ERROR_KINDS[kind]);
    this.kind = kind;
    this.status = status;
  }
}

/**
 * Normalise a Sayso URL: http(s) only, no trailing slash, no path.
 * @param {string} value
 * @returns {string}
 */
export function normalizeSaysoUrl(value) {
  const url = new URL(String(value).trim());
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error("The Sayso address must start with http:// or https://");
  }
  return url.origin;
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
 * @param {string} redirectedTo
 * @param {{state: string, saysoUrl: string}} expected
 * @returns {string}
 */
export function codeFromRedirect(redirectedTo, { state, saysoUrl }) {
  const params = new URL(redirectedTo).searchParams;
  if (params.get("state") !== state) throw new SaysoError("failed", 0, "Sign-in state mismatch.");
  const iss = params.get("iss");
  if (iss && normalizeSaysoUrl(iss) !== normalizeSaysoUrl(saysoUrl)) {
    throw new SaysoError("failed", 0, "Sign-in answered by another server.");
  }
  if (params.get("error")) {
    throw new SaysoError("failed", 0, `Sign-in not allowed (${params.get("error")}).`);
  }
  const code = params.get("code");
  if (!code) throw new SaysoError("failed", 0, "No code in the sign-in answer.");
  return code;
}

/**
 * A client for one Sayso server.
 * @param {{saysoUrl: string, fetch: typeof fetch, tokens: {get: () => Promise<object|null>, set: (t: object|null) => Promise<void>}, now?: () => number}} options
 */
export function createSaysoClient({ saysoUrl, fetch, tokens, now = () => Date.now() }) {
  const base = normalizeSaysoUrl(saysoUrl);

  async function send(path, init = {}) {
    try {
      // Never cookies: the extension speaks to Sayso only with its own bearer token.
      return await fetch(`${base}${path}`, { credentials: "omit", ...init });
    } catch (error) {
      throw new SaysoError("unreachable", 0, `${ERROR_KINDS.unreachable} (${error.message})`);
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
    };
    await tokens.set(token);
    return token;
  }

  async function accessToken() {
    const token = await tokens.get();
    if (!token) throw new SaysoError("signed_out");
    if (token.expires_at - 30_000 > now()) return token.access_token;
    if (!token.refresh_token) {
      await tokens.set(null);
      throw new SaysoError("revoked");
    }
    try {
      return (
        await tokenRequest({ grant_type: "refresh_token", refresh_token: token.refresh_token })
      ).access_token;
    } catch (error) {
      if (error.kind === "revoked") await tokens.set(null);
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
      await tokens.set(null);
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
      await tokens.set(null);
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
