// Shared helpers for Lokal's browser tests: Debian's Chromium through playwright-core,
// axe-core for accessibility, and a small runner so each flow can run on its own.
//
// Environment:
//   LOKAL_URL   the running Lokal (default http://127.0.0.1:8080)
//   ARTIFACTS   where screenshots and failure pages go (default target/browser-artifacts)
//   CHROMIUM    the browser binary (default /usr/bin/chromium)
//   FLOWS       comma-separated flow names to run (or give them as arguments); a flow's
//               prerequisites run first. Default: every flow of the script.
//   STEP_TIMEOUT_MS  how long one wait may take (default 20000)

import { chromium, request } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(here, '../..');
export const BASE = (process.env.LOKAL_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
export const ARTIFACTS = resolve(process.env.ARTIFACTS || join(REPO, 'target/browser-artifacts'));
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 20000);
const FLOW_TIMEOUT = Number(process.env.FLOW_TIMEOUT_MS || 240000);

/**
 * A tag for this run, to make residents' emails unique so a script can run again against
 * the same server (`RUN_ID` fixes it).
 */
export const RUN = process.env.RUN_ID || Date.now().toString(36);

/** `name@example.no` → `name+RUN@example.no`. */
export function unique(email) {
  return email.replace('@', `+${RUN}@`);
}

/** The seed's clerk of Kulturhuset (Storsalen) and Idrettshallen (Klubbrommet). */
export const CLERK = { login: 'erik.dahl', password: 'erik-clerk-2027', name: 'Erik' };
/** Staff who is not a clerk. */
export const STAFF = { login: 'ingrid.berg', password: 'ingrid-demo-2027', name: 'Ingrid' };

/** WCAG 2.1 A and AA, as the project requires. */
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Chromium's flags for running as root in a container (the user data dir is Playwright's). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// ---------------------------------------------------------------------------------------
// The runner

/**
 * Runs the selected flows of a script, in the order they are declared, each with its
 * prerequisites first. `flows` maps a name to `{ needs?: [names], run: async (t) => {} }`.
 * Exits 0 when every selected flow passed.
 */
