// provider.mjs - a real OpenID provider for the single sign-on tests
// (test-oidc.sh): the npm package oidc-provider, on loopback http.
//
//   OIDC_PORT=9000 OIDC_KEYS=keys.json OIDC_WEB_REDIRECT=URL \
//   OIDC_WEB_SECRET=S node provider.mjs
//
// Clients: jit-web (confidential, authorization code flow with PKCE, ID
// tokens RS256, redirect OIDC_WEB_REDIRECT) and jit-cli (public, device
// authorization grant, ID tokens ES256).  Users (password "pw-NAME"):
// alice (dev), bob (sre), eve (no groups; not in the tests' policy).
// Signing in with the one-time code 123456 as well makes "amr" say
// ["pwd", "otp"]; without it ["pwd"].  The ID token carries
// preferred_username, email, email_verified and groups.
//
// The signing keys (private JWKs) are read from OIDC_KEYS; SIGHUP reads
// them again and swaps in a provider with the new keys (a key rotation;
// sessions and grants live on in the shared memory adapter).  The
// login and consent pages are this file's own (/interaction/UID): plain
// forms that curl and a browser can fill in.  Prints "listening on URL"
// once it accepts connections.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const keysFile = process.env.OIDC_KEYS;

const users = {
  alice: { groups: ['dev'] },
  bob: { groups: ['sre'] },
  eve: { groups: [] },
};

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>
${body}</body></html>`;
}

async function findAccount(ctx, id) {
  const u = users[id];
  if (!u) return undefined;
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: id,
        email: `${id}@example.test`,
        email_verified: true,
        groups: u.groups,
      };
    },
  };
}

function configuration(jwks) {
  return {
    clients: [
      {
        client_id: 'jit-web',
        client_secret: process.env.OIDC_WEB_SECRET,
        redirect_uris: [process.env.OIDC_WEB_REDIRECT],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
      {
        client_id: 'jit-cli',
        grant_types: ['urn:ietf:params:oauth:grant-type:device_code'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'none',
        application_type: 'native',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks,
    findAccount,
    claims: {
      openid: ['sub', 'amr', 'auth_time'],
      profile: ['preferred_username'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // The profile claims go into the ID token itself, as jit-ca reads
    // them from there.
    conformIdTokenClaims: false,
    cookies: { keys: ['jit-ssh oidc test cookie key'] },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource(ctx, form) {
          ctx.body = page('Enter the code', `${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`);
        },
        userCodeConfirmSource(ctx, form, client, info, code) {
          ctx.body = page('Confirm the device', `<p>Code ${esc(code)}</p>
${form}<button type="submit" form="op.deviceConfirmForm">Continue</button>`);
        },
        successSource(ctx) {
          ctx.body = page('Signed in', '<p id="done">You may close this '
            + 'page.</p>');
        },
      },
    },
    pkce: { required: () => true },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<p id="error">${esc(out.error)}: `
        + `${esc(out.error_description || '')}</p>`);
    },
  };
}

let provider;

function load() {
  const jwks = JSON.parse(readFileSync(keysFile, 'utf8'));
  const p = new Provider(issuer, configuration(jwks));
  p.proxy = false;
  provider = p;
  return jwks.keys.map((k) => k.kid).join(',');
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      data += d;
      if (data.length > 65536) reject(new Error('too large'));
    });
    req.on('end', () => resolve(new URLSearchParams(data)));
    req.on('error', reject);
  });
}

function send(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
}

// The login page, its answer, and consent given at once.
async function interaction(req, res) {
  const p = provider;
  const details = await p.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await p.Grant.find(details.grantId)
      : new p.Grant({ accountId: details.session.accountId,
        clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(
      d.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await p.interactionFinished(req, res, { consent: { grantId } },
      { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'GET') {
    send(res, 200, page('Sign in', `<form id="login" method="post"
action="/interaction/${esc(uid)}">
<input name="login" autocomplete="username">
<input name="password" type="password">
<input name="otp" placeholder="one-time code (optional)">
<button type="submit" id="submit">Sign in</button></form>`));
    return;
  }
  const form = await readForm(req);
  const login = form.get('login') || '';
  if (!users[login] || form.get('password') !== `pw-${login}`) {
    send(res, 403, page('Sign in', '<p id="error">wrong user name or '
      + 'password</p>'));
    return;
  }
  const amr = form.get('otp') === '123456' ? ['pwd', 'otp'] : ['pwd'];
  await p.interactionFinished(req, res,
    { login: { accountId: login, amr } },
    { mergeWithLastSubmission: false });
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((e) => {
      send(res, 400, page('Error', `<p id="error">${esc(e.message)}</p>`));
    });
    return;
  }
  provider.callback()(req, res);
});

process.on('SIGHUP', () => {
  const kids = load();
  console.log(`keys reloaded: ${kids}`);
});

const kids = load();
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on ${issuer} (keys ${kids})`);
});
