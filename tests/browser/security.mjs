// Security in the browser (issue 6, h):
//   csrf     forms posted without their token, or with a forged one, answer 403 and change
//            nothing (the booking form, the clerk's approve button, sign-in, sign-out)
//   privacy  public pages (start, the halls' pages, search results) show no resident's
//            name, email or purpose, to visitors and to other residents, while bookings exist
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/security.mjs [flow,...]

import {
  CLERK, apiBooking, apiResident, check, fail, go, login, main, navigating, rooms, see, seeText,
  setField, submitOf, unique,
} from './lib.mjs';

const OWNER = { name: 'Henrik Hemmeligsen', email: unique('henrik.hemmeligsen@example.no'), password: 'henrik-secret-2027' };
const OTHER = { name: 'Nina Nysgjerrig', email: unique('nina.nysgjerrig@example.no'), password: 'nina-curious-2027' };
const PURPOSES = ['Overraskelsesfest for Henriks 50-årsdag', 'Privat slektsmøte hos Hemmeligsen'];

/** The form's fields as the page would post them, without `csrf` (or with a forged one). */
async function formOf(page, formLocator, { forged } = {}) {
  return formLocator.evaluate((form, forgedToken) => {
    const fields = {};
    for (const el of form.elements) {
      if (!el.name || el.name === 'csrf' || el.disabled) continue;
      if ((el.type === 'checkbox' || el.type === 'radio') && !el.checked) continue;
      if (el.tagName === 'BUTTON') continue;
      fields[el.name] = el.value;
    }
    if (forgedToken) fields.csrf = forgedToken;
    return { action: form.getAttribute('action') || location.pathname, fields };
  }, forged || null);
}

async function refused(page, action, fields, what) {
  const r = await page.request.post(action, { form: fields, maxRedirects: 0 });
  if (r.status() !== 403) await fail(page, `POST ${action} (${what}) to answer 403`, `HTTP ${r.status()}`);
}

await main({
  setup: {
    run: async (t) => {
      const ids = await rooms(t);
      t.state.hall = ids.Storsalen;
      t.state.club = ids.Klubbrommet;
      await apiResident(t, OWNER);
      await apiResident(t, OTHER);
      const pending = await apiBooking(t, OWNER, {
        room: t.state.hall, start: '2027-01-07T18:00', end: '2027-01-07T20:00', purpose: PURPOSES[0], attendees: 60,
      });
      t.state.pending = pending.id;
      const approved = await apiBooking(t, OWNER, {
        room: t.state.club, start: '2027-01-08T18:00', end: '2027-01-08T20:00', purpose: PURPOSES[1], attendees: 12,
      });
      check(approved.status === 'approved', `Klubbrommet approves residents at once; got ${approved.status}`);
    },
  },

  csrf: {
    needs: ['setup'],
    run: async (t) => {
      // A resident's booking form, posted without its token and with a forged one.
      const page = await t.page();
      await login(page, OTHER.email, OTHER.password);
      await go(page, `/halls/${t.state.hall}/book`);
      await setField(page, '#date', '2027-01-12');
      await setField(page, '#start', '18:00');
      await setField(page, '#end', '20:00');
      await setField(page, '#purpose', 'Falsk søknad');
      await setField(page, '#attendees', '10');
      const bookingForm = page.locator('form', { has: page.locator('#purpose') });
      for (const forged of [undefined, 'forged-token']) {
        const { action, fields } = await formOf(page, bookingForm, { forged });
        await refused(page, action, { ...fields, action: 'submit' }, forged ? 'forged token' : 'no token');
      }
      await go(page, '/my/bookings');
      const made = await page.locator('main', { hasText: 'Falsk søknad' }).count();
      if (made) await fail(page, 'no booking made by the refused posts');
      await refused(page, '/logout', {}, 'sign-out without a token');
      await seeText(page, 'header', /Nina/, 'the resident still signed in after the refused sign-out');

      // The clerk's approve button, posted without its token: the request stays in the queue.
      const clerk = await t.page();
      await login(clerk, CLERK.login, CLERK.password);
      await go(clerk, '/console');
      const request = clerk.locator(`#request-${t.state.pending}`);
      await see(clerk, request, 'the pending request in the queue');
      const approveForm = request.locator('form', { has: clerk.locator('button', { hasText: 'Godkjenn' }) });
      const approve = await formOf(clerk, approveForm);
      const button = approveForm.locator('button', { hasText: 'Godkjenn' });
      const named = await button.evaluate((b) => (b.name ? { [b.name]: b.value } : {}));
      await refused(clerk, approve.action, { ...approve.fields, ...named }, 'approve without a token');
      await go(clerk, '/console');
      await see(clerk, `#request-${t.state.pending}`, 'the request still waiting after the refused approval');

      // Signing in without a token.
      const anonymous = await t.page();
      await go(anonymous, '/login');
      await refused(anonymous, '/login', { login: OTHER.email, password: OTHER.password }, 'sign-in without a token');
    },
  },

  privacy: {
    needs: ['setup'],
    run: async (t) => {
      const secrets = [OWNER.name, OWNER.email, 'Hemmeligsen', ...PURPOSES];
      const visitor = await t.page();
      const neighbour = await t.page();
      await login(neighbour, OTHER.email, OTHER.password);
      for (const [who, page] of [['a visitor', visitor], ['another resident', neighbour]]) {
        const pages = ['/', `/halls/${t.state.hall}`, `/halls/${t.state.club}`];
        for (const path of pages) {
          await go(page, path);
          await noSecrets(page, secrets, `${path} as ${who}`);
        }
        // The halls' weeks show the bookings as busy: the check above looked at the right week.
        await go(page, `/halls/${t.state.club}`);
        await seeText(page, 'main table', /Opptatt/, 'the approved booking shown as busy ("Opptatt")');
        // Search results for the booked evening.
        await go(page, '/');
        await setField(page, '#date', '2027-01-07');
        await setField(page, '#from', '18:00');
        await setField(page, '#to', '20:00');
        await setField(page, '#people', '10');
        await navigating(page, () => submitOf(page, '#people').click(), 'the search button');
        await noSecrets(page, secrets, `the search results as ${who}`);
      }
    },
  },
});

/** Fails if the page's HTML (text, attributes, anything) contains one of `secrets`. */
async function noSecrets(page, secrets, where) {
  const html = await page.content();
  const found = secrets.filter((s) => html.toLowerCase().includes(s.toLowerCase()));
  if (found.length) await fail(page, `no resident's personal data on ${where}`, found.join(', '));
}