export async function main(flows) {
  const names = Object.keys(flows);
  const asked = (process.argv.slice(2).join(',') || process.env.FLOWS || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = asked.filter((n) => !names.includes(n));
  if (unknown.length) {
    console.error(`unknown flow(s) ${unknown.join(', ')}; this script has: ${names.join(', ')}`);
    process.exit(2);
  }
  const wanted = new Set();
  const want = (n) => {
    if (wanted.has(n)) return;
    for (const p of flows[n].needs || []) want(p);
    wanted.add(n);
  };
  (asked.length ? asked : names).forEach(want);
  const order = names.filter((n) => wanted.has(n));

  if (!existsSync(CHROMIUM)) {
    console.error(`${CHROMIUM} is missing: scripts/test installs it (apt-get install chromium)`);
    process.exit(3);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  console.log(`Chromium ${browser.version()} against ${BASE}; artifacts in ${ARTIFACTS}`);
  const t = new Run(browser);
  const failed = new Set();
  for (const name of order) {
    const blocked = (flows[name].needs || []).filter((n) => failed.has(n));
    if (blocked.length) {
      failed.add(name);
      console.log(`FAIL ${name}: not run, it needs ${blocked.join(', ')}`);
      continue;
    }
    const started = Date.now();
    t.flow = name;
    try {
      await within(FLOW_TIMEOUT, `flow ${name}`, flows[name].run(t));
      t.checkConsole();
      console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      failed.add(name);
      console.log(`FAIL ${name}: ${e && e.message ? e.message : e}`);
      await t.captureFailure(name);
    }
  }
  await t.close();
  await browser.close();
  console.log(failed.size ? `${failed.size} of ${order.length} flow(s) failed` : `all ${order.length} flow(s) passed`);
  process.exit(failed.size ? 1 : 0);
}

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** One run of a script: the browser, open contexts, state shared between flows. */
export class Run {
  constructor(browser) {
    this.browser = browser;
    this.contexts = [];
    this.state = {};
    this.consoleProblems = [];
    this.flow = '';
    this.apiContext = null;
  }

  /**
   * A new page in a fresh browser context (own cookies). Options: width, height, bypassCSP
   * (needed to inject axe-core: the pages allow only their own scripts), storageState (the
   * cookies of another context: the same person, signed in, in the same language).
   */
  async page({ width = 1280, height = 900, bypassCSP = false, storageState } = {}) {
    const context = await this.browser.newContext({
      baseURL: BASE,
      locale: 'nb-NO',
      timezoneId: 'Europe/Oslo',
      viewport: { width, height },
      bypassCSP,
      acceptDownloads: true,
      storageState,
    });
    context.setDefaultTimeout(TIMEOUT);
    context.setDefaultNavigationTimeout(TIMEOUT);
    context.lokalFlow = this.flow;
    this.contexts.push(context);
    const page = await context.newPage();
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) this.lastPage = page;
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content[- ]Security[- ]Policy|Refused to/i.test(msg.text())) {
        this.consoleProblems.push(`${page.url()}: ${msg.text()}`);
      }
    });
    page.on('pageerror', (err) => this.consoleProblems.push(`${page.url()}: script error: ${err.message}`));
    return page;
  }

  /** Fails the flow if a page broke its CSP or threw a script error. */
  checkConsole() {
    const problems = this.consoleProblems.splice(0);
    if (problems.length) {
      throw new Error(`the browser reported problems:\n  ${problems.join('\n  ')}`);
    }
  }

  /** Playwright's HTTP client for setting up data through the JSON API (not a browser). */
  async api() {
    if (!this.apiContext) this.apiContext = await request.newContext({ baseURL: BASE });
    return this.apiContext;
  }

  /**
   * Saves a screenshot of the page that navigated last and of the other pages this flow
   * opened, and prints where each was and what it said.
   */
  async captureFailure(name) {
    const pages = [];
    if (this.lastPage && !this.lastPage.isClosed()) pages.push(this.lastPage);
    for (const context of this.contexts.filter((c) => c.lokalFlow === name)) {
      for (const page of context.pages()) if (!pages.includes(page)) pages.push(page);
    }
    let n = 0;
    for (const page of pages) {
      n += 1;
      const file = join(ARTIFACTS, `failure-${name}-${n}.png`);
      try {
        await page.screenshot({ path: file, fullPage: true, timeout: 10000 });
        console.log(`     page ${n}: ${page.url()}\n       text: ${await excerpt(page, 400)}\n       screenshot: ${file}`);
      } catch (e) {
        console.log(`     page ${n}: ${page.url()} (no screenshot: ${e.message.split('\n')[0]})`);
      }
    }
    await this.closeContexts();
  }

  async closeContexts() {
    for (const context of this.contexts.splice(0)) await context.close().catch(() => {});
  }

  async close() {
    await this.closeContexts();
    if (this.apiContext) await this.apiContext.dispose();
  }
}

// ---------------------------------------------------------------------------------------
// Assertions that say what was expected and what the page showed

/** The page's visible text, squeezed, cut to `n` characters. */
export async function excerpt(page, n = 600) {
  try {
    const text = await page.locator('body').innerText({ timeout: 2000 });
    const squeezed = text.replace(/\s+/g, ' ').trim();
    return squeezed.length > n ? `${squeezed.slice(0, n)}…` : squeezed;
  } catch {
    return '(no readable body)';
  }
}

