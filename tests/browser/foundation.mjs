// The portal's foundation in a real browser: start page, sign in (resident and directory
// staff), register, language switch, skip link, CSRF, accessibility and page weight.
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/foundation.mjs [flow,...]

import {
  STAFF, atPath, axeCheck, check, checkWeight, clickThrough, describeFocus, fail, focusIsVisible,
  go, login, main, register, see, seeText, setField, submitOf, switchLanguage,
  unique,
} from './lib.mjs';

const RESIDENT = { name: 'Solveig Grunnmur', email: unique('solveig.grunnmur@example.no'), password: 'solveig-test-2027' };

await main({
  // axe-core on every page that exists in the foundation, in Bokmål and English.
  axe: {
    run: async (t) => {
      const page = await t.page({ bypassCSP: true });
      for (const lang of ['nb', 'en']) {
        await go(page, '/');
        if (lang === 'en') await switchLanguage(page, 'en');
        await axeCheck(page, `start-${lang}`);
        await go(page, '/login');
        await axeCheck(page, `login-${lang}`);
        await clickThrough(page, submitOf(page, '#password'), 'the sign-in button', { allow: [422] });
        await see(page, '[aria-invalid="true"]', 'a field marked invalid');
        await axeCheck(page, `login-errors-${lang}`);
        await setField(page, '#login', 'nobody@example.no');
        await setField(page, '#password', 'wrong-password-1');
        await clickThrough(page, submitOf(page, '#password'), 'the sign-in button', { allow: [401] });
        await see(page, '.error-summary', 'the sign-in problem');
        await axeCheck(page, `login-refused-${lang}`);
        await go(page, '/register');
        await axeCheck(page, `register-${lang}`);
        await clickThrough(page, submitOf(page, '#password_again'), 'the register button', { allow: [422] });
        await see(page, '[aria-invalid="true"]', 'a field marked invalid');
        await axeCheck(page, `register-errors-${lang}`);
        await go(page, '/no-such-page', { status: 404 });
        await axeCheck(page, `not-found-${lang}`);
      }
    },
  },

  // Each page, with its CSS and JS, weighs less than 100 KB.
  weight: {
    run: async (t) => {
      for (const path of ['/', '/login', '/register']) await checkWeight(t, path);
    },
  },

  // A resident registers, is signed in, signs out; the error messages are tied to the fields.
  register: {
    run: async (t) => {
      const page = await t.page();
      await go(page, '/register');
      await setField(page, '#name', RESIDENT.name);
      await setField(page, '#email', 'not-an-email');
      await setField(page, '#password', 'short');
      await clickThrough(page, submitOf(page, '#password_again'), 'the register button', { allow: [422] });
      for (const field of ['email', 'password']) {
        await seeText(page, `#${field}-error`, /\S/, `the ${field} error`);
        const described = await page.getAttribute(`#${field}`, 'aria-describedby');
        if (!described || !described.split(' ').includes(`${field}-error`)) {
          await fail(page, `#${field} to be described by #${field}-error`, described);
        }
      }
      const summaryLinks = await page.locator('.error-summary a[href="#email"]').count();
      if (summaryLinks === 0) await fail(page, 'the error summary to link to #email');
      check((await page.inputValue('#name')) === RESIDENT.name, 'the name is kept after an error');

      await register(page, RESIDENT);
      await atPath(page, /^\/(\?notice=registered)?$/, 'the start page after registering');
      await see(page, '.notice', 'the "account made" notice');
      await clickThrough(page, 'header form[action="/logout"] button', 'the sign-out button');
      await seeText(page, 'header', /Logg inn/, 'the header to offer signing in again');

      await login(page, RESIDENT.email, RESIDENT.password, { next: '/' });
      await atPath(page, /^\/$/, 'the page asked for (next=/) after signing in');
      await seeText(page, 'header', /Solveig/, 'the header to show the resident');
    },
  },

  // Staff sign in with their directory login (a real slapd behind Lokal).
  'staff-login': {
    run: async (t) => {
      const page = await t.page();
      await login(page, STAFF.login, STAFF.password);
      await seeText(page, 'header', new RegExp(STAFF.name), 'the header to show the staff member');
      const refused = await t.page();
      await go(refused, '/login');
      await setField(refused, '#login', STAFF.login);
      await setField(refused, '#password', 'not-the-password');
      await clickThrough(refused, submitOf(refused, '#password'), 'the sign-in button', { allow: [401] });
      await see(refused, '.error-summary', 'the wrong-password message');
    },
  },

  // The header's language link switches to English and back, keeping the page.
  lang: {
    run: async (t) => {
      const page = await t.page();
      await go(page, '/login');
      check((await page.getAttribute('html', 'lang')) === 'nb', 'Bokmål is the default language');
      const nb = await page.locator('h1').innerText();
      await switchLanguage(page, 'en');
      await atPath(page, /^\/login/, 'the same page in English');
      const en = await page.locator('h1').innerText();
      if (nb === en) await fail(page, 'the heading to change language', en);
      await seeText(page, 'header a[href^="/lang/nb"]', /Norsk|Bokmål/i, 'the link back to Bokmål');
      await switchLanguage(page, 'nb');
      await seeText(page, 'h1', new RegExp(nb), 'the Bokmål heading again');
    },
  },

  // The skip link is the first Tab stop, visibly focused, and moves focus to the content.
  'skip-link': {
    run: async (t) => {
      const page = await t.page();
      await go(page, '/');
      await page.keyboard.press('Tab');
      const first = await page.evaluate(() => document.activeElement.matches('a[href="#main"]'));
      if (!first) await fail(page, 'the skip link to be the first Tab stop', await describeFocus(page));
      await focusIsVisible(page);
      const box = await page.locator('a[href="#main"]').boundingBox();
      if (!box || box.x < 0 || box.y < 0) await fail(page, 'the focused skip link to be on screen', JSON.stringify(box));
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'main');
    },
  },

  // A form posted without its token (or with a wrong one) is refused with 403.
  csrf: {
    run: async (t) => {
      const page = await t.page();
      await go(page, '/login');
      const posts = [
        ['/login', { login: STAFF.login, password: STAFF.password }],
        ['/login', { login: STAFF.login, password: STAFF.password, csrf: 'forged' }],
        ['/register', { name: 'X', email: unique('x@example.no'), password: 'xxxxxxxxxxxx', password_again: 'xxxxxxxxxxxx' }],
        ['/logout', {}],
      ];
      for (const [path, form] of posts) {
        const r = await page.request.post(path, { form, maxRedirects: 0 });
        check(r.status() === 403, `POST ${path} ${form.csrf ? 'with a forged' : 'without a'} csrf token: expected 403, got ${r.status()}`);
      }
      // A real sign-in from the page still works afterwards.
      await login(page, STAFF.login, STAFF.password);
    },
  },
});
