// axe-core (WCAG 2.1 A and AA: wcag2a, wcag2aa, wcag21a, wcag21aa) finds no violations on
// every page of the residents and the clerks (issue 6, f), each in a state with content:
// search results, a week with busy cells, forms with field errors and with the core's
// reasons, bookings pending, approved and rejected, a queue with requests and a refused
// rejection, a booking's audit trail, a calendar week with bookings and a closure, search
// results, the calendar links, a closure's page with the request it hits (and its keep form
// refused for want of a reason). Every page is checked in Bokmål and in English, and every
// page that has an address of its own weighs less than 100 KB (fresh cache).
//
// Setup goes through the JSON API: a resident with two pending requests for Storsalen (one
// stays in the queue, the clerk rejects the other) and a booking of Klubbrommet (approved
// at once).
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/axe.mjs [flow,...]

import {
  CLERK, apiBooking, apiResident, axeCheck, check, checkWeight, checkWeightHere, clickThrough, fail, go, login, main,
  navigating, rooms, see, seeText, setField, STAFF, submitOf, switchLanguage,
  unique,
} from './lib.mjs';

const RESIDENT = { name: 'Aksel Tilgjengelig', email: unique('aksel.tilgjengelig@example.no'), password: 'aksel-axe-2027-x' };
const CLOSURE = 'Vedlikehold av scenen';
const REJECTION = 'Salen er reservert for kommunens eget arrangement.';
const LANGS = ['nb', 'en'];

/** The page's address (path and query), to weigh it again in a fresh context. */
function address(page) {
  const u = new URL(page.url());
  return u.pathname + u.search;
}

/**
 * axe-core on the page as it is; then the same address, loaded afresh with the same cookies,
 * must weigh less than 100 KB. The answers to POSTs and error pages cannot be loaded again
 * as they are (`reload: false`): their document and what it refers to are weighed instead.
 */
async function audit(t, page, name, { reload = true } = {}) {
  await axeCheck(page, name);
  // The English pages are the same pages in other words: weighed as they are, which is quicker.
  if (reload && !name.endsWith('-en')) await checkWeight(t, address(page), { as: page });
  else await checkWeightHere(page, name);
}

/** Opens a page in a context that can take axe-core, in `lang`. */
async function pageIn(t, lang) {
  const page = await t.page({ bypassCSP: true });
  if (lang !== 'nb') {
    await go(page, '/');
    await switchLanguage(page, lang);
  }
  return page;
}

/** The booking form's fields, for a slot. */
async function fillBooking(page, { date, start, end, purpose, attendees }) {
  await setField(page, '#date', date);
  await setField(page, '#start', start);
  await setField(page, '#end', end);
  await setField(page, '#purpose', purpose);
  await setField(page, '#attendees', attendees);
}

/** The start page, empty and with search results. */
async function startPages(t, page, lang) {
  await go(page, '/');
  await audit(t, page, `start-${lang}`);
  await setField(page, '#date', '2027-01-07');
  await setField(page, '#from', '18:00');
  await setField(page, '#to', '20:00');
  await setField(page, '#people', '40');
  await navigating(page, () => submitOf(page, '#people').click(), 'the search button');
  await see(page, 'main a[href^="/halls/"]', 'a hall among the results');
  await audit(t, page, `start-results-${lang}`);
  // A search the page refuses (the end before the start): the errors tied to the fields.
  await go(page, '/?date=2027-01-07&from=20:00&to=18:00&people=0', { status: 422 });
  await see(page, '[aria-invalid="true"]', 'a search field marked invalid');
  await audit(t, page, `start-errors-${lang}`, { reload: false });
}