/** Throws: what was expected, where the page is, what it says. */
export async function fail(page, expected, found) {
  const lines = [`expected ${expected}`, `  at ${page.url()}`];
  if (found !== undefined) lines.push(`  found: ${found}`);
  lines.push(`  page text: ${await excerpt(page)}`);
  throw new Error(lines.join('\n'));
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Waits for the first element matching `selector` to be visible; returns its locator. */
export async function see(page, selector, what) {
  const loc = typeof selector === 'string' ? page.locator(selector).first() : selector.first();
  try {
    await loc.waitFor({ state: 'visible', timeout: TIMEOUT });
  } catch {
    await fail(page, `${what} (${typeof selector === 'string' ? selector : 'locator'}) to be visible`);
  }
  return loc;
}

/**
 * An element's visible text as a person reads it: whitespace squeezed, and without the
 * Unicode isolation marks Fluent puts around the values it fills in.
 */
export function squeeze(text) {
  return (text || '').replace(/[\u2068\u2069]/g, '').replace(/\s+/g, ' ').trim();
}

/** Waits until the element's text matches `pattern` (no polling sleeps); returns the text. */
export async function seeText(page, selector, pattern, what) {
  const loc = await see(page, selector, what);
  const read = async () => squeeze(await loc.innerText({ timeout: 2000 }).catch(() => ''));
  try {
    const handle = await loc.elementHandle({ timeout: TIMEOUT });
    await page.waitForFunction(
      ([el, source, flags]) => {
        const text = (el.innerText || '').replace(/[\u2068\u2069]/g, '').replace(/\s+/g, ' ').trim();
        return new RegExp(source, flags).test(text);
      },
      [handle, pattern.source, pattern.flags],
      { timeout: TIMEOUT },
    );
  } catch {
    await fail(page, `${what} to read ${pattern}`, JSON.stringify(await read()));
  }
  return read();
}

/** Fails if the page has an element matching `selector`. */
export async function notThere(page, selector, what) {
  const n = await page.locator(selector).count();
  if (n > 0) await fail(page, `no ${what} (${selector})`, `${n} element(s)`);
}

/** Waits until the page's path (and query) matches `re`; returns the match. */
export async function atPath(page, re, what) {
  const pathOf = () => {
    const u = new URL(page.url());
    return u.pathname + u.search;
  };
  try {
    await page.waitForURL((u) => re.test(u.pathname + u.search), { timeout: TIMEOUT });
  } catch {
    await fail(page, `to be on ${what} (${re})`, pathOf());
  }
  return pathOf().match(re);
}

/** Opens `path` and fails unless the answer is a success (or `status`, when given). */
export async function go(page, path, { status } = {}) {
  const response = await page.goto(path, { waitUntil: 'load' });
  const got = response ? response.status() : 0;
  const ok = status === undefined ? got >= 200 && got < 400 : got === status;
  if (!ok) await fail(page, `GET ${path} to answer ${status ?? '2xx'}`, `HTTP ${got}`);
  return response;
}

/** Clicks (or presses a key) and waits for the main frame to load the next page. */
export async function navigating(page, action, what) {
  try {
    const [response] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: TIMEOUT }),
      action(),
    ]);
    return response;
  } catch (e) {
    await fail(page, `${what} to load a new page`, e.message.split('\n')[0]);
  }
}

/** Clicks `selector` and waits for the next page; fails on an HTTP error unless `allow`ed. */
export async function clickThrough(page, selector, what, { allow = [] } = {}) {
  const loc = await see(page, selector, what);
  const response = await navigating(page, () => loc.click(), `clicking ${what}`);
  const status = response ? response.status() : 200;
  if (status >= 400 && !allow.includes(status)) await fail(page, `clicking ${what} to succeed`, `HTTP ${status}`);
  return response;
}

/** Sets a form field: selects for <select>, fills anything else. */
export async function setField(page, selector, value) {
  const loc = await see(page, selector, `the field ${selector}`);
  const tag = await loc.evaluate((el) => el.tagName.toLowerCase());
  if (tag === 'select') await loc.selectOption(String(value));
  else await loc.fill(String(value));
}

/** The submit button of the form that holds `fieldSelector`. */
export function submitOf(page, fieldSelector) {
  return page
    .locator('form', { has: page.locator(fieldSelector) })
    .locator('button[type=submit], button:not([type]), input[type=submit]')
    .first();
}

// ---------------------------------------------------------------------------------------
// Accounts

/** Registers a resident through /register; ends on the page registration leads to. */
export async function register(page, { name, email, password }) {
  await go(page, '/register');
  await setField(page, '#name', name);
  await setField(page, '#email', email);
  await setField(page, '#password', password);
  await setField(page, '#password_again', password);
  await clickThrough(page, submitOf(page, '#password_again'), 'the register button');
  await seeText(page, 'header', new RegExp(escapeRe(name.split(' ')[0])), 'the header to show who is signed in');
}

