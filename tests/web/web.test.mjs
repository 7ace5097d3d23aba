// web.test.mjs PHASE - drive the jit-ssh web page in Debian's chromium
// with puppeteer-core.  Run by test-web.sh, which starts the server,
// makes the users' tokens and requests and passes them in the
// environment; PHASE is "main" (plain HTTP) or "tls" (TLS, a 4 s idle
// timeout).  Prints "ok N - ..." / "not ok N - ..." lines and exits 1 if
// any check failed.
import fs from 'node:fs';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

const env = (k) => {
  if (!process.env[k]) throw new Error('test-web.sh must set ' + k);
  return process.env[k];
};
const JURL = env('JURL');
const phase = process.argv[2] || 'main';
const XSS = '<img src=x onerror=alert(1)></script><script>alert(2)</script>';
const TIMEOUT = 15000;

let n = 0;
let failed = 0;
function check(cond, msg, detail) {
  n++;
  if (cond) {
    console.log('ok ' + n + ' - ' + msg);
  } else {
    failed++;
    console.log('not ok ' + n + ' - ' + msg);
    if (detail !== undefined) console.log('#   ' + String(detail).replace(/\n/g, '\n#   '));
  }
  return cond;
}

const browser = await puppeteer.launch({
  executablePath: env('CHROMIUM'),
  headless: true,
  acceptInsecureCerts: phase === 'tls',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--lang=en-US'],
});

// Each person gets a private browser context (own cookies) and a page
// that records dialogs, console errors and CSP violations.
async function person(width = 1440, height = 900) {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  await page.setViewport({ width, height });
  page.seen = { dialogs: [], errors: [], csp: [] };
  page.on('dialog', async (d) => {
    page.seen.dialogs.push(d.message());
    await d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error') page.seen.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.seen.errors.push(String(e)));
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
  });
  page.ctx = ctx;
  return page;
}

async function cspViolations(page) {
  return page.evaluate(() => window.__csp.slice());
}

async function text(page, sel) {
  return page.$eval(sel, (e) => e.textContent.trim());
}

async function signIn(page, token, user) {
  if (!page.url().startsWith(JURL)) await page.goto(JURL + '/');
  await page.waitForSelector('input[name=token]');
  // Keyboard only: the field has focus at load; Enter submits.
  await page.keyboard.type(token);
  await page.keyboard.press('Enter');
  await page.waitForFunction((u) => {
    const w = document.querySelector('#who-name');
    return w && w.textContent === u && !document.querySelector('#who').hidden;
  }, {}, user);
}

// Open request id's page and wait until it is that request's page (a
// hash change keeps the last page on screen until the new one is drawn).
async function openRequest(page, id) {
  await page.goto(JURL + '/#/r/' + id);
  await page.waitForFunction((i) => {
    const l = document.querySelector('#request-title + .lede');
    return l && l.textContent.includes(i);
  }, {}, id);
}

// Wait for the request page to show state s in its badge.
async function waitState(page, s) {
  await page.waitForFunction((st) => {
    const b = document.querySelector('#request-title .badge');
    return b && b.textContent === st;
  }, {}, s);
}

async function shot(page, name, width) {
  await page.setViewport({ width, height: width > 800 ? 900 : 844 });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await new Promise((ok) => setTimeout(ok, 150));   // layout after resize
  const file = path.join(env('SHOTS'), name + '-' + width + '.png');
  await page.screenshot({ path: file, fullPage: true });
  check(fs.statSync(file).size > 10000, 'screenshot ' + path.basename(file));
}

// Does every form control have a label (a <label for>, or aria-label)?
async function unlabelled(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, textarea, select')]
    .filter((e) => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
    .map((e) => e.name || e.id));
}

