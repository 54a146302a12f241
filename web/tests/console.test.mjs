// Browser tests of the console against the real binary running the demo fleet.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, login, shot, startVigil } from './harness.mjs';

let vigil;
let browser;
let page;

before(async () => {
  vigil = await startVigil();
  browser = await launch();
  page = await browser.context.newPage();
  page.setDefaultTimeout(20000);
});

after(async () => {
  await browser?.close();
  await vigil?.stop();
});

test('a wrong password is rejected', async () => {
  await page.goto(vigil.url + '/');
  await page.getByLabel('Username').fill('demo-admin');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const err = page.getByTestId('login-error');
  await err.waitFor();
  assert.equal(await err.textContent(), 'Wrong username or password.');
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
  await shot(page, 'login');
});

test('an admin logs in and the devices appear and go online', async () => {
  await login(page, vigil.url, 'demo-admin', vigil.passwords['demo-admin']);
  await page.waitForFunction(() => document.querySelectorAll('[data-device][data-online="true"]').length >= 12);
  const total = await page.locator('table.devices tbody tr').count();
  assert.ok(total >= 36, `${total} devices listed, want the demo's 36`);
  assert.match(await page.getByTestId('user').textContent(), /demo-admin · admin/);
  await page.waitForFunction(() => document.querySelectorAll('table.subjects tbody tr').length >= 12);
  await shot(page, 'overview');
});

test('a value updates live', async () => {
  const cell = page.getByTestId('v-patient-a01-hr');
  await cell.waitFor();
  // The monitor reports every 500 ms; its heart rate changes within a few reports. The
  // reading's time is tracked too: the title says how long ago it was measured.
  const first = await cell.textContent();
  await page.waitForFunction(
    (v) => document.querySelector('[data-testid="v-patient-a01-hr"]')?.textContent !== v, first, { timeout: 15000 });
});

test('a subject shows a chart with points that grows live', async () => {
  await page.getByRole('link', { name: 'patient-a01' }).click();
  await page.getByRole('heading', { name: 'patient-a01', level: 1 }).waitFor();
  const chart = page.getByTestId('chart-hr');
  await chart.waitFor();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-hr"]')?.dataset.points) > 0);
  const n0 = Number(await chart.getAttribute('data-points'));
  assert.ok(await chart.locator('canvas').count() >= 1, 'no canvas in the chart');
  await page.waitForFunction((n) => Number(document.querySelector('[data-testid="chart-hr"]')?.dataset.points) > n, n0);
  assert.match(await chart.textContent(), /normal 51–90 \/min/);
  await shot(page, 'subject');

  // Zoom: drag across the newer half of the 1 h chart (the demo's data is in its last minute)
  // and the chart reloads that window as raw points, in a fixed range.
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="chart-hr"]')?.dataset.points) >= 20);
  const over = await chart.locator('.u-over').boundingBox();
  const y = over.y + over.height / 2;
  await page.mouse.move(over.x + over.width * 0.5, y);
  await page.mouse.down();
  await page.mouse.move(over.x + over.width + 20, y, { steps: 5 }); // past the edge: uPlot clamps to the newest time
  await page.mouse.up();
  await page.getByText('Fixed range').waitFor();
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-testid="chart-hr"]');
    return /points/.test(el?.textContent ?? '') && !/loading/.test(el?.textContent ?? '') && Number(el?.dataset.points) > 0;
  });
});

test('an admin adds a device and sees its secret once', async () => {
  await page.getByRole('link', { name: 'Devices' }).click();
  await page.getByRole('heading', { name: 'Register a device' }).waitFor();
  await page.getByLabel('Device id').fill('browser-test-monitor');
  await page.getByLabel('Model').fill('Test Monitor');
  await page.getByLabel('Subject').fill('patient-x');
  await page.getByRole('button', { name: 'Register' }).click();
  const secret = page.getByTestId('device-secret');
  await secret.waitFor();
  const code = await secret.locator('code').textContent();
  assert.match(code, /^vgd_/);
  await page.locator('tr[data-device="browser-test-monitor"]').waitFor();
  await shot(page, 'devices');
  await secret.getByRole('button', { name: 'I have copied it' }).click();
  assert.equal(await page.getByTestId('device-secret').count(), 0);
  await page.reload();
  await page.locator('tr[data-device="browser-test-monitor"]').waitFor();
  assert.equal(await page.getByText(code).count(), 0, 'the secret is shown again after a reload');
});

test('the users and audit pages work for an admin', async () => {
  await page.getByRole('link', { name: 'Users' }).click();
  await page.locator('tr[data-user="demo-nurse"]').waitFor();
  await shot(page, 'users');
  await page.getByRole('link', { name: 'Audit trail' }).click();
  await page.locator('table.audit tbody tr').first().waitFor();
  await page.getByLabel('Action').fill('device.create');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.getByText('device.create').first().waitFor();
  await page.getByText('device:browser-test-monitor').first().waitFor();
  await shot(page, 'audit');
});

test('a nurse cannot open the admin pages nor call their APIs', async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Username').waitFor();
  await login(page, vigil.url, 'demo-nurse', vigil.passwords['demo-nurse']);
  const nav = await page.getByRole('navigation', { name: 'Main' }).textContent();
  assert.ok(!nav.includes('Users') && !nav.includes('Audit') && !nav.includes('Settings'), `nurse's navigation: ${nav}`);
  for (const path of ['/admin/users', '/admin/settings', '/admin/audit']) {
    await page.goto(vigil.url + path);
    await page.getByTestId('no-access').waitFor();
  }
  const statuses = await page.evaluate(async () => {
    const csrf = sessionStorage.getItem('vigil.csrf') ?? '';
    const h = { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf };
    const r = await Promise.all([
      fetch('/api/v1/tenants/demo/users'),
      fetch('/api/v1/tenants/demo/audit'),
      fetch('/api/v1/tenants/demo/users', { method: 'POST', headers: h, body: JSON.stringify({ username: 'x', password: 'a long enough password', role: 'admin' }) }),
      fetch('/api/v1/tenants/demo/devices', { method: 'POST', headers: h, body: JSON.stringify({ id: 'nurse-dev', model: 'm', subject: 's' }) }),
      fetch('/api/v1/tenants/demo/settings', { method: 'PUT', headers: h, body: '{}' }),
      fetch('/api/v1/stream?tenant=other'),
    ]);
    return r.map((x) => x.status);
  });
  assert.deepEqual(statuses, [403, 403, 403, 403, 403, 403]);
  // The devices page is readable but offers no registration.
  await page.goto(vigil.url + '/admin/devices');
  await page.locator('tr[data-device="ward-a-bed-01"]').waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Register a device' }).count(), 0);
});

test('an expired session goes back to the login page', async () => {
  await page.goto(vigil.url + '/');
  await page.getByTestId('summary').waitFor();
  // Revoke the session behind the page's back, as expiry would.
  await page.evaluate(() => fetch('/api/v1/logout', { method: 'POST', headers: { 'X-CSRF-Token': sessionStorage.getItem('vigil.csrf') ?? '' } }));
  await page.getByText('Your session has expired').waitFor({ timeout: 40000 });
  await page.getByLabel('Username').waitFor();
});