/** Signs in through /login. */
export async function login(page, user, password, { next } = {}) {
  await go(page, next ? `/login?next=${encodeURIComponent(next)}` : '/login');
  await setField(page, '#login', user);
  await setField(page, '#password', password);
  await clickThrough(page, submitOf(page, '#password'), 'the sign-in button');
  if (new URL(page.url()).pathname === '/login') {
    await fail(page, `${user} to be signed in`);
  }
}

/** Registers a resident through the JSON API (setup for flows that test other things). */
export async function apiResident(t, { name, email, password }) {
  const api = await t.api();
  const r = await api.post('/api/v1/residents', { data: { name, email, password } });
  check(r.status() === 201, `registering ${email} through the API: HTTP ${r.status()} ${await r.text()}`);
  return { name, email, password };
}

/** Makes a booking through the JSON API as `who`; returns the booking (id, status, …). */
export async function apiBooking(t, who, { room, start, end, purpose, attendees }) {
  const api = await t.api();
  const r = await api.post('/api/v1/bookings', {
    headers: { authorization: basic(who.email || who.login, who.password) },
    data: { room_id: room, start, end, purpose, attendees },
  });
  check(r.status() === 201, `booking ${start}–${end} through the API: HTTP ${r.status()} ${await r.text()}`);
  return r.json();
}

/** The room ids by name, from the public API. */
export async function rooms(t) {
  if (!t.state.rooms) {
    const api = await t.api();
    const r = await api.get('/api/v1/rooms');
    check(r.ok(), `GET /api/v1/rooms: HTTP ${r.status()}`);
    t.state.rooms = Object.fromEntries((await r.json()).rooms.map((room) => [room.name, room.id]));
  }
  return t.state.rooms;
}

export function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

// ---------------------------------------------------------------------------------------
// Language

/** Switches the language through the header link (the real one on the page). */
export async function switchLanguage(page, code) {
  const before = await page.getAttribute('html', 'lang');
  await clickThrough(page, `header a[href^="/lang/${code}"]`, `the language link to ${code}`);
  const after = await page.getAttribute('html', 'lang');
  if (after !== code) await fail(page, `html[lang] to change from ${before} to ${code}`, after);
}

/**
 * The one-line Fluent message `key` of `lang` (from web/locales/LANG/*.ftl) as a pattern for
 * the text a page shows: the message's own words exactly, each `{ $variable }` standing for
 * some text. `values` pins variables to a pattern of their own (e.g. `{ spans: /17:30–20:30/ }`).
 * Fails when the message is missing or is not a single line.
 */
export function ftlPattern(lang, key, values = {}) {
  const dir = join(REPO, 'web/locales', lang);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ftl'))) {
    const lines = readFileSync(join(dir, file), 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith(`${key} =`));
    if (i < 0) continue;
    const message = lines[i].slice(key.length + 2).trim();
    if (!message || /^\s/.test(lines[i + 1] || '')) throw new Error(`${lang} ${key} is not a one-line message`);
    const parts = message.split(/\{\s*\$([\w-]+)\s*\}/);
    const source = parts
      .map((part, n) => (n % 2 === 0 ? escapeRe(part) : values[part] ? `(?:${values[part].source})` : '.+?'))
      .join('');
    return new RegExp(`^${source}$`);
  }
  throw new Error(`no message ${key} in web/locales/${lang}`);
}

// ---------------------------------------------------------------------------------------
// Accessibility, weight, screenshots