/** The halls' pages: Klubbrommet's week has a busy evening (the approved booking). */
async function hallPages(t, page, lang) {
  await go(page, `/halls/${t.state.hall}`);
  await see(page, 'main table caption', "Storsalen's week");
  await audit(t, page, `hall-${lang}`);
  await go(page, `/halls/${t.state.club}`);
  await seeText(page, 'main table', lang === 'nb' ? /Opptatt/ : /Busy/, "Klubbrommet's busy evening");
  await audit(t, page, `hall-busy-${lang}`);
  // A divisible hall and one of its halves, busy when the whole is booked (issue 16).
  await go(page, `/halls/${t.state.gym}?week=2027-W01`);
  await see(page, '#division-heading', "the divisible hall's parts");
  await audit(t, page, `hall-divisible-${lang}`);
  await go(page, `/halls/${t.state.halfA}?week=2027-W01`);
  await seeText(page, 'main .division', lang === 'nb' ? /en del av/ : /part of/, 'what the half is part of');
  await seeText(page, 'main table', lang === 'nb' ? /Opptatt/ : /Busy/, "the whole's booking in the half's week");
  await audit(t, page, `hall-part-${lang}`);
}

/** The booking form: empty, checked, refused with field errors, refused with the core's reasons. */
async function bookingForms(t, page, lang) {
  await go(page, `/halls/${t.state.hall}/book`);
  await audit(t, page, `booking-form-${lang}`);
  await fillBooking(page, { date: '2027-01-12', start: '18:00', end: '20:00', purpose: 'Korøving', attendees: '30' });
  await clickThrough(page, 'button[name=action][value=check]', 'the check button');
  await see(page, '#check-result .outcome', 'the result of the check');
  await audit(t, page, `booking-form-checked-${lang}`, { reload: false });
  await go(page, `/halls/${t.state.hall}/book`);
  await clickThrough(page, 'button[name=action][value=submit]', 'submit with nothing filled in', { allow: [422] });
  await see(page, '.error-summary', 'the error summary');
  await see(page, '#date[aria-invalid="true"]', 'the date marked invalid');
  await audit(t, page, `booking-form-errors-${lang}`, { reload: false });
  // Sunday evening, after Storsalen closes at 20:00, and on top of the pending request.
  await go(page, `/halls/${t.state.hall}/book`);
  await fillBooking(page, { date: '2027-01-10', start: '19:00', end: '22:00', purpose: 'Sen øving', attendees: '20' });
  await clickThrough(page, 'button[name=action][value=submit]', 'submit out of opening hours', { allow: [409, 422] });
  await see(page, '#reasons li[data-code]', 'the reasons it was refused');
  await audit(t, page, `booking-form-reasons-${lang}`, { reload: false });
}

/** The resident's own pages: the list, and a booking pending, approved (and rejected). */
async function residentPages(t, page, lang, { rejected = false } = {}) {
  await go(page, '/my/bookings');
  await see(page, `main a[href="/my/bookings/${t.state.pending}"]`, 'the pending request in the list');
  await audit(t, page, `my-bookings-${lang}`);
  await go(page, `/my/bookings/${t.state.pending}`);
  await see(page, '#booking-status.status-pending', 'the status "pending"');
  await audit(t, page, `my-booking-pending-${lang}`);
  await go(page, `/my/bookings/${t.state.approved}`);
  await see(page, '#booking-status.status-approved', 'the status "approved"');
  await audit(t, page, `my-booking-approved-${lang}`);
  if (rejected) {
    await go(page, `/my/bookings/${t.state.toReject}`);
    await see(page, '#booking-status.status-rejected', 'the status "rejected"');
    await seeText(page, 'main', new RegExp(REJECTION.slice(0, 20)), "the clerk's reason");
    await audit(t, page, `my-booking-rejected-${lang}`);
  }
}

