// A booking with the keyboard only (issue 6, e): from the start page, a resident signs in,
// finds Klubbrommet (which books residents directly), fills the form and sends it with
// Tab, Shift+Tab, typing, Enter and Space; no clicks, no fill(), no goto after the start
// page, no selectOption. The skip link is the first Tab stop, and every element the focus
// passes shows a visible focus indicator.
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/keyboard.mjs [flow,...]

import {
  apiResident, atPath, describeFocus, escapeRe, fail, focusIsVisible, ftlPattern, go, main, pressThrough,
  rooms, seeText, tabTo, typeValue,
  unique,
} from './lib.mjs';

const RESIDENT = { name: 'Tor Tastatur', email: unique('tor.tastatur@example.no'), password: 'tor-keys-2027-x' };
const SLOT = { date: '2027-01-08', start: '18:00', end: '20:00', purpose: 'Styremøte i velforeningen', attendees: '10' };
const ROOM = 'Klubbrommet';

await main({
  'skip-link': {
    run: async (t) => {
      const page = await t.page();
      await go(page, '/');
      await page.keyboard.press('Tab');
      if (!(await page.evaluate(() => document.activeElement.matches('a[href="#main"]')))) {
        await fail(page, 'the skip link to be the first Tab stop', await describeFocus(page));
      }
      await focusIsVisible(page);
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'main');
      // The next Tab stop is inside the content, past the header.
      await page.keyboard.press('Tab');
      const inMain = await page.evaluate(() => !!document.activeElement.closest('main'));
      if (!inMain) await fail(page, 'Tab after the skip link to go into the content', await describeFocus(page));
      await focusIsVisible(page);
    },
  },

  book: {
    run: async (t) => {
      await apiResident(t, RESIDENT);
      const roomId = (await rooms(t))[ROOM];
      const page = await t.page();
      await go(page, '/');

      // Sign in: the header's link, the two fields, Enter.
      await tabTo(page, 'header a[href^="/login"]', 'the sign-in link');
      await pressThrough(page, 'Enter', 'the sign-in link');
      await tabTo(page, '#login', 'the login field');
      await typeValue(page, RESIDENT.email);
      await tabTo(page, '#password', 'the password field');
      await typeValue(page, RESIDENT.password);
      await pressThrough(page, 'Enter', 'the password field');
      await seeText(page, 'header', /Tor/, 'the header to show the resident');

      // Back to the halls, and to Klubbrommet's page.
      if (new URL(page.url()).pathname !== '/') {
        await tabTo(page, 'header a[href="/"]', 'the link to the halls');
        await pressThrough(page, 'Enter', 'the link to the halls');
      }
      await tabTo(page, `main a[href^="/halls/${roomId}"]`, `the link to ${ROOM}`, { max: 200 });
      await pressThrough(page, 'Enter', `the link to ${ROOM}`);
      await seeText(page, 'h1', new RegExp(ROOM), `${ROOM}'s page`);
      await tabTo(page, `main a[href^="/halls/${roomId}/book"]`, 'the link to the booking form', { max: 300 });
      await pressThrough(page, 'Enter', 'the link to the booking form');

      // The form, field by field.
      for (const [field, value] of [
        ['#date', SLOT.date],
        ['#start', SLOT.start],
        ['#end', SLOT.end],
        ['#purpose', SLOT.purpose],
        ['#attendees', SLOT.attendees],
      ]) {
        await tabTo(page, field, `the field ${field}`);
        await typeValue(page, value);
      }
      // Check first (Enter on the button), then go back to the submit button and press Space.
      await tabTo(page, 'button[name=action][value=check]', 'the check button');
      await pressThrough(page, 'Enter', 'the check button');
      await seeText(page, '#check-result .outcome-approved', ftlPattern('nb', 'check-approved'), 'the check saying it will be approved');
      if (await page.locator('#reasons li').count()) await fail(page, 'no reasons against the slot');
      await tabTo(page, 'button[name=action][value=submit]', 'the submit button', { max: 300 });
      await pressThrough(page, 'Space', 'the submit button');
      await atPath(page, /^\/my\/bookings\/[^/?#]+/, 'the new booking');
      await seeText(page, '#booking-status', /^Godkjent$/, `the status "Godkjent" (${ROOM} books residents directly)`);
      await seeText(page, 'main dl.facts', new RegExp(escapeRe(SLOT.purpose)), 'the purpose typed with the keyboard');
      await seeText(page, 'main dl.facts', /8\. januar 2027 18:00–20:00/, 'the date and times typed with the keyboard');
    },
  },
});
