// The patient-monitoring pages against a fake of the clinical API (tests/fakeclinical.mjs): the
// central-station tiles (NEWS2 band colours, live vitals by device, alarm state in IEC colours,
// stale marker, re-fetch on a NEWS2 alarm), the patient page's observation form (validation
// errors next to their field, confirmation, the new score), the RPM roster with report links,
// and the role-aware navigation. The real binary is tested by clinical.test.mjs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login } from './harness.mjs';
import { startClinicalFake } from './fakeclinical.mjs';

let fake;
let chrome;
const warnings = [];

before(async () => {
  fake = await startClinicalFake();
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await fake?.stop();
});

const bg = (loc) => loc.evaluate((e) => getComputedStyle(e).backgroundColor);
const tile = (page, bed) => page.locator(`li.tile[data-bed="${bed}"]`);

async function nurse() {
  const page = await chrome.newPage();
  page.on('console', (m) => m.type() === 'error' && warnings.push(m.text()));
  page.on('pageerror', (e) => warnings.push(String(e)));
  await login(page, fake.url, 'nurse', 'pw');
  return page;
}

test('central station: bands in their colours, live vitals, alarm state, stale marker, re-fetch on NEWS2 alarm', async () => {
  const page = await nurse();
  await page.getByRole('link', { name: 'Central station' }).click();
  await page.getByTestId('station').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('li.tile').length === 6);
  // Bands: a01 total 0 green, a02 2 yellow, a03 3 in one parameter amber, a04 6 orange; 05/06 empty.
  const expect = { 'ward-a-01': ['LOW', 'b-zero', 'rgb(20, 108, 46)'], 'ward-a-02': ['LOW', 'b-low', 'rgb(255, 224, 102)'],
    'ward-a-03': ['LOW_MEDIUM', 'b-lowmed', 'rgb(255, 176, 0)'], 'ward-a-04': ['MEDIUM', 'b-medium', 'rgb(239, 108, 0)'] };
  for (const [bed, [band, cls, colour]] of Object.entries(expect)) {
    const t = tile(page, bed);
    assert.equal(await t.getAttribute('data-band'), band, bed);
    assert.equal(await t.getAttribute('data-band-class'), cls, bed);
    assert.equal(await bg(t.getByTestId('news2')), colour, bed);
  }
  assert.match(await tile(page, 'ward-a-03').getByTestId('news2').textContent(), /Low–medium · red score/);
  assert.match(await tile(page, 'ward-a-03').getByTestId('news2').getAttribute('title'), /3 in one parameter/);
  assert.match(await tile(page, 'ward-a-05').textContent(), /Empty bed/);
  // Stale: temperature is 5 h old (window 4 h).
  assert.match(await tile(page, 'ward-a-01').getAttribute('data-stale'), /temp_body/);
  assert.match(await tile(page, 'ward-a-01').getByTestId('stale').textContent(), /Stale data: Temperature/);
  assert.match(await tile(page, 'ward-a-01').locator('li[data-metric="temp_body"]').getAttribute('class'), /stale/);
  assert.match(await tile(page, 'ward-a-04').textContent(), /Observations overdue/);

  // Live vitals: a reading of bed 01's monitor (whatever its ingest subject) shows on the tile.
  fake.reading('ward-a-bed-01', 'hr', 131, '/min');
  await page.waitForFunction(() => document.querySelector('li.tile[data-bed="ward-a-01"] li[data-metric="hr"] .vv')?.textContent === '131');
  assert.match(await tile(page, 'ward-a-01').locator('li[data-metric="hr"]').getAttribute('class'), /bad/);

  // An alarm of the patient: the tile shows its priority in the IEC colour.
  fake.raise({ subject: 'patient-a02', priority: 'medium', code: 'HR_HIGH', message: 'Heart rate high' });
  await page.locator('li.tile[data-bed="ward-a-02"][data-alarm-priority="medium"]').waitFor({ timeout: 3000 });
  assert.equal(await bg(tile(page, 'ward-a-02').locator('.prio')), 'rgb(255, 196, 0)');

  // Bed 01 deteriorates: the processor stores a HIGH set and raises NEWS2_HIGH; the tile turns red.
  const before = fake.stationFetches;
  fake.newSet('patient-a01', { rr: 3, spo2: 2, o2: 0, sbp: 1, pulse: 2, acvpu: 0, temp: 0 });
  fake.raise({ subject: 'patient-a01', priority: 'high', code: 'NEWS2_HIGH', message: 'NEWS2 high (8)' });
  await page.locator('li.tile[data-bed="ward-a-01"][data-band="HIGH"]').waitFor({ timeout: 3000 });
  assert.ok(fake.stationFetches > before, 'the station was fetched again');
  assert.equal(await bg(tile(page, 'ward-a-01').getByTestId('news2')), 'rgb(183, 28, 28)');
  assert.equal(await tile(page, 'ward-a-01').getAttribute('data-alarm-priority'), 'high');
  assert.match(await tile(page, 'ward-a-01').getByTestId('news2').textContent(), /8.*High/);

  // Keyboard: the patient link is focusable and opens the patient page.
  await tile(page, 'ward-a-01').getByRole('link', { name: 'Alex Doe' }).focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('patient-name').waitFor();
  assert.equal(await page.getByTestId('patient-name').textContent(), 'Alex Doe');
  await page.close();
});