/** The clerk's pages that change nothing: queue, a booking's page, calendar, search, links. */
async function consolePages(t, page, lang) {
  await go(page, '/console');
  await see(page, `#request-${t.state.pending}`, 'the pending request in the queue');
  await audit(t, page, `queue-${lang}`);
  await go(page, `/console/bookings/${t.state.pending}`);
  await see(page, 'table.history tbody tr', 'the audit trail');
  await see(page, 'form[action$="/approve"]', 'the decision forms');
  await audit(t, page, `booking-detail-pending-${lang}`);
  await go(page, `/console/bookings/${t.state.toReject}`);
  await seeText(page, 'table.history tbody', new RegExp(REJECTION.slice(0, 20)), 'the rejection in the audit trail');
  await audit(t, page, `booking-detail-rejected-${lang}`);
  await go(page, `/console/calendar?room=${encodeURIComponent(t.state.hall)}&week=2027-W01`);
  await seeText(page, 'main .week-list', new RegExp(CLOSURE), 'the closure in the week');
  await seeText(page, 'main .week-list', /Korøving|Aksel/, 'the bookings in the week');
  await audit(t, page, `calendar-${lang}`);
  await go(page, `/console/search?q=${encodeURIComponent('Aksel')}`);
  const found = await page.locator('table.results tbody tr').count();
  if (found < 3) await fail(page, "the resident's three bookings among the search results", `${found} row(s)`);
  await audit(t, page, `search-${lang}`);
  await go(page, '/console/calendars');
  await see(page, 'main a[href*="/feeds/"], main input[value*="/feeds/"], main code', 'the calendar links');
  await audit(t, page, `calendar-links-${lang}`);
  await go(page, '/console/notifications');
  await see(page, 'table.notifications tbody tr form[action$="/retry"]', 'a dead letter with its retry button');
  await audit(t, page, `notifications-${lang}`);
  if (t.state.closurePage) {
    await go(page, t.state.closurePage);
    await see(page, `#hit-${t.state.pending} form`, 'the closure page with its request');
    await audit(t, page, `closure-page-${lang}`);
  }
}

