// The booking story end to end (issue 6, a–d):
//   register  a resident registers
//   search    searches on the start page for Thursday 7 January 2027, 18–20, 40 people
//   hall      follows the result to Storsalen's page: a week table with a caption, free and
//             closed cells
//   book      checks (the check says a clerk decides) and asks for the slot; lands on the
//             booking, "Til behandling", and finds it so in "Mine bookinger"
//   clerk     Erik (directory login through slapd) approves it in the queue; the booking's
//             history in the console says who did what
//   approved  the resident sees "Godkjent" on the booking and in the list, and downloads the
//             .ics: this booking's UID, CONFIRMED, Thursday 18:00–20:00 Oslo time
//   conflict  a second resident asks for the same slot: refused, with the conflict reason's
//             own sentence (Storsalen taken 17:30–20:30 with the buffers) in Bokmål, then in
//             English after the language switch; no booking is made
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/booking.mjs [flow,...]

import { readFileSync } from 'node:fs';
import {
  CLERK, atPath, check, clickThrough, escapeRe, fail, ftlPattern, go, login, main, navigating,
  notThere, register, see, seeText, setField, squeeze, submitOf, switchLanguage,
  unique,
} from './lib.mjs';

const FIRST = { name: 'Ola Prøvesen', email: unique('ola.provesen@example.no'), password: 'ola-test-2027-x' };
const SECOND = { name: 'Kari Konflikt', email: unique('kari.konflikt@example.no'), password: 'kari-test-2027-x' };
const SLOT = { date: '2027-01-07', start: '18:00', end: '20:00', purpose: 'Bursdagsfest for Ola', attendees: '40' };
const HALL = 'Storsalen';

/** Fills the booking form (it must be open). */
async function fillBooking(page, slot) {
  await setField(page, '#date', slot.date);
  await setField(page, '#start', slot.start);
  await setField(page, '#end', slot.end);
  await setField(page, '#purpose', slot.purpose);
  await setField(page, '#attendees', slot.attendees);
}

/** Opens the booking form of the hall from its page (following the link, as a user would). */
async function openBookingForm(page, hallId) {
  await go(page, `/halls/${hallId}`);
  await clickThrough(page, `main a[href^="/halls/${hallId}/book"]`, 'the link to the booking form');
  await atPath(page, new RegExp(`^/halls/${escapeRe(hallId)}/book`), 'the booking form');
  await see(page, '#date', 'the date field');
}

/**
 * Sends the filled-in form and expects it refused with the conflict: an HTTP 409, the
 * conflict reason in `lang` as its message reads (the blocked time includes Storsalen's
 * 30-minute setup and teardown), nothing else against it, and the form still filled in.
 */
async function refusedWithConflict(page, lang) {
  const response = await press(page, 'submit', { allow: [409] });
  if (response.status() !== 409) await fail(page, 'the conflicting request to answer 409', `HTTP ${response.status()}`);
  check((await page.getAttribute('html', 'lang')) === lang, `the page is in ${lang}`);
  const when = lang === 'nb' ? /torsdag 7\. januar 2027 17:30–20:30/ : /Thursday,? 7 January 2027 17:30–20:30/;
  await seeText(page, '#reasons li[data-code="conflict"]', ftlPattern(lang, 'reason-conflict', { spans: when }), `the conflict reason in ${lang}`);
  const codes = await page.locator('#reasons li').evaluateAll((lis) => lis.map((li) => li.dataset.code));
  check(codes.length === 1, `only the conflict against the request, got ${codes.join(', ')}`);
  check((await page.inputValue('#date')) === SLOT.date, 'the refused form keeps the date');
  // The reason says when, never whose: no trace of the first resident's booking.
  const body = await page.content();
  for (const secret of [FIRST.name, SLOT.purpose, FIRST.email]) {
    if (body.includes(secret)) await fail(page, `no trace of the first resident ("${secret}") on another resident's form`);
  }
}

/** Submits the booking form with the given action button. */
async function press(page, action, { allow = [] } = {}) {
  return clickThrough(page, `button[name=action][value=${action}]`, `the "${action}" button`, { allow });
}