test('patient page: observation form shows API errors next to the field, confirms, and the score changes', async () => {
  const page = await nurse();
  await page.goto(fake.url + '/patients/patient-a02');
  await page.getByTestId('current-news2').waitFor();
  assert.equal(await page.getByTestId('current-news2').getAttribute('data-total'), '2');
  await page.getByTestId('news2-chart').waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="news2-chart"]')?.dataset.sets) >= 2);
  await page.locator('[data-testid="chart-hr"]').waitFor();
  assert.match(await page.getByTestId('flags').textContent(), /Resting heart rate.*Alert/s);
  assert.match(await page.getByTestId('assignments').textContent(), /ward-a-bed-02/);
  assert.match(await page.getByTestId('timeline').textContent(), /Admitted to Ward A bed 02/);

  const form = page.getByTestId('obs-form');
  // Nothing entered: a form-level message.
  await form.getByRole('button', { name: 'Record' }).click();
  await form.getByText('Enter at least one observation.').waitFor();
  // Client-side range check next to the field.
  await form.getByLabel(/Temperature/).fill('50');
  await form.getByRole('button', { name: 'Record' }).click();
  const terr = page.locator('#obs-temp-err');
  await terr.waitFor();
  assert.match(await terr.textContent(), /20–45/);
  assert.equal(await form.getByLabel(/Temperature/).getAttribute('aria-invalid'), 'true');
  await form.getByLabel(/Temperature/).fill('');
  // New confusion must be confirmed.
  await form.getByLabel('Consciousness (ACVPU)').selectOption('C');
  await form.getByRole('button', { name: 'Record' }).click();
  assert.match(await page.locator('#obs-acvpu-err').textContent(), /new or worse than usual/);
  await form.getByLabel('The confusion is new or worse than usual').check();
  // SBP 35 is outside the device range: the API asks for a confirmation, shown at the field.
  await form.getByLabel(/Systolic BP/).fill('35');
  await form.getByLabel('Supplemental oxygen').check();
  await form.getByRole('button', { name: 'Record' }).click();
  await page.locator('#obs-sbp-err').waitFor();
  assert.match(await page.locator('#obs-sbp-err').textContent(), /confirm/i);
  await page.getByTestId('confirm-sbp').check();
  await form.getByRole('button', { name: 'Record' }).click();
  await page.getByTestId('obs-result').waitFor();
  // 2 (rr 1 + pulse 1) + acvpu 3 + sbp 3 + o2 2 = 10: high.
  assert.match(await page.getByTestId('obs-result').textContent(), /NEWS2 now 10 — High risk/);
  await page.locator('[data-testid="current-news2"][data-band="HIGH"]').waitFor();
  await page.locator('[data-testid="timeline"] li[data-kind="observation"]').waitFor();
  await page.close();
});

test('RPM roster: adherence of 16 days, last reading, flags, report links', async () => {
  const page = await nurse();
  await page.getByRole('link', { name: 'RPM' }).click();
  await page.getByTestId('roster').waitFor();
  const r1 = page.locator('tr[data-enrolment="enr-1"]');
  assert.match(await r1.getByTestId('adherence').textContent(), /17 \/ 16/);
  assert.match(await r1.textContent(), /PBM_WEIGHT_UP/);
  const month = await page.getByTestId('report-month').inputValue();
  assert.match(month, /^\d{4}-\d{2}$/);
  assert.equal(await r1.getByTestId('report-pdf').getAttribute('href'), `/api/v1/tenants/demo/rpm/enrolments/enr-1/report?month=${month}&format=pdf`);
  assert.equal(await r1.getByTestId('report-csv').getAttribute('href'), `/api/v1/tenants/demo/rpm/enrolments/enr-1/report?month=${month}&format=csv`);
  assert.match(await page.locator('tr[data-enrolment="enr-2"]').textContent(), /6 \/ 16.*At risk/s);
  await page.close();
});

test('roles: qa and viewer see no patient pages and get a clear message; admin does', async () => {
  for (const role of ['qa', 'viewer']) {
    const page = await chrome.newPage();
    await login(page, fake.url, role, 'pw');
    assert.equal(await page.getByRole('link', { name: 'Central station' }).count(), 0, role);
    assert.equal(await page.getByRole('link', { name: 'RPM' }).count(), 0, role);
    for (const path of ['/station', '/patients/patient-a01', '/rpm']) {
      await page.goto(fake.url + path);
      const msg = page.getByTestId('no-access');
      await msg.waitFor();
      assert.match(await msg.textContent(), new RegExp(`for nurses, clinicians and admins; your role \\(${role}\\)`));
    }
    await page.close();
  }
  const admin = await chrome.newPage();
  await login(admin, fake.url, 'admin', 'pw');
  await admin.getByRole('link', { name: 'Central station' }).click();
  await admin.getByTestId('station').waitFor();
  // The admin may not record observations (observations.write): no form.
  await admin.goto(fake.url + '/patients/patient-a01');
  await admin.getByTestId('current-news2').waitFor();
  assert.equal(await admin.getByTestId('obs-form').count(), 0);
  await admin.close();
  assert.deepEqual(warnings.filter((w) => !/Failed to load resource/.test(w)), []);
});