async function mainPhase() {
  const STAGING = env('STAGING'), PRODDB = env('PRODDB');
  const DAVE = env('DAVE'), ALICE2 = env('ALICE2');

  // ---- bob signs in and sees alice's request in his inbox ------------------
  const bob = await person();
  let signinResp = null;
  bob.on('response', (r) => {
    if (r.url() === JURL + '/v1/session' && r.request().method() === 'POST') signinResp = r;
  });
  await bob.goto(JURL + '/');
  // The page draws the form once GET /v1/session has answered, which on
  // a busy machine can be after the load event.
  await bob.waitForSelector('input[name=token]');
  check(await bob.$eval('input[name=token]', (e) => document.activeElement === e),
    'the token field has focus at load');
  check((await unlabelled(bob)).length === 0, 'sign-in: every field has a label');
  await signIn(bob, env('TOK_bob'), 'bob');
  check(true, 'bob signs in with his token (keyboard only)');
  const setCookie = signinResp ? signinResp.headers()['set-cookie'] || '' : '';
  check(/^jit_session=jss_/.test(setCookie) && /; HttpOnly/.test(setCookie) &&
    /; SameSite=Strict/.test(setCookie) && /; Path=\//.test(setCookie) &&
    !/Secure/.test(setCookie), 'Set-Cookie: HttpOnly, SameSite=Strict, Path=/ (no Secure over HTTP)', setCookie);
  const cookies = await bob.cookies();
  const c = cookies.find((k) => k.name === 'jit_session');
  check(c && c.httpOnly && c.sameSite === 'Strict' && c.path === '/',
    'the browser keeps the cookie HttpOnly, SameSite=Strict, Path=/', JSON.stringify(cookies));
  const stored = await bob.evaluate(() => JSON.stringify(localStorage) +
    JSON.stringify(sessionStorage) + document.cookie + document.body.innerText);
  check(!stored.includes(env('TOK_bob').slice(4, 20)) && !stored.includes('jss_'),
    'neither the token nor the session id is visible to the page', stored.slice(0, 200));
  check(!(await bob.$('input[name=token]')), 'the sign-in form is gone');
  check(await bob.$eval('#nav a[data-nav="audit"]', (e) => e.hidden),
    'bob (not an auditor) has no audit link');

  await bob.waitForSelector('#inbox');
  const row = await bob.waitForFunction((id) => [...document.querySelectorAll('#inbox tbody tr')]
    .find((tr) => tr.textContent.includes(id)), {}, STAGING);
  const rowText = await row.evaluate((tr) => tr.innerText);
  check(rowText.includes('alice') && rowText.includes('staging'),
    "bob's inbox shows alice's staging request", rowText);
  check(await row.evaluate((tr) => tr.querySelector('td.window').textContent) === '1h from approval',
    'with its window', rowText);
  check(rowText.includes('Deploy the 4.2.1 hotfix to staging') && rowText.includes('0 of 1'),
    'its reason and approvals so far', rowText);
  const inboxIds = await bob.$$eval('#inbox .req-id', (l) => l.map((e) => e.textContent));
  check(inboxIds.indexOf(ALICE2) < inboxIds.indexOf(PRODDB) &&
    inboxIds.indexOf(PRODDB) < inboxIds.indexOf(STAGING), 'newest first', inboxIds.join(' '));
  const prodRow = await bob.evaluate((id) => [...document.querySelectorAll('#inbox tbody tr')]
    .find((tr) => tr.textContent.includes(id)).innerText, PRODDB);
  check(/still needs (one|1) from group security/.test(prodRow), 'and what is still missing', prodRow);
  await shot(bob, 'inbox', 1440);
  await shot(bob, 'inbox', 390);
  await bob.setViewport({ width: 1440, height: 900 });

  // The request page of the prod-db request, with its full terms.
  await bob.click(`#inbox a[href="#/r/${PRODDB}"]`);
  await bob.waitForSelector('#request-title');
  const terms = await text(bob, 'dl.terms');
  for (const t of ['postgres', 'permit-pty', '/usr/local/bin/psql-audited', '10.20.0.0/16', '45m', 'when approved'])
    check(terms.includes(t), 'request page shows ' + t, terms);
  check((await text(bob, '#history')).includes('Requested'), 'and its history from the audit log');
  check(await bob.$('[data-action=approve]') && await bob.$('[data-action=deny]') &&
    !(await bob.$('[data-action=cancel]')), 'approve and deny, no cancel, for an approver');
  check((await unlabelled(bob)).length === 0, 'request page: every field has a label');
  await bob.focus('textarea[name=comment]');
  await bob.keyboard.press('Tab');
  check(await bob.evaluate(() => document.activeElement.getAttribute('data-action')) === 'approve',
    'Tab from the comment reaches Approve');
  await shot(bob, 'request', 1440);
  await shot(bob, 'request', 390);
  await bob.setViewport({ width: 1440, height: 900 });

  // Bob approves alice's staging request with a comment.
  await bob.goto(JURL + '/#/');
  await bob.waitForSelector(`#inbox a[href="#/r/${STAGING}"]`);
  await bob.click(`#inbox a[href="#/r/${STAGING}"]`);
  await bob.waitForSelector('[data-action=approve]');
  await bob.type('textarea[name=comment]', 'ok for the hotfix window');
  await bob.click('[data-action=approve]');
  await waitState(bob, 'approved');
  check(true, 'bob approves with a comment; the page shows approved');
  await bob.waitForFunction(() => document.querySelector('#history').textContent.includes('ok for the hotfix window'));
  check(true, 'the history shows the approval and its comment');

  // Bob keeps the prod-db page open: it must update by itself.
  await openRequest(bob, PRODDB);
  await waitState(bob, 'pending');

  // ---- carol denies the prod-db request, first without a comment ------------
  const carol = await person();
  await carol.goto(JURL + '/r/' + PRODDB);    // the short link
  await carol.waitForSelector('input[name=token]');
  await signIn(carol, env('TOK_carol'), 'carol');
  await carol.waitForSelector('#request-title');
  check(carol.url().endsWith('#/r/' + PRODDB), '/r/ID leads to the request page after sign-in', carol.url());
  await carol.click('[data-action=deny]');
  await carol.waitForFunction(() => document.querySelector('#action-msg').textContent !== '');
  const m = await text(carol, '#action-msg');
  check(/comment is needed/.test(m), 'deny without a comment: carol is told a comment is needed', m);
  check(await carol.$eval('textarea[name=comment]', (e) => e.getAttribute('aria-invalid') === 'true' &&
    document.activeElement === e), 'the comment field is marked and focused');
  check((await text(carol, '#request-title .badge')) === 'pending', 'nothing was denied yet');
  await carol.type('textarea[name=comment]', 'Not during the quarter-end freeze');
  await carol.click('[data-action=deny]');
  await waitState(carol, 'denied');
  check(true, 'with a comment carol denies it');
  await waitState(bob, 'denied');
  check(true, "bob's open page updates by itself (long-poll) to denied");

  // ---- alice: no approve button on her own request ----------------------------
  const alice = await person();
  await signIn(alice, env('TOK_alice'), 'alice');
  await openRequest(alice, ALICE2);
  check(!(await alice.$('[data-action=approve]')) && !(await alice.$('[data-action=deny]')),
    'alice sees no approve (or deny) button on her own request');
  check(!!(await alice.$('[data-action=cancel]')), 'but may cancel it');
  await openRequest(alice, DAVE);
  check(!!(await alice.$('[data-action=approve]')), "while she may approve dave's");
  await alice.goto(JURL + '/#/mine');
  await alice.waitForSelector('#mine');
  const mine = await alice.$$eval('#mine .req-id', (l) => l.map((e) => e.textContent));
  check(mine.includes(STAGING) && mine.includes(PRODDB) && mine.includes(ALICE2) && !mine.includes(DAVE),
    'my requests lists hers only', mine.join(' '));
  await alice.click(`#mine [data-action=cancel][data-id="${ALICE2}"]`);
  await alice.waitForFunction((id) => [...document.querySelectorAll('#mine tbody tr')]
    .some((tr) => tr.textContent.includes(id) && tr.textContent.includes('cancelled')), {}, ALICE2);
  check(true, 'alice cancels a request from my requests');

  // ---- an XSS reason renders as text ------------------------------------------------
  const res = await fetch(JURL + '/v1/requests', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + env('TOK_alice'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ role: 'staging', public_key: env('ALICE_PUB'), reason: XSS }),
  });
  const xss = (await res.json()).id;
  check(res.status === 201, 'a request with an HTML reason is made');
  await bob.goto(JURL + '/#/');
  await bob.waitForFunction((id) => document.querySelector('#inbox') &&
    document.querySelector('#inbox').textContent.includes(id), {}, xss);
  await openRequest(bob, xss);
  check((await bob.$eval('#reason', (e) => e.textContent)) === XSS, 'the reason shows as the text typed');
  check((await bob.$$('img[src="x"], #reason *')).length === 0, 'no element was made from it');

  // ---- the API refuses a POST without the CSRF token -------------------------------
  const r403 = await bob.evaluate(async (id) => {
    const r = await fetch('/v1/requests/' + id + '/approve', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}',
    });
    return [r.status, (await r.json()).error];
  }, xss);
  check(r403[0] === 403 && r403[1] === 'csrf', 'a POST from the page without the CSRF token: 403', r403);
  const bad = await bob.evaluate(async (id) => {
    const r = await fetch('/v1/requests/' + id + '/approve', {
      method: 'POST', body: '{}',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': 'f'.repeat(64) },
    });
    return r.status;
  }, xss);
  check(bad === 403, 'with a wrong CSRF token: 403', bad);

  // ---- erin (auditor) downloads the signed export -------------------------------------
  const erin = await person();
  await signIn(erin, env('TOK_erin'), 'erin');
  check(!(await erin.$eval('#nav a[data-nav="audit"]', (e) => e.hidden)), 'erin has the audit link');
  await erin.click('#nav a[data-nav="audit"]');
  await erin.waitForSelector('#audit');
  const log = await text(erin, '#audit');
  check(log.includes('request.deny') && log.includes('carol'), 'the audit log shows carol\'s denial');
  await erin.$eval('#f-since', (e) => { e.value = ''; });
  await erin.select('#f-event', '');
  await erin.click('#audit-filters button[type=submit]');
  await erin.waitForFunction(() => document.querySelector('#audit-summary') &&
    /chain head/.test(document.querySelector('#audit-summary').textContent));
  const cdp = await erin.createCDPSession();
  await cdp.send('Browser.setDownloadBehavior', {
    behavior: 'allow', downloadPath: env('DOWNLOADS'), browserContextId: erin.ctx.id,
  });
  await erin.click('#download-jsonl');
  const deadline = Date.now() + TIMEOUT;
  let got = [];
  while (Date.now() < deadline) {
    got = fs.readdirSync(env('DOWNLOADS')).filter((f) => f.endsWith('.jsonl'));
    if (got.length) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  check(got.length === 1, 'erin downloads the signed export', fs.readdirSync(env('DOWNLOADS')).join(' '));
  await openRequest(erin, STAGING);
  check(!(await erin.$('[data-action]')), 'an auditor sees requests but no buttons');

  // ---- nothing ran that should not have ------------------------------------------------
  for (const [who, p] of [['bob', bob], ['carol', carol], ['alice', alice], ['erin', erin]]) {
    check(p.seen.dialogs.length === 0, who + ': no dialog opened', p.seen.dialogs.join(' | '));
    const v = await cspViolations(p);
    check(v.length === 0, who + ': no CSP violation', v.join(' | '));
    const errs = p.seen.errors.filter((e) => /Content Security Policy|Refused to/.test(e));
    check(errs.length === 0, who + ': no console error from a blocked script or style', errs.join(' | '));
    const other = p.seen.errors.filter((e) => !/status of 40[13]/.test(e));
    check(other.length === 0, who + ': no other console error', other.join(' | '));
  }
}

