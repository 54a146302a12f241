// The alarm console against the real binary with the demo fleet (issue 6): a simulated patient
// desaturates (a device of our own posts SpO2 78 % and HR 180 over HTTP ingest), the alarm
// appears on a logged-in console within 2 s, a nurse acknowledges it, and a second console
// session sees the new state live. Skips, saying so, when the binary has no alarm API yet.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, login, startVigil, apiLogin as harnessLogin } from './harness.mjs';

const device = 'alarm-test-oximeter';
const subject = 'patient-alarm-test';
let vigil;
let chrome;
let missing = '';
let secret = '';

const apiLogin = (user) => harnessLogin(vigil, user);

before(async () => {
  vigil = await startVigil();
  const token = await apiLogin('demo-admin');
  const auth = { Authorization: 'Bearer ' + token };
  const probe = await fetch(vigil.url + '/api/v1/tenants/demo/alarms?state=active', { headers: auth });
  if (probe.status === 404 || probe.status === 503) {
    missing = `this vigil binary has no alarm service (GET /api/v1/tenants/demo/alarms → ${probe.status}): build the backend of issue 6 and rerun`;
    return;
  }
  assert.equal(probe.status, 200);
  const r = await fetch(vigil.url + '/api/v1/tenants/demo/devices', {
    method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ id: device, model: 'Test Oximeter', kind: 'oximeter', subject }),
  });
  assert.equal(r.status, 201, `register ${device}: ${r.status} ${await r.clone().text()}`);
  secret = (await r.json()).secret;
  chrome = await launchBrowser();
});

after(async () => {
  await chrome?.close();
  await vigil?.stop();
});

// post sends one pack from the test's oximeter, measured now.
async function post(spo2, hr) {
  const pack = [{ bn: device + ':', bt: Date.now() / 1000, n: 'spo2', u: '/', v: spo2 }, { n: 'hr', u: 'beat/min', v: hr }];
  const r = await fetch(vigil.url + '/api/v1/ingest', {
    method: 'POST',
    headers: { 'Content-Type': 'application/senml+json', Authorization: 'Basic ' + Buffer.from(`${device}:${secret}`).toString('base64') },
    body: JSON.stringify(pack),
  });
  assert.equal(r.status, 202, `ingest: ${r.status} ${await r.text()}`);
}

test('a desaturation alarm reaches the console within 2 s, a nurse acknowledges, another session sees it live', async (t) => {
  if (missing) return t.skip(missing);
  const nurse = await chrome.newPage();
  const other = await chrome.newPage();
  await login(nurse, vigil.url, 'demo-nurse', vigil.passwords['demo-nurse']);
  await login(other, vigil.url, 'demo-admin', vigil.passwords['demo-admin']);
  await nurse.goto(vigil.url + `/alarms?subject=${subject}`);
  await other.goto(vigil.url + `/alarms?subject=${subject}`);
  await nurse.getByTestId('no-alarms').waitFor();
  await other.getByTestId('no-alarms').waitFor();

  // Normal readings first, then the condition: SpO2 78 % (< 80, HIGH, no delay) and HR 180.
  await post(0.97, 80);
  let stop = false;
  const t0 = Date.now();
  const feeding = (async () => {
    while (!stop) {
      await post(0.78, 180);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  try {
    const row = nurse.locator('table.alarms tbody tr[data-priority="high"]').first();
    await row.waitFor({ timeout: 10000 });
    const took = Date.now() - t0;
    assert.ok(took <= 2000, `the alarm took ${took} ms to reach the console, want ≤ 2000`);
    // The banner is on the page too, and on the other session's.
    await nurse.getByTestId('alarm-banner').first().waitFor();
    await other.locator('table.alarms tbody tr[data-priority="high"]').first().waitFor({ timeout: 2000 });
    assert.equal(await other.locator('tr[data-priority="high"]').first().getAttribute('data-state'), 'active');

    const id = await row.getAttribute('data-alarm');
    await row.getByRole('button', { name: /^Acknowledge/ }).click();
    await nurse.locator(`tr[data-alarm="${id}"][data-state="acknowledged"]`).waitFor({ timeout: 5000 });
    await other.locator(`tr[data-alarm="${id}"][data-state="acknowledged"]`).waitFor({ timeout: 2000 });
    assert.match(await other.locator(`tr[data-alarm="${id}"]`).getByTestId('alarm-state').textContent(), /by /);
    assert.equal(await other.locator(`[data-testid="alarm-banner"][data-alarm="${id}"]`).count(), 0, 'the banner stays after the acknowledgement');
  } finally {
    stop = true;
    await feeding;
  }
});
