// An off-the-shelf JavaScript client against Sayso, as docs/brands.md ("Use an
// off-the-shelf client") shows it: openid-client for the flow, oauth4webapi for discovery,
// both with the OAuth 2 discovery algorithm (RFC 8414), not OpenID Connect's. Run by
// tests/functional/test_off_the_shelf_clients.py, in two steps around the consumer's
// consent (which the test does as a browser would):
//
//   node flow.mjs start   -> {"url", "verifier", "state", "par_endpoint"}  (a pushed request)
//   node flow.mjs finish  -> {"scope", "refreshed_scope", "rotated"}
//
// Settings come from the environment: SAYSO_URL, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// and for `finish` CALLBACK_URL, VERIFIER, STATE. The test's Sayso is plain http on
// loopback, hence allowInsecureRequests; a real one is https.
import * as oauth from "oauth4webapi";
import * as client from "openid-client";

const env = process.env;
const issuer = new URL(env.SAYSO_URL);

async function configuration() {
  return client.discovery(issuer, env.CLIENT_ID, env.CLIENT_SECRET, undefined, {
    algorithm: "oauth2",
    execute: [client.allowInsecureRequests],
  });
}

async function start() {
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, {
      algorithm: "oauth2",
      [oauth.allowInsecureRequests]: true,
    }),
  );
  const config = await configuration();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: env.REDIRECT_URI,
    scope: "interests:read channels:read",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  });
  return { url: url.href, verifier, state, par_endpoint: as.pushed_authorization_request_endpoint };
}

async function finish() {
  const config = await configuration();
  const tokens = await client.authorizationCodeGrant(config, new URL(env.CALLBACK_URL), {
    pkceCodeVerifier: env.VERIFIER,
    expectedState: env.STATE,
  });
  // No scope on the refresh: the new pair covers what the consumer still grants.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  return {
    scope: tokens.scope,
    refreshed_scope: refreshed.scope,
    rotated: refreshed.refresh_token !== tokens.refresh_token,
  };
}

const step = { start, finish }[process.argv[2]];
process.stdout.write(JSON.stringify(await step()) + "\n");
