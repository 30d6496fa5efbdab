/**
 * PKCE (RFC 7636) with S256, on WebCrypto. Pure: the crypto object is a parameter, so the
 * same code runs in the extension and under node --test.
 * @module pkce
 */

/**
 * base64url without padding.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function base64url(bytes) {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A random string of `size` bytes, base64url (43 characters for 32 bytes).
 * @param {Crypto} crypto WebCrypto (globalThis.crypto)
 * @param {number} [size=32]
 * @returns {string}
 */
export function randomString(crypto, size = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

/**
 * The S256 challenge of a verifier: base64url(SHA-256(verifier)).
 * @param {Crypto} crypto
 * @param {string} verifier
 * @returns {Promise<string>}
 */
export async function s256(crypto, verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/**
 * A fresh verifier, its challenge and a state value.
 * @param {Crypto} crypto
 * @returns {Promise<{verifier: string, challenge: string, state: string}>}
 */
export async function newPkce(crypto) {
  const verifier = randomString(crypto, 48);
  return { verifier, challenge: await s256(crypto, verifier), state: randomString(crypto, 16) };
}
