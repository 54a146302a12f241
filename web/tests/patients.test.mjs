// The patients page (/patients, issue 7) against the real binary with the demo fleet: a nurse
// finds a demo patient, creates a patient (a missing name and a taken MRN are refused next to
// their field), admits them to a free bed of a test ward (the demo's Ward A is full, so it is not
// offered; a bed taken by someone else while the form is open is refused with 409 and the choice
// is updated), assigns an unassigned monitor on the patient page, transfers them to the ward's
// last free bed and discharges them after a confirmation — which ends the bedside assignment.
// Every step is checked through the API as well. A QA user (no patients.read/manage) has no
// "Patients" link, gets "No access" and no form, and the API refuses with 403.
// Screenshot: docs/screenshots/patients.png.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login, shot, startVigil, apiCall, apiLogin as harnessLogin } from './harness.mjs';

const device = 'patients-test-monitor';
const mrn = 'PT-7001';
const name = 'Pia Testperson';
let vigil;
let chrome;
let admin;
let nurseToken;
const warnings = [];

const apiLogin = (user) => harnessLogin(vigil, user);

const call = (token, method, path, body, want) => apiCall(vigil, token, method, path, body, want);

const byMRN = async (m) => (await call(nurseToken, 'GET', `/patients?q=${encodeURIComponent(m)}`, undefined, 200)).patients.filter((p) => p.mrn === m);
const options = (loc) => loc.evaluate((s) => [...s.options].map((o) => o.value));
const focused = (page) => page.evaluate(() => document.activeElement?.getAttribute('name') ?? document.activeElement?.textContent);

before(async () => {
  vigil = await startVigil();
  admin = await apiLogin('demo-admin');
  nurseToken = await apiLogin('demo-nurse');
  await call(admin, 'POST', '/wards', { id: 'ward-p', name: 'Ward P', beds: ['01', '02', '03'] }, 201);
  await call(admin, 'POST', '/devices', { id: device, model: 'Test monitor', kind: 'monitor', subject: '' }, 201);
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await vigil?.stop();
});