/** Runs axe-core (WCAG 2.1 A+AA) on the page; fails listing every violation and node. */
export async function axeCheck(page, name) {
  const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
  if (!loaded) {
    await page.addScriptTag({ content: axeSource });
    const ok = await page.evaluate(() => typeof window.axe !== 'undefined');
    if (!ok) await fail(page, 'axe-core to load (open the page with bypassCSP: true)');
  }
  const result = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    AXE_TAGS,
  );
  if (result.violations.length) {
    const file = join(ARTIFACTS, `axe-${name}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    const lines = [`axe: ${result.violations.length} violation(s) on ${name} (${page.url()}), screenshot ${file}`];
    for (const v of result.violations) {
      lines.push(`  ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})`);
      for (const node of v.nodes) {
        lines.push(`    at ${node.target.join(' ')}: ${node.html.replace(/\s+/g, ' ').slice(0, 200)}`);
        if (node.failureSummary) lines.push(`      ${node.failureSummary.replace(/\s*\n\s*/g, '; ')}`);
      }
    }
    throw new Error(lines.join('\n'));
  }
  console.log(`     axe ${name}: 0 violations`);
}

/**
 * Loads `path` in a fresh context (nothing cached) and fails if the page's responses
 * (document, CSS, JS, images, fonts) weigh 100 KB or more, decoded. `as`: a page whose
 * cookies the fresh context takes (to weigh a signed-in page, in that page's language).
 */
export async function checkWeight(t, path, { limit = 100 * 1024, as } = {}) {
  const storageState = as ? await as.context().storageState() : undefined;
  const page = await t.page({ storageState });
  const responses = [];
  page.on('response', (r) => responses.push(r));
  await go(page, path);
  await page.waitForLoadState('load');
  let total = 0;
  const parts = [];
  for (const r of responses) {
    if (r.status() >= 300 && r.status() < 400) continue;
    let size;
    try {
      size = (await r.body()).length;
    } catch {
      size = (await r.request().sizes()).responseBodySize;
    }
    total += size;
    parts.push(`${new URL(r.url()).pathname} ${(size / 1024).toFixed(1)} KB`);
  }
  const landed = new URL(page.url()).pathname + new URL(page.url()).search;
  await page.context().close();
  // A signed-out context would weigh the sign-in page instead.
  check(landed === path, `weighing ${path} landed on ${landed}`);
  check(total < limit, `${path} weighs ${(total / 1024).toFixed(1)} KB, more than ${limit / 1024} KB: ${parts.join(', ')}`);
  console.log(`     weight ${path}: ${(total / 1024).toFixed(1)} KB (${parts.join(', ')})`);
}

/**
 * The weight of the page as it is (e.g. the answer to a POST, which cannot be loaded again):
 * its document, decoded, plus every stylesheet, script and image it refers to, fetched again.
 * Fails at 100 KB or more.
 */
export async function checkWeightHere(page, name, { limit = 100 * 1024 } = {}) {
  const doc = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return nav ? nav.decodedBodySize : 0;
  });
  if (!doc) await fail(page, `the browser to report the size of ${name}'s document`);
  const urls = await page.evaluate(() => [
    ...new Set(
      [...document.querySelectorAll('link[rel~="stylesheet"][href], link[rel~="icon"][href], script[src], img[src]')]
        .map((el) => el.href || el.src),
    ),
  ]);
  let total = doc;
  const parts = [`document ${(doc / 1024).toFixed(1)} KB`];
  for (const url of urls) {
    const r = await page.request.get(url);
    const size = (await r.body()).length;
    total += size;
    parts.push(`${new URL(url).pathname} ${(size / 1024).toFixed(1)} KB`);
  }
  check(total < limit, `${name} weighs ${(total / 1024).toFixed(1)} KB, more than ${limit / 1024} KB: ${parts.join(', ')}`);
  console.log(`     weight ${name}: ${(total / 1024).toFixed(1)} KB (${parts.join(', ')})`);
}

/** A full-page screenshot into the artifacts folder. */
export async function screenshot(page, name) {
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`     screenshot ${file}`);
  return file;
}

// ---------------------------------------------------------------------------------------
// Keyboard

/** What has focus, for messages: tag#id.class "text". */
export async function describeFocus(page) {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return '(body)';
    const id = el.id ? `#${el.id}` : '';
    const cls = el.classList.length ? `.${[...el.classList].join('.')}` : '';
    const label = (el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('href') || '').trim().slice(0, 40);
    return `${el.tagName.toLowerCase()}${id}${cls}${label ? ` "${label}"` : ''}`;
  });
}

