// axe-core (WCAG 2.1 A and AA) finds no violations on the residents' and the clerks' pages
// (issue 6, f), each in Bokmål, and the start page and booking form in English too.
// Setup goes through the JSON API: a resident with a pending request for Storsalen (so the
// queue has one) and a booking of Klubbrommet (approved at once).
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/axe.mjs [flow,...]

import {
  CLERK, apiBooking, apiResident, axeCheck, clickThrough, go, login, main, navigating, rooms, see,
  setField, submitOf, switchLanguage,
  unique,
} from './lib.mjs';

const RESIDENT = { name: 'Aksel Tilgjengelig', email: unique('aksel.tilgjengelig@example.no'), password: 'aksel-axe-2027-x' };

/** The booking form's fields, for a slot. */
async function fillBooking(page, { date, start, end, purpose, attendees }) {
  await setField(page, '#date', date);
  await setField(page, '#start', start);
  await setField(page, '#end', end);
  await setField(page, '#purpose', purpose);
  await setField(page, '#attendees', attendees);
}

/** The start page, empty and with search results. */
async function startPages(page, lang) {
  await go(page, '/');
  await axeCheck(page, `start-${lang}`);
  await setField(page, '#date', '2027-01-07');
  await setField(page, '#from', '18:00');
  await setField(page, '#to', '20:00');
  await setField(page, '#people', '40');
  await navigating(page, () => submitOf(page, '#people').click(), 'the search button');
  await see(page, 'main a[href^="/halls/"]', 'a hall among the results');
  await axeCheck(page, `start-results-${lang}`);
}

/** The booking form: empty, refused with field errors, refused with the core's reasons. */
async function bookingForms(page, hallId, lang) {
  await go(page, `/halls/${hallId}/book`);
  await axeCheck(page, `booking-form-${lang}`);
  await clickThrough(page, 'button[name=action][value=submit]', 'submit with nothing filled in', { allow: [409, 422] });
  await see(page, '.error-summary', 'the error summary');
  await axeCheck(page, `booking-form-errors-${lang}`);
  // Sunday evening, after Storsalen closes at 20:00, and on top of the pending request.
  await go(page, `/halls/${hallId}/book`);
  await fillBooking(page, { date: '2027-01-10', start: '19:00', end: '22:00', purpose: 'Sen øving', attendees: '20' });
  await clickThrough(page, 'button[name=action][value=submit]', 'submit out of opening hours', { allow: [409, 422] });
  await see(page, '#reasons li[data-code]', 'the reasons it was refused');
  await axeCheck(page, `booking-form-reasons-${lang}`);
}

await main({
  setup: {
    run: async (t) => {
      const ids = await rooms(t);
      t.state.hall = ids.Storsalen;
      t.state.club = ids.Klubbrommet;
      await apiResident(t, RESIDENT);
      const pending = await apiBooking(t, RESIDENT, {
        room: t.state.hall, start: '2027-01-07T18:00', end: '2027-01-07T20:00', purpose: 'Korøving', attendees: 40,
      });
      t.state.pending = pending.id;
      const approved = await apiBooking(t, RESIDENT, {
        room: t.state.club, start: '2027-01-08T18:00', end: '2027-01-08T20:00', purpose: 'Styremøte', attendees: 8,
      });
      t.state.approved = approved.id;
    },
  },

  public: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await startPages(page, 'nb');
      await go(page, `/halls/${t.state.hall}`);
      await axeCheck(page, 'hall-nb');
      await go(page, '/login');
      await axeCheck(page, 'login-nb');
      await go(page, '/register');
      await axeCheck(page, 'register-nb');
    },
  },

  resident: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await login(page, RESIDENT.email, RESIDENT.password);
      await go(page, '/my/bookings');
      await see(page, `main a[href^="/my/bookings/${t.state.pending}"]`, 'the pending request in the list');
      await axeCheck(page, 'my-bookings-nb');
      await go(page, `/my/bookings/${t.state.pending}`);
      await see(page, '.status', 'the booking status');
      await axeCheck(page, 'my-booking-pending-nb');
      await go(page, `/my/bookings/${t.state.approved}`);
      await axeCheck(page, 'my-booking-approved-nb');
      await bookingForms(page, t.state.hall, 'nb');
    },
  },

  english: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await go(page, '/');
      await switchLanguage(page, 'en');
      await startPages(page, 'en');
      await go(page, `/halls/${t.state.hall}`);
      await axeCheck(page, 'hall-en');
      await login(page, RESIDENT.email, RESIDENT.password);
      await bookingForms(page, t.state.hall, 'en');
      await go(page, '/my/bookings');
      await axeCheck(page, 'my-bookings-en');
    },
  },

  console: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await login(page, CLERK.login, CLERK.password);
      await go(page, '/console');
      await see(page, `#request-${t.state.pending}`, 'the pending request in the queue');
      await axeCheck(page, 'queue-nb');
      await go(page, `/console/calendar?room=${encodeURIComponent(t.state.hall)}&week=2027-W01`);
      await see(page, 'main table caption', 'the week table');
      await axeCheck(page, 'calendar-nb');
      await go(page, `/console/search?q=${encodeURIComponent('Aksel')}`);
      await see(page, 'main', 'the search page');
      await axeCheck(page, 'search-nb');
      await go(page, '/console/calendars');
      await axeCheck(page, 'calendar-links-nb');
    },
  },
});
