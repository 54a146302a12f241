// The alarm console against a small fake of the alarm API (tests/fakeapi.mjs): ordering and
// IEC colours, the banner with sound on every page, the nav count and overview badge, one-click
// acknowledge seen live by a second session, a watch-only role, escalate/resolve/history.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login, shot } from './harness.mjs';
import { startFake } from './fakeapi.mjs';

let fake;
let chrome;
let nurse;
let viewer;
let admin;
const warnings = [];

before(async () => {
  fake = await startFake();
  chrome = await launchBrowser();
  nurse = await chrome.newPage();
  viewer = await chrome.newPage();
  admin = await chrome.newPage();
  for (const p of [nurse, viewer, admin]) p.on('console', (m) => m.type() !== 'log' && m.type() !== 'debug' && warnings.push(m.text()));
});

after(async () => {
  await chrome?.close();
  await fake?.stop();
});

const rowStates = (page) => page.$$eval('table.alarms tbody tr', (trs) => trs.map((t) => `${t.dataset.priority}:${t.dataset.alarm}`));
const bg = (loc) => loc.evaluate((e) => getComputedStyle(e).backgroundColor);
// settled waits for the colour to reach want (an emulated media change reaches a running
// animation only at the next style update, later on a loaded machine), then returns the first
// colour other than want seen over 1.2 s — more than a medium flash's half period — or want.
async function settled(loc, want) {
  const until = Date.now() + 3000;
  let got = await bg(loc);
  while (got !== want && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    got = await bg(loc);
  }
  for (let i = 0; i < 12 && got === want; i++) {
    await new Promise((r) => setTimeout(r, 100));
    got = await bg(loc);
  }
  return got;
}

test('alarms are ordered by priority then age, in IEC colours, with a banner, sound, count and badge', async () => {
  const low = fake.raise({ subject: 'patient-a03', priority: 'low', code: 'BATTERY_LOW', kind: 'technical', message: 'Battery low', value: 18 });
  const med1 = fake.raise({ subject: 'patient-a02', priority: 'medium' });
  await login(nurse, fake.url, 'nurse', 'pw');
  await nurse.getByTestId('alarm-count').waitFor();
  // A high alarm arrives while the nurse is on the overview: banner, sound, badge, count.
  const high = fake.raise({ subject: 'patient-a07', priority: 'high', code: 'SPO2_DESAT', message: 'SpO2 desaturation', value: 78,
    next_escalation_at: new Date(Date.now() + 60000).toISOString() });
  const banner = nurse.locator(`[data-testid="alarm-banner"][data-alarm="${high}"]`);
  await banner.waitFor();
  assert.match(await banner.textContent(), /patient-a07 · SpO2 desaturation/);
  await nurse.waitForFunction(() => Number(document.querySelector('.alarm-banners')?.dataset.bursts) >= 1);
  assert.equal((await nurse.getByTestId('alarm-count').textContent()).replace(/\D+/g, ''), '3');
  assert.match(await nurse.getByTestId('alarm-count').getAttribute('class'), /p-high/);
  assert.match(await nurse.getByTestId('alarm-patient-a07').textContent(), /High/);
  assert.match(await nurse.getByTestId('alarm-patient-a02').textContent(), /Medium/);

  const med2 = fake.raise({ subject: 'patient-a05', priority: 'medium', code: 'HR_HIGH', message: 'Heart rate high', value: 131, unit: '/min' });
  await banner.getByRole('link', { name: 'View alarm' }).click();
  await nurse.getByTestId('alarm-details').getByText('SpO2 desaturation').first().waitFor();
  await nurse.waitForFunction(() => document.querySelectorAll('table.alarms tbody tr').length === 4);
  assert.deepEqual(await rowStates(nurse), [`high:${high}`, `medium:${med1}`, `medium:${med2}`, `low:${low}`]);
  // Colours: the badges without flashing (the low one never flashes).
  assert.equal(await bg(nurse.locator(`tr[data-alarm="${low}"] .prio`)), 'rgb(77, 208, 225)');
  await nurse.emulateMedia({ reducedMotion: 'reduce' });
  assert.equal(await settled(nurse.locator(`tr[data-alarm="${high}"] .prio`), 'rgb(183, 28, 28)'), 'rgb(183, 28, 28)');
  assert.equal(await settled(nurse.locator(`tr[data-alarm="${med1}"] .prio`), 'rgb(255, 196, 0)'), 'rgb(255, 196, 0)');
  assert.match(await nurse.locator(`tr[data-alarm="${high}"]`).getByTestId('countdown').textContent(), /tier 1 in (1:00|0:5\d)/);

  // Filters.
  await nurse.getByTestId('filter-priority').selectOption('medium');
  await nurse.waitForFunction(() => document.querySelectorAll('table.alarms tbody tr').length === 2);
  await nurse.getByTestId('filter-priority').selectOption('');
  await nurse.waitForFunction(() => document.querySelectorAll('table.alarms tbody tr').length === 4);
  await nurse.emulateMedia({ reducedMotion: 'no-preference' });
  await shot(nurse, 'alarms');
});