await main({
  register: {
    run: async (t) => {
      const page = await t.page();
      t.state.resident = page;
      await register(page, FIRST);
    },
  },

  search: {
    needs: ['register'],
    run: async (t) => {
      const page = t.state.resident;
      await go(page, '/');
      await setField(page, '#date', SLOT.date);
      await setField(page, '#from', SLOT.start);
      await setField(page, '#to', SLOT.end);
      await setField(page, '#people', '40');
      await navigating(page, () => submitOf(page, '#people').click(), 'the search button');
      const query = new URL(page.url()).searchParams;
      if (query.get('date') !== SLOT.date) await fail(page, `the search to be a GET with date=${SLOT.date}`, page.url());
      const link = await see(page, page.locator('main a[href^="/halls/"]', { hasText: HALL }), `${HALL} among the results`);
      const href = await link.getAttribute('href');
      t.state.hallId = decodeURIComponent(href.match(/^\/halls\/([^/?#]+)/)[1]);
      // A hall that is too small for 40 is not offered (Klubbrommet holds fewer).
      const offered = (await page.locator('main a[href^="/halls/"]').allInnerTexts()).join(' | ');
      if (/Klubbrommet/.test(offered)) await fail(page, 'no hall too small for 40 people among the results', offered);
    },
  },

  hall: {
    needs: ['search'],
    run: async (t) => {
      const page = t.state.resident;
      // From the search results, as the resident left them.
      await clickThrough(page, page.locator('main a[href^="/halls/"]', { hasText: HALL }), `the result ${HALL}`);
      await atPath(page, new RegExp(`^/halls/${escapeRe(t.state.hallId)}`), `${HALL}'s page`);
      await seeText(page, 'h1', new RegExp(HALL), 'the hall name as the heading');
      await seeText(page, 'main table caption', /\S/, 'the week table with a caption');
      const th = await page.locator('main table th[scope]').count();
      if (th === 0) await fail(page, 'table headers with scope in the week table');
      await seeText(page, 'main table', /Ledig/, 'free cells ("Ledig") in the week table');
      const cells = (await page.locator('main table td').allInnerTexts()).join(' ');
      if (!/Stengt/.test(cells)) await fail(page, 'closed cells ("Stengt": before the lead time, outside opening hours) too', cells.slice(0, 300));
    },
  },

  book: {
    needs: ['hall'],
    run: async (t) => {
      const page = t.state.resident;
      await openBookingForm(page, t.state.hallId);
      await fillBooking(page, SLOT);
      await press(page, 'check');
      // Storsalen's requests go to a clerk: the check says so, and gives no reasons against.
      await seeText(page, '#check-result .outcome-pending', ftlPattern('nb', 'check-pending'), 'the check saying a clerk decides');
      if (await page.locator('#reasons li').count()) await fail(page, 'no reasons against a free slot');
      // The check keeps what was typed.
      check((await page.inputValue('#purpose')) === SLOT.purpose, 'the purpose is kept after checking');
      check((await page.inputValue('#date')) === SLOT.date, 'the date is kept after checking');
      await press(page, 'submit');
      const m = await atPath(page, /^\/my\/bookings\/([^/?#]+)/, 'the new booking');
      t.state.bookingId = decodeURIComponent(m[1]);
      await seeText(page, 'h1', new RegExp(HALL), 'the booking\'s hall as its heading');
      await seeText(page, '#booking-status', /^Til behandling$/, 'the status "Til behandling" (pending)');
      await seeText(page, 'main dl.facts', new RegExp(escapeRe(SLOT.purpose)), 'the purpose on the resident\'s own page');
      await seeText(page, 'main dl.facts', /7\. januar 2027 18:00–20:00/, 'the time asked for');
      // And so in the list of the resident's bookings, reached from the header.
      await clickThrough(page, 'header a[href="/my/bookings"]', 'the "Mine bookinger" link');
      const card = page.locator('#bookings li', { has: page.locator(`a[href="/my/bookings/${t.state.bookingId}"]`) });
      await seeText(page, card.locator('.status'), /^Til behandling$/, 'the booking pending in "Mine bookinger"');
      check((await page.locator('#bookings li').count()) === 1, 'the resident has exactly one booking');
    },
  },

  clerk: {
    needs: ['book'],
    run: async (t) => {
      const page = await t.page();
      await login(page, CLERK.login, CLERK.password);
      await atPath(page, /^\/console\/?(\?|$)/, 'the queue after signing in');
      const request = `article.request#request-${t.state.bookingId}`;
      await seeText(page, request, new RegExp(HALL), `the request for ${HALL} in the queue`);
      await seeText(page, request, new RegExp(escapeRe(FIRST.name)), "the requester's name on the request");
      await seeText(page, request, new RegExp(escapeRe(SLOT.purpose)), 'the purpose on the request');
      const approve = page.locator(request).locator('button', { hasText: 'Godkjenn' });
      await clickThrough(page, approve, 'Godkjenn');
      await atPath(page, /^\/console\?notice=approved$/, 'the queue again, after approving');
      await seeText(page, '.notice', ftlPattern('nb', 'console-notice-approved'), 'the "approved" notice');
      if (await page.locator(request).count()) await fail(page, 'the approved request to leave the queue');
      // The console's page of the booking: approved, and the history says Erik did it.
      await go(page, `/console/bookings/${t.state.bookingId}`);
      await seeText(page, 'main dl.facts .status', /^Godkjent$/, 'the booking approved in the console');
      const rows = (await page.locator('table.history tbody tr').allInnerTexts()).map(squeeze);
      if (!rows.some((r) => /Erik/.test(r) && /Godkjent/.test(r))) {
        await fail(page, 'a history row saying Erik approved it', JSON.stringify(rows));
      }
    },
  },

  approved: {
    needs: ['clerk'],
    run: async (t) => {
      const page = t.state.resident;
      // The list first (where a resident looks), then the booking itself.
      await go(page, '/my/bookings');
      const card = page.locator('#bookings li', { has: page.locator(`a[href="/my/bookings/${t.state.bookingId}"]`) });
      await seeText(page, card.locator('.status'), /^Godkjent$/, 'the booking approved in "Mine bookinger"');
      await clickThrough(page, card.locator('a'), 'the booking in the list');
      await seeText(page, '#booking-status', /^Godkjent$/, 'the status "Godkjent"');
      const link = await see(page, 'a[href$=".ics"]', 'the calendar file link');
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const name = download.suggestedFilename();
      check(name === `booking-${t.state.bookingId}.ics`, `the download to be named booking-${t.state.bookingId}.ics, got ${name}`);
      const ics = readFileSync(await download.path(), 'utf8').replace(/\r?\n[ \t]/g, '');
      const expect = (re, what) => check(re.test(ics), `the .ics to contain ${what}; it reads:\n${ics.slice(0, 1200)}`);
      expect(/^BEGIN:VCALENDAR\r?$/m, 'BEGIN:VCALENDAR');
      const events = ics.match(/^BEGIN:VEVENT\r?$/gm) || [];
      check(events.length === 1, `the .ics to hold one event, it has ${events.length}:\n${ics.slice(0, 1200)}`);
      expect(new RegExp(`^UID:${escapeRe(t.state.bookingId)}@lokal\\r?$`, 'm'), `UID:${t.state.bookingId}@lokal`);
      expect(/^STATUS:CONFIRMED\r?$/m, 'STATUS:CONFIRMED');
      // Thursday 7 January 2027 18:00–20:00 in Oslo (UTC+1), however the file writes it.
      expect(/^DTSTART(;TZID=Europe\/Oslo:20270107T180000|:20270107T170000Z)\r?$/m, 'DTSTART at 18:00 Oslo time on 7 January 2027');
      expect(/^DTEND(;TZID=Europe\/Oslo:20270107T200000|:20270107T190000Z)\r?$/m, 'DTEND at 20:00 Oslo time');
      expect(new RegExp(`^(SUMMARY|LOCATION):.*${HALL}`, 'm'), `${HALL} as the summary or location`);
    },
  },

  conflict: {
    needs: ['approved'],
    run: async (t) => {
      const page = await t.page();
      await register(page, SECOND);
      await openBookingForm(page, t.state.hallId);
      await fillBooking(page, { ...SLOT, purpose: 'Årsmøte i sanglaget' });
      await refusedWithConflict(page, 'nb');

      await switchLanguage(page, 'en');
      await see(page, '#date', 'the booking form in English');
      await fillBooking(page, { ...SLOT, purpose: 'Annual meeting of the choir' });
      await refusedWithConflict(page, 'en');

      // Nothing was booked for the second resident.
      await go(page, '/my/bookings');
      await notThere(page, '#bookings li', "a booking of the second resident's");
    },
  },
});
