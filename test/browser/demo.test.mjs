// demo.test.mjs — the demo page (zwsd --demo on) in a real headless Chromium,
// driven by playwright-core. test/e2e/test_50_demo.py starts the daemon and
// runs this script; it is not meant to be run alone, but can be:
//
//   ZWSD_DEMO_URL=http://127.0.0.1:8080/ ZWSD_API=http://127.0.0.1:8081 \
//   ZWSD_SEND=build/zwsd-send ZWSD_BROKER_PUB=ipc:///tmp/zwsd-run-$(id -u)/pub \
//   ZWSD_SHOTS=/tmp/shots node test/browser/demo.test.mjs
//
// Two pages in two browser contexts sign in as alice and bob on different
// worker processes, see each other online, chat 1:1 and in a group; a backend
// push over the HTTP API and one over zwsd-send move bob's progress bar; bob
// leaves, misses a chat, comes back and gets it (resume with ?since=), then
// reloads; a third page at phone width signs in as alice and alice's first
// page says it was replaced. Every check waits for text to arrive in the DOM
// (playwright's auto-waiting locators), never for a fixed time. Screenshots go
// to ZWSD_SHOTS. Exit status 0 when every step passed; lines "ok N - step".
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is not set`);
  return v;
};
const URL_ = env('ZWSD_DEMO_URL');
const API = env('ZWSD_API');
const SEND = env('ZWSD_SEND');
const BROKER_PUB = env('ZWSD_BROKER_PUB');
const SHOTS = env('ZWSD_SHOTS');
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const WAIT = 10000;           // per wait; the whole run is bounded by the caller
const PLACE_TRIES = 40;

mkdirSync(SHOTS, { recursive: true });
const run = promisify(execFile);

let n = 0;
async function step(name, fn) {
  n++;
  try {
    await fn();
  } catch (e) {
    e.message = `step ${n} (${name}): ${e.message}`;
    throw e;
  }
  console.log(`ok ${n} - ${name}`);
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// ---- page helpers --------------------------------------------------------------
const conn = (p) => p.locator('#conn');
const logItem = (p, text, cls) => p.locator(`#log li${cls ? '.' + cls : ''}`, { hasText: text });

async function waitText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor({ timeout: WAIT });
}

async function signIn(p, name) {
  await p.getByLabel('Your name', { exact: true }).fill(name);
  await p.getByLabel('Your name', { exact: true }).press('Enter');           // keyboard, not a click
  await waitText(conn(p), `Connected as ${name}`);
  return (await p.locator('#session').textContent()).trim();
}

async function signOut(p) {
  await p.getByRole('button', { name: 'Disconnect' }).click();
  await waitText(conn(p), 'Not connected');
}

// A session id is "<worker origin>-<n>" (daemon/idgen.h): the origin is 64
// random bits drawn by each worker process at its start, so two sessions
// with different origins live in different workers.
const workerOf = (sid) => sid.split('-')[0];

async function send(p, to, text, { click = false } = {}) {
  await p.getByLabel('To (a name, or #group)', { exact: true }).fill(to);
  await p.getByLabel('Message', { exact: true }).fill(text);
  if (click) await p.getByRole('button', { name: 'Send', exact: true }).click();
  else await p.getByLabel('Message', { exact: true }).press('Enter');
}

async function joinGroup(p, g) {
  await p.getByLabel('Group name', { exact: true }).fill(g);
  await p.getByLabel('Group name', { exact: true }).press('Enter');
  await p.locator('#groups li', { hasText: '#' + g }).locator('.state', { hasText: 'member' })
    .waitFor({ timeout: WAIT });
}

async function progressIs(p, value) {
  await p.waitForFunction((v) => document.getElementById('progress').value === v, value,
    { timeout: WAIT });
}

async function shot(p, name) {
  await p.screenshot({ path: join(SHOTS, name), fullPage: true });
}

