// web-sso.mjs - bob signs in to the jit-ssh web page through the identity
// provider (authorization code flow with PKCE) in Debian's chromium,
// driven by puppeteer-core, and approves alice's request.  Run by
// test-oidc.sh with JURL (the server), CHROMIUM and RID (alice's pending
// request) in the environment.  Prints "ok N - ..." / "not ok N - ..."
// lines and exits 1 if any check failed.
import puppeteer from 'puppeteer-core';

const env = (k) => {
  if (!process.env[k]) throw new Error('test-oidc.sh must set ' + k);
  return process.env[k];
};
const JURL = env('JURL');
const RID = env('RID');
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
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
    '--no-first-run', '--lang=en-US'],
});

try {
  const ctx = await browser.createBrowserContext();
  const page = await ctx.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  let callback = null;
  let authz = null;
  page.on('request', (r) => {
    if (r.url().startsWith(JURL + '/oidc/callback')) callback = r.url();
    if (!r.url().startsWith(JURL) && r.url().includes('code_challenge='))
      authz = new URL(r.url());
  });

  // The sign-in page offers single sign-on; it leads to the provider.
  await page.goto(JURL + '/');
  // #sso is in the page from the start, hidden until the page has asked
  // the server whether single sign-on is on: wait until it shows.
  await page.waitForSelector('#sso', { visible: true });
  check(true, 'the sign-in page offers single sign-on');
  await Promise.all([page.waitForNavigation(), page.click('#sso')]);
  check(!page.url().startsWith(JURL), 'it leads to the provider',
    page.url());
  await page.waitForSelector('input[name=login]');
  await page.type('input[name=login]', 'bob');
  await page.type('input[name=password]', 'pw-bob');
  await Promise.all([page.waitForNavigation(), page.click('#submit')]);

  // Back on the page, signed in as bob.
  await page.waitForFunction(() => {
    const w = document.querySelector('#who-name');
    return w && w.textContent === 'bob' &&
      !document.querySelector('#who').hidden;
  });
  check(page.url().startsWith(JURL), 'the provider sends bob back, signed in',
    page.url());
  check(callback !== null && callback.includes('code=') &&
    callback.includes('state='), 'through /oidc/callback with a code and '
    + 'the state', callback);
  check(authz !== null &&
    authz.searchParams.get('code_challenge_method') === 'S256' &&
    authz.searchParams.get('nonce') && authz.searchParams.get('state') &&
    authz.searchParams.get('client_id') === 'jit-web',
    'the authorization request had PKCE (S256), a nonce and a state',
    authz && authz.search);

  // bob approves alice's request from its page.
  await page.goto(JURL + '/#/r/' + RID);
  await page.waitForSelector('[data-action=approve]');
  await page.type('textarea[name=comment]', 'signed in with sso');
  await page.click('[data-action=approve]');
  await page.waitForFunction(() => {
    const b = document.querySelector('#request-title .badge');
    return b && b.textContent === 'approved';
  });
  check(true, 'bob approves alice\'s request; the page shows approved');

  // The same callback again (a replayed code): refused, one line.
  const again = await page.goto(callback);
  const body = (await page.evaluate(() => document.body.innerText)).trim();
  check(again.status() === 401 && body.split('\n')[0].includes(
    'already used'), 'the callback replayed is refused', again.status() +
    ' ' + body);
  check(errors.length === 0, 'no script errors', errors.join('\n'));
} catch (e) {
  check(false, 'the web sign-in ran to the end', e.stack);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