await main({
  setup: {
    run: async (t) => {
      const ids = await rooms(t);
      t.state.hall = ids.Storsalen;
      t.state.club = ids.Klubbrommet;
      t.state.gym = ids['Gymsal A+B, (delbar)'];
      t.state.halfA = ids['Gymsal A'];
      const whole = await apiBooking(t, STAFF, {
        room: t.state.gym, start: '2027-01-07T18:00', end: '2027-01-07T20:00', purpose: 'Innebandy', attendees: 30,
      });
      check(['pending', 'approved'].includes(whole.status), `the whole gym is booked; got ${whole.status}`);
      await apiResident(t, RESIDENT);
      const pending = await apiBooking(t, RESIDENT, {
        room: t.state.hall, start: '2027-01-07T18:00', end: '2027-01-07T20:00', purpose: 'Korøving', attendees: 40,
      });
      check(pending.status === 'pending', `Storsalen's requests wait for a clerk; got ${pending.status}`);
      t.state.pending = pending.id;
      const toReject = await apiBooking(t, RESIDENT, {
        room: t.state.hall, start: '2027-01-06T18:00', end: '2027-01-06T20:00', purpose: 'Konsert', attendees: 90,
      });
      t.state.toReject = toReject.id;
      const approved = await apiBooking(t, RESIDENT, {
        room: t.state.club, start: '2027-01-08T18:00', end: '2027-01-08T20:00', purpose: 'Styremøte', attendees: 8,
      });
      check(approved.status === 'approved', `Klubbrommet approves residents at once; got ${approved.status}`);
      t.state.approved = approved.id;
    },
  },

  public: {
    needs: ['setup'],
    run: async (t) => {
      for (const lang of LANGS) {
        const page = await pageIn(t, lang);
        await startPages(t, page, lang);
        await hallPages(t, page, lang);
        await go(page, '/login');
        await audit(t, page, `login-${lang}`);
        await go(page, '/register');
        await audit(t, page, `register-${lang}`);
        await go(page, "/no-such-page", { status: 404 });
        await audit(t, page, `not-found-${lang}`, { reload: false });
      }
    },
  },

  resident: {
    needs: ['setup'],
    run: async (t) => {
      for (const lang of LANGS) {
        const page = await pageIn(t, lang);
        await login(page, RESIDENT.email, RESIDENT.password);
        await residentPages(t, page, lang);
        await bookingForms(t, page, lang);
      }
    },
  },

  // The clerk's forms in their states (a refused rejection, a closure form with errors),
  // then decisions and a closure through them, so the pages after have content.
  console: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await login(page, CLERK.login, CLERK.password);
      await go(page, '/console');
      const card = page.locator(`#request-${t.state.toReject}`);
      await see(page, card, 'the request to reject');
      await clickThrough(page, card.locator('form[action$="/reject"] button'), 'Avslå with no reason', { allow: [422] });
      await see(page, `#reason-${t.state.toReject}[aria-invalid="true"]`, 'the reason marked invalid');
      await see(page, '.error-summary', 'the error summary');
      await audit(t, page, 'queue-reject-error-nb', { reload: false });
      await setField(page, `#reason-${t.state.toReject}`, REJECTION);
      await clickThrough(page, page.locator(`#request-${t.state.toReject} form[action$="/reject"] button`), 'Avslå');
      await see(page, '.notice', 'the "rejected" notice');
      await audit(t, page, 'queue-notice-nb');

      await go(page, `/console/calendar?room=${encodeURIComponent(t.state.hall)}&week=2027-W01`);
      await clickThrough(page, '#closure-form button[type=submit]', 'the closure form, empty', { allow: [422] });
      await see(page, '#start_date[aria-invalid="true"]', 'the start date marked invalid');
      await audit(t, page, 'calendar-closure-errors-nb', { reload: false });
      await go(page, `/console/calendar?room=${encodeURIComponent(t.state.hall)}&week=2027-W01`);
      await setField(page, '#start_date', '2027-01-05');
      await setField(page, '#start_time', '08:00');
      await setField(page, '#end_date', '2027-01-05');
      await setField(page, '#end_time', '12:00');
      await setField(page, '#reason', CLOSURE);
      await clickThrough(page, '#closure-form button[type=submit]', 'the closure form');
      await see(page, '.notice', 'the "closed" notice');
      await audit(t, page, 'closure-page-empty-nb', { reload: false });
      // A closure that hits the pending request: its page lists it with the keep/cancel form,
      // and keeping it without a reason shows the error at its field. It stays undecided.
      await go(page, `/console/calendar?room=${encodeURIComponent(t.state.hall)}&week=2027-W01`);
      await setField(page, '#start_date', '2027-01-07');
      await setField(page, '#start_time', '19:00');
      await setField(page, '#end_date', '2027-01-07');
      await setField(page, '#end_time', '23:00');
      await setField(page, '#reason', CLOSURE);
      await clickThrough(page, '#closure-form button[type=submit]', 'the closure form over a request');
      await see(page, `#hit-${t.state.pending} form`, 'the hit request with its form');
      t.state.closurePage = new URL(page.url()).pathname;
      await audit(t, page, 'closure-page-nb');
      await clickThrough(page, page.locator(`#hit-${t.state.pending} button[value=keep]`), 'Behold with no reason', { allow: [422] });
      await see(page, `#reason-${t.state.pending}[aria-invalid="true"]`, 'the reason marked invalid');
      await see(page, '.error-summary', 'the error summary');
      await audit(t, page, 'closure-page-error-nb', { reload: false });

      await consolePages(t, page, 'nb');
    },
  },

  'console-en': {
    needs: ['console'],
    run: async (t) => {
      const page = await pageIn(t, 'en');
      await login(page, CLERK.login, CLERK.password);
      await consolePages(t, page, 'en');
    },
  },

  rejected: {
    needs: ['console'],
    run: async (t) => {
      for (const lang of LANGS) {
        const page = await pageIn(t, lang);
        await login(page, RESIDENT.email, RESIDENT.password);
        await residentPages(t, page, lang, { rejected: true });
      }
    },
  },
});