test('nurse: find, create, admit, assign a device, transfer, discharge', async () => {
  const page = await chrome.newPage();
  page.on('console', (m) => m.type() === 'error' && warnings.push(m.text()));
  page.on('pageerror', (e) => warnings.push(String(e)));
  await login(page, vigil.url, 'demo-nurse', vigil.passwords['demo-nurse']);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients' }).click();
  await page.getByTestId('patient-list').waitFor();
  assert.equal(new URL(page.url()).pathname, '/patients');

  // The demo's patient a07 lies in Ward A bed 07; searching for the bed finds exactly them.
  const a07 = page.locator('tr[data-patient="patient-a07"]');
  assert.match(await a07.getByTestId('place').textContent(), /^Ward A · bed 07/);
  await page.getByTestId('patient-search').fill('bed 07');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-patient]').length === 1);
  assert.equal(await a07.count(), 1);

  // New patient: the name is required (at the field), then created; a second one with the same MRN is refused.
  const form = page.getByTestId('new-patient');
  await form.getByLabel('MRN').fill(mrn);
  await form.getByRole('button', { name: 'Create patient' }).click();
  assert.equal(await page.locator('#np-name-err').textContent(), 'Enter the name.');
  assert.equal(await form.getByLabel('Name').getAttribute('aria-invalid'), 'true');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Date of birth').fill('1961-04-12');
  await form.getByLabel('Sex').selectOption('female');
  await form.getByRole('button', { name: 'Create patient' }).click();
  await page.getByTestId('patients-msg').filter({ hasText: `${name} (MRN ${mrn}) created` }).waitFor();
  const created = await byMRN(mrn);
  assert.equal(created.length, 1);
  const pt = created[0];
  assert.deepEqual([pt.name, pt.birth_date, pt.sex, pt.encounter], [name, '1961-04-12', 'female', null]);
  const row = page.locator(`tr[data-patient="${pt.id}"]`);
  assert.match(await row.getByTestId('place').textContent(), /Not admitted/);
  assert.equal(await page.locator('tr[data-patient]').count(), 1, 'the list shows the new patient (searched by MRN)');

  await form.getByLabel('Name').fill('Someone Else');
  await form.getByLabel('MRN').fill(mrn);
  await form.getByRole('button', { name: 'Create patient' }).click();
  assert.match(await page.locator('#np-mrn-err').textContent(), /already exists/);
  assert.equal((await byMRN(mrn)).length, 1);

  // Admit: the panel opens with the focus on the ward; only wards with a free bed are offered.
  await row.getByRole('button', { name: `Admit ${name}` }).click();
  const admit = page.getByTestId('admit-form');
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'ward');
  assert.deepEqual(await options(admit.getByLabel('Ward')), ['ward-p'], 'Ward A is full');
  assert.deepEqual(await options(admit.getByLabel('Bed')), ['ward-p-01', 'ward-p-02', 'ward-p-03']);
  // Meanwhile another user admits someone to bed 01: the server refuses, the form says so and updates.
  const other = await call(admin, 'POST', '/patients', { name: 'Blocker Patient', mrn: 'PT-7002', sex: 'male' }, 201);
  await call(admin, 'POST', `/patients/${other.id}/admit`, { ward: 'ward-p', bed: 'ward-p-01' }, 201);
  await admit.getByRole('button', { name: `Admit ${name}` }).click();
  await admit.getByRole('alert').filter({ hasText: 'the bed was taken' }).waitFor();
  await page.waitForFunction(() => [...document.querySelector('[data-testid="admit-form"] select[name="bed"]').options].map((o) => o.value).join() === 'ward-p-02,ward-p-03');
  assert.equal(await admit.getByLabel('Bed').inputValue(), 'ward-p-02');
  await admit.getByRole('button', { name: `Admit ${name}` }).click();
  await page.locator(`tr[data-patient="${pt.id}"][data-bed="ward-p-02"]`).waitFor();
  assert.match(await row.getByTestId('place').textContent(), /^Ward P · bed 02/);
  assert.equal((await byMRN(mrn))[0].encounter.bed, 'ward-p-02');

  // The patient page: assign the unassigned test monitor, from now.
  await row.getByRole('link', { name }).click();
  await page.getByTestId('patient-name').waitFor();
  assert.equal(await page.getByTestId('patient-name').textContent(), name);
  const assign = page.getByTestId('assign-form');
  await assign.locator(`option[value="${device}"]`).waitFor({ state: 'attached' });
  await assign.getByLabel('Device').selectOption(device);
  await assign.getByRole('button', { name: /^Assign/ }).click();
  await page.locator(`[data-testid="assignments"] tr[data-device="${device}"][data-open="true"]`).waitFor();
  assert.match(await page.getByTestId('assign-msg').textContent(), new RegExp(`${device} assigned`));
  const open = (await call(nurseToken, 'GET', `/assignments?patient=${pt.id}&open=true`, undefined, 200)).assignments;
  assert.deepEqual(open.map((a) => [a.device, a.kind, a.to ?? null]), [[device, 'bedside', null]]);

  // Back to the list (breadcrumb): transfer to the only bed still free.
  await page.locator('.crumbs').getByRole('link', { name: 'Patients' }).click();
  await page.getByTestId('patient-list').waitFor();
  await page.getByTestId('patient-search').fill(mrn);
  await row.getByRole('button', { name: `Transfer ${name}` }).click();
  const transfer = page.getByTestId('transfer-form');
  assert.deepEqual(await options(transfer.getByLabel('Ward')), ['ward-p']);
  assert.deepEqual(await options(transfer.getByLabel('Bed')), ['ward-p-03']);
  await transfer.getByRole('button', { name: `Transfer ${name}` }).click();
  await page.locator(`tr[data-patient="${pt.id}"][data-bed="ward-p-03"]`).waitFor();
  assert.match(await page.getByTestId('patients-msg').textContent(), /transferred to Ward P bed 03/);
  const enc = (await call(nurseToken, 'GET', `/patients/${pt.id}/encounters`, undefined, 200)).encounters;
  assert.deepEqual(enc[0].stays.map((s) => [s.bed, !!s.to]), [['ward-p-02', true], ['ward-p-03', false]]);

  await page.getByTestId('patient-search').fill('');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-patient]').length > 20);
  await shot(page, 'patients');
  await page.getByTestId('patient-search').fill(mrn);

  // Discharge asks first; Escape cancels and gives the focus back to the button.
  const dis = row.getByRole('button', { name: `Discharge ${name}` });
  await dis.click();
  const confirm = page.getByTestId('discharge-confirm');
  assert.match(await confirm.textContent(), /Discharge Pia Testperson from Ward P · bed 03 now\?/);
  await page.waitForFunction(() => document.activeElement?.textContent === 'Confirm discharge');
  await page.keyboard.press('Escape');
  await confirm.waitFor({ state: 'detached' });
  await page.waitForFunction((id) => document.activeElement?.id === `discharge-${id}`, pt.id);
  assert.equal((await byMRN(mrn))[0].encounter.bed, 'ward-p-03', 'still admitted after cancelling');
  await dis.click();
  await confirm.getByRole('button', { name: 'Confirm discharge' }).click();
  await page.locator(`tr[data-patient="${pt.id}"][data-bed=""]`).waitFor();
  assert.match(await row.getByTestId('place').textContent(), /Not admitted/);
  assert.equal((await byMRN(mrn))[0].encounter, null);
  // The bedside assignment ended with the discharge.
  assert.deepEqual((await call(nurseToken, 'GET', `/assignments?patient=${pt.id}&open=true`, undefined, 200)).assignments, []);
  const all = (await call(nurseToken, 'GET', `/assignments?patient=${pt.id}`, undefined, 200)).assignments;
  assert.equal(all.length, 1);
  assert.ok(all[0].to, 'the assignment has an end');
  await page.close();
  assert.deepEqual(warnings.filter((w) => !/Failed to load resource/.test(w)), []);
});

test('qa: no Patients link, no page and no form; the API refuses with 403', async () => {
  const page = await chrome.newPage();
  await login(page, vigil.url, 'demo-qa', vigil.passwords['demo-qa']);
  assert.equal(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Patients' }).count(), 0);
  await page.goto(vigil.url + '/patients');
  await page.getByTestId('no-access').waitFor();
  assert.match(await page.getByTestId('no-access').textContent(), /your role \(qa\)/);
  assert.equal(await page.getByTestId('new-patient').count(), 0);
  await page.close();
  const qa = await apiLogin('demo-qa');
  await call(qa, 'GET', '/patients', undefined, 403);
  await call(qa, 'POST', '/patients', { name: 'Not Allowed', mrn: 'PT-7003', sex: 'unknown' }, 403);
  assert.deepEqual(await byMRN('PT-7003'), []);
});