/**
 * Fails unless the focused element draws a focus indicator: an outline (or box shadow) of
 * some width in a colour that is not transparent, on an element that is on screen.
 */
export async function focusIsVisible(page) {
  const style = await page.evaluate(() => {
    const el = document.activeElement;
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return {
      style: s.outlineStyle,
      width: s.outlineWidth,
      color: s.outlineColor,
      shadow: s.boxShadow,
      size: r.width > 0 && r.height > 0,
    };
  });
  const transparent = (c) => /^transparent$|rgba\([^)]*,\s*0\)$/.test(c);
  const outline = style.style !== 'none' && parseFloat(style.width) >= 1 && !transparent(style.color);
  const shadow = style.shadow && style.shadow !== 'none';
  const visible = style.size && (outline || shadow);
  if (!visible) {
    await fail(page, `a visible focus indicator on ${await describeFocus(page)}`, JSON.stringify(style));
  }
}

/**
 * Presses Tab (only Tab) until `selector` has focus. Every element the focus passes on the
 * way, and the one reached, must show a visible focus indicator.
 */
export async function tabTo(page, selector, what, { max = 120, backwards = false } = {}) {
  const stops = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(backwards ? 'Shift+Tab' : 'Tab');
    const here = await page.evaluate((sel) => {
      const el = document.activeElement;
      return {
        hit: !!el && el.matches(sel) && el.matches(':focus'),
        body: !el || el === document.body,
      };
    }, selector);
    // On Chromium's own picker button inside a date or time field, the field is the active
    // element (matching :focus-within, not :focus): its ring must show then too.
    if (!here.body) {
      // Focus leaving the document (past the last element) comes back round; that stop shows nothing.
      await focusIsVisible(page);
    }
    if (here.hit) return;
    stops.push(await describeFocus(page));
  }
  await fail(page, `to reach ${what} (${selector}) with ${backwards ? 'Shift+Tab' : 'Tab'}`, `tab stops: ${stops.join(' → ')}`);
}

/** Presses a key on the focused element and waits for the next page. */
export async function pressThrough(page, key, what) {
  const response = await navigating(page, () => page.keyboard.press(key), `${key} on ${what}`);
  const status = response ? response.status() : 200;
  if (status >= 400) await fail(page, `${key} on ${what} to succeed`, `HTTP ${status}`);
}

/**
 * Types `value` into the focused field with the keyboard only. Date and time fields are
 * typed segment by segment; Chromium's segment order follows the browser's own locale, so
 * the orders are tried in turn (Shift+Tab goes back to the first segment).
 */
export async function typeValue(page, value) {
  const type = await page.evaluate(() => document.activeElement.type || document.activeElement.tagName.toLowerCase());
  const current = () => page.evaluate(() => document.activeElement.value);
  const back = async (n) => {
    for (let i = 0; i < n; i += 1) await page.keyboard.press('Shift+Tab');
  };
  if (type === 'date') {
    const [y, m, d] = value.split('-');
    for (const order of [[m, d, y], [d, m, y], [y, m, d]]) {
      await page.keyboard.type(order.join(''));
      if ((await current()) === value) return;
      await back(2);
    }
    await fail(page, `the date field to take ${value} typed with the keyboard`, await current());
  } else if (type === 'time') {
    const [h, min] = value.split(':').map(Number);
    const pad = (n) => String(n).padStart(2, '0');
    // A 12-hour field has three segments (hour, minute, AM/PM), a 24-hour field two.
    await page.keyboard.type(`${pad(h % 12 || 12)}${pad(min)}${h < 12 ? 'A' : 'P'}`);
    if ((await current()) === value) return;
    await back(1);
    await page.keyboard.type(`${pad(h)}${pad(min)}`);
    if ((await current()) === value) return;
    await fail(page, `the time field to take ${value} typed with the keyboard`, await current());
  } else if (type === 'select-one') {
    await page.keyboard.type(value);
  } else {
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type(value);
    if ((await current()) !== value) await fail(page, `the field to read ${value}`, await current());
  }
}

export function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
