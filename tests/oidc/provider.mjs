// provider.mjs - a real OpenID provider for the single sign-on tests
// (test-oidc.sh): the npm package oidc-provider, on loopback http.
//
//   OIDC_DIR=DIR node provider.mjs
//
// It listens on a free loopback port (its issuer is
// http://127.0.0.1:PORT) and reads DIR/keys.json (the signing keys,
// private JWKs) and DIR/web.json ({"redirect_uri": URL, "secret": S} for
// the web page's client).  SIGHUP reads both again and swaps in a
// provider with them (a key rotation; sessions and grants live on in the
// shared memory adapter).
//
// Clients: jit-web (confidential, authorization code flow with PKCE, ID
// tokens RS256) and jit-cli (public, device authorization grant, ID
// tokens ES256).  Users (password "pw-NAME"):
// alice (dev), bob (sre), eve (no groups; not in the tests' policy).
// Signing in with the one-time code 123456 as well makes "amr" say
// ["pwd", "otp"]; without it ["pwd"].  The ID token carries
// preferred_username, email, email_verified and groups.
//
// The login and consent pages are this file's own (/interaction/UID):
// plain forms that curl and a browser can fill in.  Prints "listening on
// URL" once it accepts connections and "reloaded: keys KIDS, redirect
// URL" after each SIGHUP.
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const dir = process.env.OIDC_DIR;
let issuer;

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

function configuration(jwks, web) {
  return {
    clients: [
      {
        client_id: 'jit-web',
        client_secret: web.secret,
        redirect_uris: [web.redirect_uri],
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
  const jwks = JSON.parse(readFileSync(`${dir}/keys.json`, 'utf8'));
  const web = JSON.parse(readFileSync(`${dir}/web.json`, 'utf8'));
  const p = new Provider(issuer, configuration(jwks, web));
  p.proxy = false;
  provider = p;
  return `keys ${jwks.keys.map((k) => k.kid).join(',')}, redirect `
    + `${web.redirect_uri}`;
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
  console.log(`reloaded: ${load()}`);
});

// The issuer names the port, so the provider is made once it is known.
server.listen(0, '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(`listening on ${issuer} (${load()})`);
});