test('a nurse acknowledges with one click and a second, watch-only (viewer) session sees it live', async () => {
  await login(viewer, fake.url, 'viewer', 'pw');
  await viewer.goto(fake.url + '/alarms');
  await viewer.getByTestId('watch-only').waitFor();
  const highRow = viewer.locator('table.alarms tbody tr[data-priority="high"]');
  await highRow.waitFor();
  assert.equal(await viewer.getByRole('button', { name: /^Acknowledge/ }).count(), 0, 'a viewer is offered Acknowledge');
  assert.equal(await highRow.getAttribute('data-state'), 'active');
  // This page was loaded without a click: no sound yet, and the banner offers to enable it.
  await viewer.getByTestId('alarm-banner').getByRole('button', { name: 'Enable sound' }).waitFor();
  assert.equal(await viewer.$eval('.alarm-banners', (e) => e.dataset.bursts), '0');

  await nurse.locator('tr[data-priority="high"]').getByRole('button', { name: /^Acknowledge/ }).click();
  await nurse.locator('tr[data-priority="high"][data-state="acknowledged"]').waitFor();
  // The other session: the state changes without a reload, the banner goes away.
  await viewer.locator('tr[data-priority="high"][data-state="acknowledged"]').waitFor({ timeout: 2000 });
  assert.match(await viewer.locator('tr[data-priority="high"]').getByTestId('alarm-state').textContent(), /by nurse/);
  assert.equal(await viewer.getByTestId('alarm-banner').count(), 0);
  assert.match(await nurse.getByTestId('alarm-count').getAttribute('class'), /p-medium/);
});

test('escalate needs a reason, silence a duration, an admin resolves with a note; history per alarm and per subject', async () => {
  const row = nurse.locator('tr[data-alarm][data-priority="medium"]').first();
  const id = await row.getAttribute('data-alarm');
  await row.getByRole('link', { name: /^Details/ }).click();
  const d = nurse.getByTestId('alarm-details');
  await d.getByRole('button', { name: 'Escalate' }).click();
  assert.ok(await d.getByLabel('Escalation reason').evaluate((e) => e.validity.valueMissing), 'escalated without a reason');
  assert.match(await nurse.locator(`tr[data-alarm="${id}"]`).textContent(), /tier 0/);
  await d.getByLabel('Escalation reason').fill('no response from bed 02 nurse');
  await d.getByRole('button', { name: 'Escalate' }).click();
  await nurse.locator(`tr[data-alarm="${id}"]`).getByText('tier 1', { exact: false }).first().waitFor();
  await d.getByLabel('Silence for').selectOption('5m');
  await d.getByLabel('Reason', { exact: true }).fill('repositioning');
  await d.getByRole('button', { name: 'Silence' }).click();
  await nurse.locator(`tr[data-alarm="${id}"]`).getByText(/silenced [45]:\d\d/).waitFor();
  // A nurse may not resolve by hand (alarms.manage); an admin may, with a note.
  assert.equal(await d.getByRole('button', { name: 'Resolve' }).count(), 0, 'a nurse is offered Resolve');
  await login(admin, fake.url, 'admin', 'pw');
  await admin.goto(`${fake.url}/alarms?alarm=${id}`);
  const ad = admin.getByTestId('alarm-details');
  assert.equal(await ad.getByRole('button', { name: 'Acknowledge' }).count(), 0, 'an admin is offered Acknowledge');
  await ad.getByLabel('Resolution note').fill('probe re-seated, SpO2 95 %');
  await ad.getByRole('button', { name: 'Resolve' }).click();
  await admin.locator(`tr[data-alarm="${id}"]`).waitFor({ state: 'detached' });
  // The nurse's page follows live: the row leaves, the open details say resolved.
  await nurse.locator(`tr[data-alarm="${id}"]`).waitFor({ state: 'detached' });
  await d.getByTestId('detail-state').getByText('resolved').waitFor();
  const hist = await d.getByTestId('alarm-history').textContent();
  for (const w of ['RAISED', 'ESCALATED', 'SILENCED', 'RESOLVED', 'probe re-seated', 'no response from bed 02 nurse', 'repositioning']) {
    assert.ok(hist.includes(w), `history lacks ${w}: ${hist}`);
  }
  await d.getByRole('button', { name: /^All alarms of/ }).click();
  const sh = nurse.getByTestId('subject-history');
  await sh.getByRole('cell', { name: 'resolved', exact: true }).waitFor();
  // The viewer's session saw it leave the open list.
  await viewer.locator(`tr[data-alarm="${id}"]`).waitFor({ state: 'detached' });
  assert.deepEqual(warnings.filter((w) => /audio|autoplay|gesture/i.test(w)), []);
});

test('QA has no alarm console (as the server: 403)', async () => {
  const p = await chrome.newPage();
  await login(p, fake.url, 'qa', 'pw');
  assert.ok(!(await p.getByRole('navigation', { name: 'Main' }).textContent()).includes('Alarms'));
  await p.goto(fake.url + '/alarms');
  await p.getByTestId('no-access').waitFor();
});

test('the sound-pause toggle shows its time left; a new high alarm ends the pause and sounds', async () => {
  await nurse.getByTestId('sound-toggle').click();
  assert.equal(await nurse.getByTestId('sound-toggle').getAttribute('aria-pressed'), 'true');
  assert.match(await nurse.getByTestId('sound-toggle').textContent(), /Sound paused [12]:\d\d/);
  const before = Number(await nurse.$eval('.alarm-banners', (e) => e.dataset.bursts));
  fake.raise({ subject: 'patient-a09', priority: 'high', code: 'APNEA', message: 'Apnoea' });
  await nurse.locator('[data-testid="alarm-banner"]').getByText('Apnoea').waitFor();
  await nurse.waitForFunction((n) => Number(document.querySelector('.alarm-banners')?.dataset.bursts) > n, before);
  assert.equal(await nurse.getByTestId('sound-toggle').getAttribute('aria-pressed'), 'false');
});
