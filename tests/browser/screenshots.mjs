// Full-page screenshots of the start page and the clerk's queue (with a request in it) at
// 390 px (a phone) and 1280 px (a desktop), for people to look at (issue 6, g):
// start-390.png, start-1280.png, queue-390.png, queue-1280.png in the artifacts folder.
//
//   LOKAL_URL=http://127.0.0.1:8080 node tests/browser/screenshots.mjs [flow,...]

import { CLERK, apiBooking, apiResident, go, login, main, rooms, screenshot, see, unique } from './lib.mjs';

const RESIDENT = { name: 'Sigrid Skjermbilde', email: unique('sigrid.skjermbilde@example.no'), password: 'sigrid-shot-2027' };
const WIDTHS = [390, 1280];

await main({
  start: {
    run: async (t) => {
      for (const width of WIDTHS) {
        const page = await t.page({ width, height: width < 600 ? 844 : 800 });
        await go(page, '/');
        await screenshot(page, `start-${width}`);
        await page.context().close();
      }
    },
  },

  queue: {
    run: async (t) => {
      await apiResident(t, RESIDENT);
      const booking = await apiBooking(t, RESIDENT, {
        room: (await rooms(t)).Storsalen, start: '2027-01-07T18:00', end: '2027-01-07T20:00', purpose: 'Korøving', attendees: 40,
      });
      for (const width of WIDTHS) {
        const page = await t.page({ width, height: width < 600 ? 844 : 800 });
        await login(page, CLERK.login, CLERK.password);
        await go(page, '/console');
        await see(page, `#request-${booking.id}`, 'the request in the queue');
        await screenshot(page, `queue-${width}`);
        await page.context().close();
      }
    },
  },
});