async function tlsPhase() {
  const STAGING = env('STAGING');
  const idle = Number(env('IDLE'));
  const bob = await person();
  await signIn(bob, env('TOK_bob'), 'bob');
  const c = (await bob.cookies()).find((k) => k.name === '__Host-jit_session');
  check(c && c.secure && c.httpOnly && c.sameSite === 'Strict' && c.path === '/',
    'under TLS the cookie is __Host-, Secure, HttpOnly, SameSite=Strict, Path=/',
    JSON.stringify(await bob.cookies()));

  // End alice's grant early.
  await openRequest(bob, STAGING);
  await waitState(bob, 'approved');
  check(!!(await bob.$('[data-action=revoke]')), 'an approver may end an approved grant early');
  await bob.click('[data-action=revoke]');
  await bob.waitForFunction(() => /comment is needed/.test(document.querySelector('#action-msg').textContent));
  check(true, 'ending early needs a comment too');
  await bob.type('textarea[name=comment]', 'hotfix deployed; closing access');
  await bob.click('[data-action=revoke]');
  await waitState(bob, 'revoked');
  check(true, 'bob ends the grant; the page shows revoked');

  // Idle past the timeout: the next action leads back to sign-in.
  await new Promise((ok) => setTimeout(ok, (idle + 1.5) * 1000));
  await bob.click('#nav a[data-nav="mine"]');
  await bob.waitForSelector('input[name=token]');
  check((await text(bob, '#main')).includes('Your session has ended'),
    'an expired session leads back to sign-in, saying why');
  check(!(await bob.cookies()).some((k) => k.name === '__Host-jit_session' && k.value),
    'and the cookie is cleared');

  // Sign in again, sign out: the session is over in the store too.
  await signIn(bob, env('TOK_bob'), 'bob');
  const old = (await bob.cookies()).find((k) => k.name === '__Host-jit_session');
  await bob.click('#signout');
  await bob.waitForSelector('input[name=token]');
  check((await text(bob, '#main')).includes('You have signed out'), 'sign-out leads to sign-in');
  await bob.setCookie(old);
  const st = await bob.evaluate(async () => (await fetch('/v1/session')).status);
  check(st === 401, 'the signed-out session id no longer works', st);
  const v = await cspViolations(bob);
  check(v.length === 0, 'no CSP violation', v.join(' | '));
}

try {
  if (phase === 'tls') await tlsPhase();
  else await mainPhase();
} catch (e) {
  check(false, 'the browser scenario ran to its end', e.stack || e);
} finally {
  await browser.close();
}
console.log('# browser (' + phase + '): ' + (n - failed) + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
