// Test harness: runs the real vigil binary with the demo fleet on a free port and drives
// Debian's Chromium through playwright-core. Not a test file itself (node --test runs *.test.mjs).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
export const screenshots = join(repo, 'docs', 'screenshots');
export const adminPassword = 'browser test admin password';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// startVigil starts `vigil serve --demo` and resolves once it listens and printed the demo
// users' passwords: { url, passwords: {user: pw}, stop() }.
export async function startVigil({ interval = '500ms' } = {}) {
  const bin = process.env.VIGIL_BIN ?? join(repo, 'bin', 'vigil');
  if (!existsSync(bin)) throw new Error(`${bin} not found: run make build`);
  const data = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  const port = await freePort();
  const proc = spawn(bin, ['serve', '--demo', '--demo-interval', interval, '--data', data, '--http', `127.0.0.1:${port}`, '--mqtt', ''], {
    env: { ...process.env, VIGIL_ADMIN_PASSWORD: adminPassword },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr.on('data', (b) => (err = (err + b).slice(-20000)));
  const passwords = {};
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil did not start in 30 s:\n${out}\n${err.slice(-3000)}`)), 30000);
    proc.on('exit', (code) => reject(new Error(`vigil exited with ${code}:\n${out}\n${err.slice(-3000)}`)));
    proc.stdout.on('data', (b) => {
      out += b;
      for (const m of out.matchAll(/log in as (\S+) \(\S+\) with password (\S+)/g)) passwords[m[1]] = m[2];
      if (/simulated devices/.test(out) && passwords['demo-nurse']) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  proc.removeAllListeners('exit');
  return {
    url: `http://127.0.0.1:${port}`,
    passwords,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        if (proc.exitCode !== null) return r();
        proc.on('exit', r);
        setTimeout(() => {
          proc.kill('SIGKILL');
          r();
        }, 10000);
      });
      rmSync(data, { recursive: true, force: true });
    },
  };
}

// launch starts Chromium headless with a temporary profile and returns { context, close() }.
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'vigil-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function login(page, url, user, password) {
  await page.goto(url + '/');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function shot(page, name) {
  mkdirSync(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, name + '.png') });
}

// launchBrowser starts one headless Chromium for several isolated contexts (separate cookie
// jars, i.e. separate sessions): { browser, newPage(), close() }.
export async function launchBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async newPage() {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await ctx.newPage();
      page.setDefaultTimeout(20000);
      return page;
    },
    close: () => browser.close(),
  };
}

// apiLogin signs user in through the API of a running vigil (startVigil) and returns the
// session token.
export async function apiLogin(vigil, user) {
  const r = await fetch(vigil.url + '/api/v1/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ username: user, password: vigil.passwords[user] }),
  });
  assert.equal(r.status, 200, `login ${user}: ${r.status}`);
  return (await r.json()).token;
}

// apiCall calls path under the demo tenant with token and returns the decoded JSON body (null
// when empty); with want, it asserts the HTTP status.
export async function apiCall(vigil, token, method, path, body, want) {
  const r = await fetch(vigil.url + '/api/v1/tenants/demo' + path, {
    method, headers: { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (want !== undefined) assert.equal(r.status, want, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
