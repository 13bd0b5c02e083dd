// The booking story end to end (issue 6, a–d):
//   register  a resident registers
//   search    searches on the start page for Thursday 7 January 2027, 18–20, 40 people
//   hall      opens Storsalen's page: a week table with a caption, free/busy/closed cells
//   book      checks and asks for the slot; lands on the booking, "Til behandling"
//   clerk     Erik (directory login through slapd) approves it in the queue
//   approved  the resident sees "Godkjent" and downloads the .ics
//   conflict  a second resident asks for the same slot: the conflict reason, in Bokmål, then
//             in English after the language switch
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/booking.mjs [flow,...]

import { readFileSync } from 'node:fs';
import {
  CLERK, atPath, check, clickThrough, escapeRe, fail, ftlWords, go, login, main, navigating,
  register, see, seeText, setField, submitOf, switchLanguage,
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
      t.state.hallHref = href;
    },
  },

  hall: {
    needs: ['search'],
    run: async (t) => {
      const page = t.state.resident;
      await go(page, '/');
      await go(page, t.state.hallHref);
      await seeText(page, 'h1', new RegExp(HALL), 'the hall name as the heading');
      await seeText(page, 'main table caption', /\S/, 'the week table with a caption');
      const th = await page.locator('main table th[scope]').count();
      if (th === 0) await fail(page, 'table headers with scope in the week table');
      await seeText(page, 'main table', /Ledig/, 'free cells ("Ledig") in the week table');
      const cells = (await page.locator('main table td').allInnerTexts()).join(' ');
      if (!/Stengt|Opptatt/.test(cells)) await fail(page, 'closed ("Stengt") or busy ("Opptatt") cells too', cells.slice(0, 300));
    },
  },

  book: {
    needs: ['hall'],
    run: async (t) => {
      const page = t.state.resident;
      await openBookingForm(page, t.state.hallId);
      await fillBooking(page, SLOT);
      await press(page, 'check');
      await seeText(page, '#check-result', /\S/, 'the result of the check');
      // The check keeps what was typed.
      check((await page.inputValue('#purpose')) === SLOT.purpose, 'the purpose is kept after checking');
      await press(page, 'submit');
      const m = await atPath(page, /^\/my\/bookings\/([^/?#]+)/, 'the new booking');
      t.state.bookingId = decodeURIComponent(m[1]);
      await seeText(page, '.status', /Til behandling/, 'the status "Til behandling" (pending)');
      await seeText(page, 'main', new RegExp(escapeRe(SLOT.purpose)), 'the purpose on the resident\'s own page');
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
      const approve = page.locator(request).locator('button', { hasText: 'Godkjenn' });
      await clickThrough(page, approve, 'Godkjenn');
      await go(page, '/console');
      const left = await page.locator(request).locator('button', { hasText: 'Godkjenn' }).count();
      if (left) await fail(page, 'the approved request to leave the queue');
    },
  },

  approved: {
    needs: ['clerk'],
    run: async (t) => {
      const page = t.state.resident;
      await go(page, `/my/bookings/${t.state.bookingId}`);
      await seeText(page, '.status', /Godkjent/, 'the status "Godkjent"');
      const link = await see(page, 'a[href$=".ics"]', 'the calendar file link');
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const file = await download.path();
      const ics = readFileSync(file, 'utf8').replace(/\r?\n[ \t]/g, '');
      const expect = (re, what) => check(re.test(ics), `the .ics to contain ${what}; it reads:\n${ics.slice(0, 800)}`);
      expect(/^BEGIN:VCALENDAR/m, 'BEGIN:VCALENDAR');
      expect(new RegExp(`^UID:${escapeRe(t.state.bookingId)}@lokal\\r?$`, 'm'), `UID:${t.state.bookingId}@lokal`);
      expect(/^STATUS:CONFIRMED\r?$/m, 'STATUS:CONFIRMED');
    },
  },

  conflict: {
    needs: ['approved'],
    run: async (t) => {
      const page = await t.page();
      await register(page, SECOND);
      await openBookingForm(page, t.state.hallId);
      await fillBooking(page, { ...SLOT, purpose: 'Årsmøte i sanglaget' });
      await press(page, 'submit', { allow: [409, 422] });
      const reason = '#reasons li[data-code="conflict"]';
      const nb = await seeText(page, reason, /\S/, 'the conflict reason');
      check((await page.getAttribute('html', 'lang')) === 'nb', 'the page is in Bokmål');

      await switchLanguage(page, 'en');
      await see(page, '#date', 'the booking form in English');
      await fillBooking(page, { ...SLOT, purpose: 'Annual meeting of the choir' });
      await press(page, 'submit', { allow: [409, 422] });
      const en = await seeText(page, reason, /\S/, 'the conflict reason in English');
      if (nb === en) await fail(page, 'the reason to change language', `nb "${nb}", en "${en}"`);
      // Once the reasons' messages exist, each text must carry words of its own language.
      for (const [lang, text] of [['nb', nb], ['en', en]]) {
        const words = ftlWords(lang, /^(reason-)?conflict/);
        if (words.length && !words.some((w) => text.includes(w))) {
          throw new Error(`the ${lang} conflict reason "${text}" has none of its message's words: ${words.join(', ')}`);
        }
      }
      // The other resident's booking is not shown to this resident.
      const body = await page.content();
      for (const secret of [FIRST.name, SLOT.purpose, FIRST.email]) {
        if (body.includes(secret)) await fail(page, `no trace of the first resident ("${secret}") on another resident's form`);
      }
    },
  },
});
