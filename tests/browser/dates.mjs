// Bookings that stay true, date by date (issue 16), in a real browser with axe-core:
//   setup     a resident asks for ten Wednesdays in Lillesalen (18–20, from 13 January 2027);
//             afterwards the clerk closes the hall on the third Wednesday (27 January)
//   clerk     Erik opens the request in the console: the closed date's box is disabled with
//             why ("Kan ikke godkjennes", the closure's name); "Godkjenn" approves the rest,
//             and the page says "9 godkjent, 1 avslått" (axe: 0 violations before and after)
//   cancel    the resident cancels one Wednesday (10 February) after the confirmation step;
//             the others stay approved (axe on the booking and on the confirmation)
//   move      the resident moves another Wednesday (17 February) to the Thursday: the hall
//             needs a clerk, so the Wednesday stays hers and the Thursday waits; a move to a
//             taken time is refused on the form with the reason, and nothing changes (axe on
//             the form, empty and refused)
//   english   the booking page and the move form in English pass axe too
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/dates.mjs [flow,...]

import {
  CLERK, axeCheck, basic, check, clickThrough, fail, go, login, main, register, rooms, see,
  seeText, setField, switchLanguage, unique,
} from './lib.mjs';

const RESIDENT = { name: 'Kari Korleder', email: unique('kari.korleder@example.no'), password: 'kari-dates-2027-x' };
const CLOSURE = 'Gulvpolering';

await main({
  setup: {
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      t.state.resident = page;
      await register(page, RESIDENT);
      const hall = (await rooms(t)).Lillesalen;
      check(hall, 'Lillesalen among the rooms');
      t.state.hall = hall;
      const api = await t.api();
      const r = await api.post('/api/v1/bookings', {
        headers: { authorization: basic(RESIDENT.email, RESIDENT.password) },
        data: {
          room_id: hall, start: '2027-01-13T18:00', end: '2027-01-13T20:00', purpose: 'Korøvelse',
          attendees: 30, recurrence: 'FREQ=WEEKLY;COUNT=10',
        },
      });
      check(r.status() === 201, `the series through the API: HTTP ${r.status()} ${await r.text()}`);
      t.state.id = (await r.json()).booking.id;
      const c = await api.post('/api/v1/closures', {
        headers: { authorization: basic(CLERK.login, CLERK.password) },
        data: { room_id: hall, start: '2027-01-27', end: '2027-01-28', reason: CLOSURE },
      });
      check(c.status() === 201, `the closure through the API: HTTP ${c.status()} ${await c.text()}`);
    },
  },

  clerk: {
    needs: ['setup'],
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      await login(page, CLERK.login, CLERK.password);
      await go(page, `/console/bookings/${t.state.id}`);
      const closed = page.locator('#date-row-2');
      await seeText(page, closed, /Kan ikke godkjennes/, 'the closed date marked as not approvable');
      await seeText(page, closed, new RegExp(CLOSURE), "the closure's name as why");
      check(await closed.locator('input[type=checkbox]').isDisabled(), "the closed date's box is disabled");
      check(!(await page.locator('#date-row-3 input[type=checkbox]').isDisabled()), 'an open date can be picked');
      await axeCheck(page, 'console-dates-before');
      const approve = page.locator(`form[action="/console/bookings/${t.state.id}/approve"] button`);
      await clickThrough(page, approve, 'Godkjenn');
      await seeText(page, 'main', /9 godkjent, 1 avslått/, 'the summary after approving');
      await seeText(page, '#date-row-2', /Avslått/, 'the closed date rejected');
      await seeText(page, '#date-row-2', new RegExp(CLOSURE), 'with the closure as why');
      await axeCheck(page, 'console-dates-after');
    },
  },

  cancel: {
    needs: ['clerk'],
    run: async (t) => {
      const page = t.state.resident;
      await go(page, `/my/bookings/${t.state.id}`);
      await seeText(page, '#dates-summary', /9 godkjent, 1 avslått/, 'the summary on the booking');
      await axeCheck(page, 'mine-dates');
      const link = page.locator(`a[href="/my/bookings/${t.state.id}/dates/4/cancel"]`);
      await clickThrough(page, link, 'the cancel link of 10 February');
      await seeText(page, '#confirm-question', /De andre datoene beholdes/, 'the confirmation question');
      await axeCheck(page, 'mine-confirm-date');
      await clickThrough(page, 'main form button[type=submit]', 'Ja, avlys denne datoen');
      await seeText(page, '.notice', /Datoen er avlyst/, 'the notice after cancelling');
      await seeText(page, '#dates-summary', /8 godkjent, 1 avslått, 1 avlyst/, 'the others stay approved');
    },
  },

  move: {
    needs: ['cancel'],
    run: async (t) => {
      const page = t.state.resident;
      const link = page.locator(`a[href="/my/bookings/${t.state.id}/dates/5/move"]`);
      await clickThrough(page, link, 'the move link of 17 February');
      check((await page.inputValue('#date')) === '2027-02-17', 'the form starts at the date as it is');
      await axeCheck(page, 'mine-move');
      // To a time the booking itself holds (the next Wednesday): refused, nothing changes.
      await setField(page, '#date', '2027-02-24');
      await clickThrough(page, 'main form button[type=submit]', 'Flytt datoen', { allow: [409] });
      await see(page, '#reasons li[data-code="conflict"]', 'the conflict as the reason');
      check((await page.inputValue('#date')) === '2027-02-24', 'the refused form keeps what was typed');
      await axeCheck(page, 'mine-move-refused');
      // To the Thursday: the hall needs a clerk, so the Wednesday is kept meanwhile.
      await setField(page, '#date', '2027-02-18');
      await clickThrough(page, 'main form button[type=submit]', 'Flytt datoen');
      await seeText(page, '.notice', /venter på en saksbehandler/, 'the notice that the clerk decides');
      await seeText(page, '#dates-summary', /8 godkjent, 1 til behandling, 1 avslått, 1 avlyst/, 'the new date waiting beside the old');
      const rows = await page.locator('#dates tbody tr').allInnerTexts();
      if (!rows.some((r) => /18\. februar 2027/.test(r) && /Til behandling/.test(r))) {
        await fail(page, 'the Thursday waiting in the dates table', rows.join(' | '));
      }
      if (!rows.some((r) => /17\. februar 2027/.test(r) && /Godkjent/.test(r))) {
        await fail(page, 'the Wednesday still approved', rows.join(' | '));
      }
      await axeCheck(page, 'mine-dates-moved');
    },
  },

  english: {
    needs: ['move'],
    run: async (t) => {
      const page = t.state.resident;
      await switchLanguage(page, 'en');
      await go(page, `/my/bookings/${t.state.id}`);
      await seeText(page, '#dates-summary', /8 approved, 1 pending, 1 rejected, 1 cancelled/, 'the summary in English');
      await axeCheck(page, 'mine-dates-en');
      await go(page, `/my/bookings/${t.state.id}/dates/6/move`);
      await seeText(page, 'h1', /Move/, 'the move form in English');
      await axeCheck(page, 'mine-move-en');
    },
  },
});
