// Security in the browser (issue 6, h):
//   csrf     forms posted without their token, or with a forged one, answer 403 and change
//            nothing (the booking form, the clerk's approve button, sign-in, sign-out)
//   others   a resident cannot open, download or cancel another resident's booking (404, and
//            the booking stays as it was), nor open the clerks' pages (403); a visitor is
//            sent to sign in
//   privacy  public pages (start, the halls' pages, search results, the halls' public
//            calendar feeds) show no resident's name, email or purpose, to visitors and to
//            other residents, while bookings exist
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/security.mjs [flow,...]

import {
  CLERK, apiBooking, apiResident, atPath, basic, check, fail, go, login, main, navigating, rooms, see,
  seeText, setField, submitOf, unique,
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

async function refused(page, action, fields, what, status = 403) {
  const r = await page.request.post(action, { form: fields, maxRedirects: 0 });
  if (r.status() !== status) await fail(page, `POST ${action} (${what}) to answer ${status}`, `HTTP ${r.status()}`);
  return r;
}

/** A resident's bookings, as the JSON API gives them to that resident. */
async function bookingsOf(t, who) {
  const api = await t.api();
  const r = await api.get('/api/v1/bookings?mine=true', { headers: { authorization: basic(who.email, who.password) } });
  check(r.ok(), `GET /api/v1/bookings?mine=true as ${who.email}: HTTP ${r.status()}`);
  return (await r.json()).bookings;
}

/** The owner's booking `id` as the API shows it to the owner. */
async function statusOf(t, id) {
  const api = await t.api();
  const r = await api.get(`/api/v1/bookings/${id}`, { headers: { authorization: basic(OWNER.email, OWNER.password) } });
  check(r.ok(), `GET /api/v1/bookings/${id} as its owner: HTTP ${r.status()}`);
  return (await r.json()).status;
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
      check(pending.status === 'pending', `Storsalen's requests wait for a clerk; got ${pending.status}`);
      const approved = await apiBooking(t, OWNER, {
        room: t.state.club, start: '2027-01-08T18:00', end: '2027-01-08T20:00', purpose: PURPOSES[1], attendees: 12,
      });
      check(approved.status === 'approved', `Klubbrommet approves residents at once; got ${approved.status}`);
      t.state.approved = approved.id;
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
      const booked = await bookingsOf(t, OTHER);
      check(booked.length === 0, `the refused posts made no booking; the resident has ${booked.length}`);
      // The owner's cancel button, posted by the owner without its token: still pending.
      const owner = await t.page();
      await login(owner, OWNER.email, OWNER.password);
      await go(owner, `/my/bookings/${t.state.pending}`);
      const cancelForm = owner.locator(`form[action="/my/bookings/${t.state.pending}/cancel"]`);
      await see(owner, cancelForm, 'the cancel button');
      await refused(owner, `/my/bookings/${t.state.pending}/cancel`, (await formOf(owner, cancelForm)).fields, 'cancel without a token');
      check((await statusOf(t, t.state.pending)) === 'pending', 'the booking still pending after the refused cancel');
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
      check((await statusOf(t, t.state.pending)) === 'pending', 'the booking still pending after the refused approval');

      // Signing in without a token.
      const anonymous = await t.page();
      await go(anonymous, '/login');
      await refused(anonymous, '/login', { login: OTHER.email, password: OTHER.password }, 'sign-in without a token');
      await go(anonymous, '/');
      await seeText(anonymous, 'header', /Logg inn/, 'the visitor still signed out after the refused sign-in');
      if (await anonymous.locator('header', { hasText: 'Nina' }).count()) await fail(anonymous, 'nobody signed in');
    },
  },

  others: {
    needs: ['setup'],
    run: async (t) => {
      const secrets = [OWNER.name, OWNER.email, 'Hemmeligsen', ...PURPOSES];
      const page = await t.page();
      await login(page, OTHER.email, OTHER.password);
      for (const id of [t.state.pending, t.state.approved]) {
        // In the browser, as a curious resident would: the address of someone else's booking.
        await go(page, `/my/bookings/${id}`, { status: 404 });
        await noSecrets(page, secrets, `another resident's booking ${id}`);
        const ics = await page.request.get(`/my/bookings/${id}.ics`);
        if (ics.status() !== 404) await fail(page, `GET /my/bookings/${id}.ics of another resident to answer 404`, `HTTP ${ics.status()}`);
        const body = await ics.text();
        for (const s of secrets) check(!body.includes(s), `the refused .ics of ${id} shows "${s}"`);
      }
      // Cancelling it with the resident's own valid token: not found, and nothing changes.
      const csrf = await page.locator('input[name=csrf]').first().inputValue();
      check(csrf.length > 0, 'the page carries a form token');
      await refused(page, `/my/bookings/${t.state.approved}/cancel`, { csrf }, "cancel another resident's booking", 404);
      check((await statusOf(t, t.state.approved)) === 'approved', 'the booking still approved after the refused cancel');
      // Their own list shows none of the owner's bookings.
      await go(page, '/my/bookings');
      await noSecrets(page, secrets, "the other resident's own list");
      // The clerks' pages are not for residents.
      await go(page, '/console', { status: 403 });
      await go(page, `/console/bookings/${t.state.pending}`, { status: 403 });
      await noSecrets(page, secrets, "a clerk's page of the booking, opened by a resident");
      await refused(page, `/console/bookings/${t.state.pending}/approve`, { csrf }, 'a resident approving', 403);
      check((await statusOf(t, t.state.pending)) === 'pending', "the request still pending after a resident's approval");
      // A visitor is asked to sign in first, and sees nothing of it.
      const visitor = await t.page();
      await go(visitor, `/my/bookings/${t.state.pending}`);
      await atPath(visitor, /^\/login\?next=/, 'the sign-in page');
      await noSecrets(visitor, secrets, 'the sign-in page in front of a booking');
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
        await see(page, 'main a[href^="/halls/"]', 'some halls among the results');
        await noSecrets(page, secrets, `the search results as ${who}`);
      }
      // The halls' public calendar feeds: busy, never whose.
      for (const room of [t.state.hall, t.state.club]) {
        const r = await visitor.request.get(`/feeds/rooms/${room}.ics`);
        check(r.ok(), `GET /feeds/rooms/${room}.ics: HTTP ${r.status()}`);
        const ics = (await r.text()).replace(/\r?\n[ \t]/g, '');
        check(/^BEGIN:VEVENT/m.test(ics), `the public feed of ${room} to show the booking as busy:\n${ics.slice(0, 600)}`);
        const found = secrets.filter((s) => ics.toLowerCase().includes(s.toLowerCase()));
        check(!found.length, `the public feed of ${room} shows ${found.join(', ')}`);
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
