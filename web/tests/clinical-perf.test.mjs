// Speed of the central station (issue 7): a ward of 100 beds, each with an admitted patient and
// an assigned bedside monitor posting HR, SpO2 and RR once a second, all on the station page.
// Measured as perf.test.mjs does: main-thread busy share from requestAnimationFrame lateness
// (and long tasks, and Chrome's TaskDuration alongside). Prints the figures; fails above 25 %.
// VIGIL_PERF_BEDS (default 100) and VIGIL_PERF_SECONDS (15) change the load and the span.
// Skips, saying so, when the binary has no clinical API yet.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminPassword, launch, login, startVigil } from './harness.mjs';

const N = Number(process.env.VIGIL_PERF_BEDS ?? 100);
const seconds = Number(process.env.VIGIL_PERF_SECONDS ?? 15);
const tenant = 'ward-load';
let vigil;
let browser;

before(async () => {
  vigil = await startVigil({ interval: '5s' });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await vigil?.stop();
});

async function call(token, method, path, body, ok = [200, 201]) {
  const r = await fetch(vigil.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!ok.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

test(`central station main-thread busy share with ${N} beds streaming at 1 Hz`, { timeout: 300_000 }, async (t) => {
  const { token } = await (await fetch(vigil.url + '/api/v1/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: adminPassword }),
  })).json();
  await call(token, 'POST', '/api/v1/tenants', { id: tenant, name: 'Ward load test' });
  const base = `/api/v1/tenants/${tenant}`;
  const probe = await fetch(vigil.url + base + '/wards', { headers: { Authorization: `Bearer ${token}` } });
  if (probe.status === 404 || probe.status === 503) return t.skip(`this vigil binary has no clinical API (GET …/wards → ${probe.status})`);
  const labels = Array.from({ length: N }, (_, i) => String(i + 1).padStart(3, '0'));
  await call(token, 'POST', base + '/wards', { id: 'ward-p', name: `Perf ward (${N} beds)`, beds: labels });
  const from = new Date(Date.now() - 60_000).toISOString();
  const secrets = [];
  for (let i = 0; i < N; i += 20) {
    await Promise.all(labels.slice(i, i + 20).map(async (l, j) => {
      const p = `pp-${l}`;
      const dev = `pmon-${l}`;
      await call(token, 'POST', base + '/patients', { id: p, mrn: `P${l}`, name: `Patient ${l}`, birth_date: '1950-01-01', sex: 'unknown' });
      await call(token, 'POST', base + `/patients/${p}/admit`, { ward: 'ward-p', bed: `ward-p-${l}`, at: from });
      const d = await call(token, 'POST', base + '/devices', { id: dev, model: 'Load monitor', kind: 'monitor', subject: p });
      await call(token, 'POST', base + '/assignments', { device: dev, patient: p, from, kind: 'bedside' });
      secrets[i + j] = [dev, d.secret];
    }));
  }
  // Every monitor posts HR, SpO2 and RR once a second, spread over the second.
  let stop = false;
  let posted = 0;
  let failed = 0;
  const senders = secrets.map(([id, secret], k) => (async () => {
    const auth = 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
    await new Promise((r) => setTimeout(r, (1000 * k) / N));
    while (!stop) {
      const t0 = Date.now();
      const pack = `[{"bn":"${id}:","bt":${t0 / 1000},"bu":"beat/min","n":"hr","v":${60 + (k % 30) + Math.round(Math.random() * 4)}},{"n":"spo2","u":"/","v":${(94 + (k % 5)) / 100}},{"n":"rr","u":"1/min","v":${14 + (k % 8)}}]`;
      try {
        const r = await fetch(vigil.url + '/api/v1/ingest', { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/senml+json' }, body: pack });
        if (r.status === 202) posted++;
        else failed++;
        await r.arrayBuffer();
      } catch {
        failed++;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - t0))));
    }
  })());

  try {
    const page = await browser.context.newPage();
    page.setDefaultTimeout(30_000);
    await page.addInitScript(() => {
      sessionStorage.setItem('vigil.tenant', 'ward-load');
      sessionStorage.setItem('vigil.ward', 'ward-p');
    });
    await login(page, vigil.url, 'admin', adminPassword);
    await page.goto(vigil.url + '/station?ward=ward-p');
    await page.waitForFunction((n) => document.querySelectorAll('li.tile[data-patient]').length === n, N, { timeout: 60_000 });
    // Wait until most tiles show a live heart rate.
    await page.waitForFunction((n) => [...document.querySelectorAll('li.tile li[data-metric="hr"] .vv')].filter((e) => e.textContent !== '–').length >= n * 0.9, N, { timeout: 60_000 });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const taskTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
    const postedBefore = posted;
    const task0 = await taskTime();
    const wall0 = Date.now();
    const inPage = await page.evaluate(async (ms) => {
      // Count how often tile values change, to show the page is live while measured.
      let changes = 0;
      const mo = new MutationObserver((l) => (changes += l.length));
      mo.observe(document.querySelector('ul.station'), { subtree: true, characterData: true, childList: true });
      let longTasks = 0;
      const obs = new PerformanceObserver((l) => {
        for (const e of l.getEntries()) longTasks += e.duration;
      });
      obs.observe({ type: 'longtask', buffered: false });
      let busy = 0;
      let frames = 0;
      const t0 = performance.now();
      await new Promise((resolve) => {
        let last = t0;
        const tick = (now) => {
          busy += Math.max(0, now - last - 1000 / 60);
          last = now;
          frames++;
          if (now - t0 < ms) requestAnimationFrame(tick);
          else resolve();
        };
        requestAnimationFrame(tick);
      });
      obs.disconnect();
      mo.disconnect();
      return { wall: performance.now() - t0, longTasks, rafBusy: busy, frames, changes };
    }, seconds * 1000);
    const task1 = await taskTime();
    const wall = (Date.now() - wall0) / 1000;
    const rate = (posted - postedBefore) / wall;
    const rafShare = inPage.rafBusy / inPage.wall;
    console.log(`perf: station with ${N} beds, ${rate.toFixed(0)} packs/s (${failed} failed), ${inPage.changes} DOM changes, ${inPage.frames} frames in ${(inPage.wall / 1000).toFixed(1)} s`);
    console.log(`perf: main thread busy — rAF lateness ${(rafShare * 100).toFixed(1)} %, long tasks ${(inPage.longTasks / inPage.wall * 100).toFixed(1)} %, Chrome TaskDuration ${((task1 - task0) / wall * 100).toFixed(1)} %`);
    assert.ok(rate > N * 0.5, `only ${rate.toFixed(0)} packs/s reached the server; the load is not ${N} beds at 1 Hz`);
    assert.ok(inPage.changes > seconds, 'the tiles did not change while measured: the page is not live');
    assert.ok(rafShare < 0.25, `main thread busy ${(rafShare * 100).toFixed(1)} % (rAF lateness), want < 25 %`);
  } finally {
    stop = true;
    await Promise.all(senders);
  }
});