async function apiSend(body) {
  const r = await fetch(`${API}/api/v1/send`, { method: 'POST', body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' } });
  const j = await r.json();
  check(r.status === 200, `API answered ${r.status} ${JSON.stringify(j)}`);
  return j;
}

// No push tells a client that a user went offline: ask the API until it
// says so, bounded (the route goes within milliseconds of the close).
async function untilOffline(user) {
  const deadline = Date.now() + WAIT;
  for (;;) {
    const r = await fetch(`${API}/api/v1/presence?users=${user}`);
    const j = await r.json();
    if (j.online && j.online[user] === false) return;
    check(Date.now() < deadline, `${user} still online after ${WAIT} ms: ${JSON.stringify(j)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

// ---- the run --------------------------------------------------------------------
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
const problems = [];
const pages = {};
async function newPage(name, opts = {}) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 820 }, ...opts });
  ctx.setDefaultTimeout(WAIT);
  const p = await ctx.newPage();
  p.on('console', (m) => { if (m.type() === 'error') problems.push(`${name} console: ${m.text()}`); });
  p.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  pages[name] = p;
  return p;
}

let failed = null;
try {
  const a = await newPage('alice');
  const b = await newPage('bob');
  let sidA, sidB;

  await step('the page loads with its styles and script, every input labelled', async () => {
    for (const p of [a, b]) {
      const resp = await p.goto(URL_);
      check(resp.status() === 200, `GET / answered ${resp.status()}`);
      await waitText(conn(p), 'Not connected');        // demo.js ran
      const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
      check(bg !== 'rgba(0, 0, 0, 0)', 'demo.css not applied');
      const unlabelled = await p.evaluate(() => [...document.querySelectorAll('input')]
        .filter((i) => !i.labels || i.labels.length === 0).map((i) => i.id));
      check(unlabelled.length === 0, `inputs without a label: ${unlabelled}`);
      const live = await p.evaluate(() => {
        const l = document.getElementById('log');
        return l.getAttribute('role') + ' ' + l.getAttribute('aria-live');
      });
      check(live === 'log polite', `message log is "${live}", not an aria-live log`);
    }
  });

  await step('alice and bob sign in on different workers', async () => {
    sidA = await signIn(a, 'alice');
    for (let i = 0; ; i++) {
      check(i < PLACE_TRIES, `bob never landed on a worker other than alice's (${sidA})`);
      sidB = await signIn(b, 'bob');
      if (workerOf(sidB) !== workerOf(sidA)) break;
      await signOut(b);
    }
    console.log(`# alice session ${sidA}, bob session ${sidB}`);
  });

  await step('alice sees bob online', async () => {
    await a.getByLabel('Add a person to watch', { exact: true }).fill('bob');
    await a.getByLabel('Add a person to watch', { exact: true }).press('Enter');
    await a.locator('#people li', { hasText: 'bob' }).locator('.state[data-online="true"]')
      .waitFor({ timeout: WAIT });
  });

  await step('1:1 chat both ways, delivered', async () => {
    await send(a, 'bob', 'hello bob, from another worker');
    await logItem(b, 'hello bob, from another worker', 'in').filter({ hasText: 'alice' })
      .waitFor({ timeout: WAIT });
    await logItem(a, 'hello bob, from another worker', 'out').locator('.status[data-status="delivered"]')
      .waitFor({ timeout: WAIT });
    // bob answers through the Write button beside alice, who now shows as a contact
    await b.getByRole('button', { name: 'Write to alice' }).click();
    check(await b.getByLabel('To (a name, or #group)', { exact: true }).inputValue() === 'alice', 'Write did not fill To');
    await b.getByLabel('Message', { exact: true }).fill('hi alice');
    await b.getByRole('button', { name: 'Send', exact: true }).click();
    await logItem(a, 'hi alice', 'in').waitFor({ timeout: WAIT });
  });

  await step('a chat to an offline user says so in plain words', async () => {
    await send(a, 'carol', 'are you there?');
    await waitText(a.locator('#notice'), 'carol is offline');
    await logItem(a, 'are you there?', 'out').locator('.status[data-status="offline"]')
      .waitFor({ timeout: WAIT });
  });

  await step('a group message before joining: not a member', async () => {
    await send(b, '#ops', 'anyone?');
    await waitText(b.locator('#notice'), 'You are not a member of #ops');
  });

  await step('both join #ops and chat in it', async () => {
    await joinGroup(a, 'ops');
    await joinGroup(b, 'ops');
    await send(a, '#ops', 'deploy at noon', { click: true });
    await logItem(b, 'deploy at noon', 'in').filter({ hasText: 'alice in #ops' })
      .waitFor({ timeout: WAIT });
    await logItem(a, 'deploy at noon', 'out').locator('.status[data-status="sent"]')
      .waitFor({ timeout: WAIT });
    await send(b, '#ops', 'ok, noon it is');
    await logItem(a, 'ok, noon it is', 'in').filter({ hasText: 'bob in #ops' })
      .waitFor({ timeout: WAIT });
  });

  await step('backend pushes move bob\'s progress bar (HTTP API, then zwsd-send)', async () => {
    const r = await apiSend({ receiver: 'bob', msg: { progress: 40, label: 'Rendering' } });
    check(r.status === 'delivered', `push answered ${JSON.stringify(r)}`);
    await progressIs(b, 40);
    await waitText(b.locator('#progress-text'), '40 % \u2014 Rendering');
    await shot(b, 'demo-bob.png');
    await shot(a, 'demo-alice.png');
    await run(SEND, ['--broker', BROKER_PUB, '--to', 'bob', '--msg', '{"progress":100,"label":"Rendered"}'],
      { timeout: WAIT });
    await progressIs(b, 100);
    await waitText(b.locator('#progress-text'), 'Done: 100 %');
  });

  await step('bob leaves, misses a chat, comes back and gets it', async () => {
    const pos = (await b.locator('#position').textContent()).trim();
    check(/^[!-~]+:[0-9]+$/.test(pos), `no resume position shown: "${pos}"`);
    await b.goto('about:blank');
    await untilOffline('bob');
    await send(a, 'bob', 'sent while you were away');
    await waitText(a.locator('#notice'), 'bob is offline: the message is kept');
    await b.goto(URL_);                                   // this tab signs in again by itself
    await waitText(conn(b), 'Connected as bob');
    await logItem(b, 'sent while you were away', 'missed').waitFor({ timeout: WAIT });
    await waitText(b.locator('#notice'), 'recovered the 1 message you missed');
    await b.locator('#groups li', { hasText: '#ops' }).locator('.state', { hasText: 'member' })
      .waitFor({ timeout: WAIT });                       // and rejoins its group
    await b.reload();
    await waitText(conn(b), 'Connected as bob');
    await waitText(b.locator('#notice'), 'you missed nothing');
    await send(a, 'bob', 'still here?');
    await logItem(b, 'still here?', 'in').waitFor({ timeout: WAIT });
  });

  await step('a second login as alice (phone width) replaces the first: plain words', async () => {
    const c = await newPage('alice-phone', { viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    await c.goto(URL_);
    await signIn(c, 'alice');
    await waitText(a.locator('#notice'), 'signed in as the same name somewhere else');
    await waitText(conn(a), 'Replaced by a newer login');
    const wide = await c.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(wide <= 0, `the page is ${wide} px wider than a phone screen`);
    await send(c, 'bob', 'from my phone');
    await logItem(b, 'from my phone', 'in').waitFor({ timeout: WAIT });
    await shot(a, 'demo-replaced.png');
    await shot(c, 'demo-phone.png');
  });

  await step('no console errors, no CSP violations', async () => {
    check(problems.length === 0, problems.join('; '));
  });
} catch (e) {
  failed = e;
  for (const [name, p] of Object.entries(pages)) {
    try { await shot(p, `failed-${name}.png`); } catch (_) { /* page gone */ }
  }
} finally {
  await browser.close();
}
if (failed) {
  console.log(`not ok ${n} - ${failed.message}`);
  if (problems.length) console.log(`# page problems: ${problems.join('; ')}`);
  console.log(failed.stack);
  process.exitCode = 1;
}
