// Speed: the overview with 500 devices posting one reading a second each, measured in the
// browser with the Performance API (long tasks, and busy time from requestAnimationFrame
// lateness) and Chrome's own main-thread task time (CDP Performance.getMetrics TaskDuration).
// Prints the figures; fails above 25 % busy.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { adminPassword, launch, login, startVigil } from './harness.mjs';

const N = Number(process.env.VIGIL_PERF_DEVICES ?? 500);
const seconds = Number(process.env.VIGIL_PERF_SECONDS ?? 15);
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

async function call(token, method, path, body) {
  const r = await fetch(vigil.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

test(`overview main-thread busy share with ${N} devices at 1 Hz`, { timeout: 300000 }, async () => {
  const { token } = await (await fetch(vigil.url + '/api/v1/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: adminPassword }),
  })).json();
  await call(token, 'POST', '/api/v1/tenants', { id: 'load', name: 'Load test' });
  const secrets = [];
  for (let i = 0; i < N; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, N - i) }, async (_, j) => {
      const id = `load-${String(i + j).padStart(3, '0')}`;
      const d = await call(token, 'POST', '/api/v1/tenants/load/devices', { id, model: 'Load', kind: 'monitor', subject: `bed-${id}` });
      secrets[i + j] = [id, d.secret];
    }));
  }
  // Every device posts hr and spo2 once a second, spread over the second.
  let stop = false;
  let posted = 0;
  let failed = 0;
  const senders = secrets.map(([id, secret], k) => (async () => {
    const auth = 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
    await new Promise((r) => setTimeout(r, (1000 * k) / N));
    while (!stop) {
      const t0 = Date.now();
      const pack = `[{"bn":"${id}:","bt":${t0 / 1000},"bu":"beat/min","n":"hr","v":${60 + (k % 30) + Math.round(Math.random() * 4)}},{"n":"spo2","u":"/","v":${(95 + (k % 4)) / 100}}]`;
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

  const page = await browser.context.newPage();
  page.setDefaultTimeout(30000);
  await page.addInitScript(() => sessionStorage.setItem('vigil.tenant', 'load'));
  await login(page, vigil.url, 'admin', adminPassword);
  await page.waitForFunction((n) => document.querySelectorAll('table.devices tbody tr[data-online="true"]').length >= n * 0.9, N, { timeout: 60000 });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const taskTime = async () => (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'TaskDuration').value;
  const postedBefore = posted;
  const task0 = await taskTime();
  const wall0 = Date.now();
  const inPage = await page.evaluate(async (ms) => {
    let longTasks = 0;
    const obs = new PerformanceObserver((l) => {
      for (const e of l.getEntries()) longTasks += e.duration;
    });
    obs.observe({ type: 'longtask', buffered: false });
    // rAF lateness: time beyond one frame between consecutive frames is time the main thread
    // was busy (or the frame was skipped because of it).
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
    const wall = performance.now() - t0;
    return { wall, longTasks, rafBusy: busy, frames, rows: document.querySelectorAll('table.devices tbody tr').length };
  }, seconds * 1000);
  const task1 = await taskTime();
  const wall = (Date.now() - wall0) / 1000;
  stop = true;
  await Promise.all(senders);
  const rate = (posted - postedBefore) / wall;
  const cdpShare = (task1 - task0) / wall;
  const rafShare = inPage.rafBusy / inPage.wall;
  const longShare = inPage.longTasks / inPage.wall;
  console.log(`perf: ${N} devices, ${rate.toFixed(0)} packs/s (${failed} failed), ${inPage.rows} rows, ${inPage.frames} frames in ${(inPage.wall / 1000).toFixed(1)} s`);
  console.log(`perf: main thread busy — rAF lateness ${(rafShare * 100).toFixed(1)} %, long tasks ${(longShare * 100).toFixed(1)} %, Chrome TaskDuration ${(cdpShare * 100).toFixed(1)} %`);
  assert.ok(rate > N * 0.5, `only ${rate.toFixed(0)} packs/s reached the server; the load is not ${N} devices at 1 Hz`);
  // The target is on the Performance API figure; TaskDuration (which also counts style,
  // layout and paint tasks on a shared 2-core machine) is reported alongside.
  assert.ok(rafShare < 0.25, `main thread busy ${(rafShare * 100).toFixed(1)} % (rAF lateness), want < 25 %`);
});
