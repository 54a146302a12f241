// A tiny in-memory stand-in for vigil's alarm API (docs/console.md, "Alarms"), serving the
// built console from web/dist: login/me/logout, the SSE stream with `alarm` events (the open
// alarms on connect), the alarm list, detail, actions and subject history. The UI tests use it
// to drive the alarm console deterministically; the real binary is tested by alarms.test.mjs.
// Not a test file itself.
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, extname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repo } from './harness.mjs';

const dist = join(repo, 'web', 'dist');
const types = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html' };
const rank = { high: 3, medium: 2, low: 1 };
const terminal = (s) => s === 'resolved' || s === 'cancelled';
const roles = { nurse: 'nurse', qa: 'qa', viewer: 'viewer', admin: 'admin' };
// The server's alarm permissions (internal/auth/perm.go): read all but qa; act; manage.
const mayAct = (r) => ['nurse', 'clinician', 'operator'].includes(r);
const mayManage = (r) => r === 'admin';

// startFake({routes}): routes(req, res, {url, path, json, sess, send}) may answer further API
// routes (it returns true when it did); emit(event, data) writes an event to every open stream.
export async function startFake({ routes } = {}) {
  const sessions = new Map(); // cookie token → {user, csrf}
  const alarms = new Map();
  const streams = new Map(); // response → role
  let seq = 0;

  const send = (res, status, body) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const broadcast = (a) => {
    for (const [s, role] of streams) if (role !== 'qa') s.write(`event: alarm\ndata: ${JSON.stringify(a)}\n\n`);
  };
  const view = ({ history, ...a }) => a;
  const record = (a, action, actor, reason, from) => a.history.push({ at: new Date().toISOString(), action, actor, reason, from, to: a.state });

  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    let body = '';
    for await (const c of req) body += c;
    const json = body ? JSON.parse(body) : {};
    const token = /vigil_session=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
    const sess = token && sessions.get(token);
    if (!p.startsWith('/api/')) {
      const f = join(dist, p);
      const file = p !== '/' && existsSync(f) && extname(f) ? f : join(dist, 'index.html');
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' });
      return res.end(readFileSync(file));
    }
    if (p === '/api/v1/login') {
      const role = roles[json.username];
      if (!role || json.password !== 'pw') return send(res, 401, { error: 'wrong username or password' });
      const t = randomBytes(8).toString('hex');
      const s = { user: { id: 'u_' + json.username, tenant: 'demo', username: json.username, role, disabled: false }, csrf: randomBytes(8).toString('hex') };
      sessions.set(t, s);
      res.setHeader('Set-Cookie', `vigil_session=${t}; Path=/; HttpOnly; SameSite=Strict`);
      return send(res, 200, { csrf: s.csrf, user: s.user });
    }
    if (!sess) return send(res, 401, { error: 'not authenticated' });
    if (req.method !== 'GET' && req.headers['x-csrf-token'] !== sess.csrf) return send(res, 403, { error: 'csrf' });
    if (p === '/api/v1/me') return send(res, 200, sess.user);
    if (p === '/api/v1/logout') {
      sessions.delete(token);
      return send(res, 200, {});
    }
    if (p.includes('/alarms') && sess.user.role === 'qa') return send(res, 403, { error: 'not allowed' });
    if (p === '/api/v1/stream') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(': hello\n\n');
      res.write(`event: devices\ndata: ${JSON.stringify({ full: true, devices: [] })}\n\n`);
      if (sess.user.role !== 'qa') for (const a of alarms.values()) if (!terminal(a.state)) res.write(`event: alarm\ndata: ${JSON.stringify(view(a))}\n\n`);
      streams.set(res, sess.user.role);
      req.on('close', () => streams.delete(res));
      return;
    }
    const base = '/api/v1/tenants/demo';
    if (p === base + '/subjects') return send(res, 200, { subjects: [] });
    let m;
    if ((m = /^\/api\/v1\/tenants\/demo\/subjects\/([^/]+)\/alarms$/.exec(p))) {
      const s = decodeURIComponent(m[1]);
      return send(res, 200, { alarms: [...alarms.values()].filter((a) => a.subject === s).map(view) });
    }
    if (p === base + '/alarms') {
      const st = url.searchParams.get('state') ?? 'active';
      const pr = url.searchParams.get('priority');
      const su = url.searchParams.get('subject');
      const list = [...alarms.values()]
        .filter((a) => (st === 'all' || !terminal(a.state)) && (!pr || a.priority === pr) && (!su || a.subject === su))
        .sort((a, b) => rank[b.priority] - rank[a.priority] || Date.parse(a.raised_at) - Date.parse(b.raised_at));
      return send(res, 200, { alarms: list.map(view) });
    }
    if ((m = /^\/api\/v1\/tenants\/demo\/alarms\/([^/]+)(?:\/(\w+))?$/.exec(p))) {
      const a = alarms.get(decodeURIComponent(m[1]));
      if (!a) return send(res, 404, { error: 'alarm not found' });
      if (!m[2]) return send(res, 200, a);
      if (!(m[2] === 'resolve' ? mayManage : mayAct)(sess.user.role)) return send(res, 403, { error: 'not allowed' });
      const from = a.state;
      const who = sess.user.username;
      switch (m[2]) {
        case 'ack':
          if (from !== 'active' && from !== 'latched') return send(res, 409, { error: `cannot acknowledge a ${from} alarm` });
          a.state = from === 'latched' ? 'resolved' : 'acknowledged';
          a.acknowledged_at = new Date().toISOString();
          a.acknowledged_by = who;
          a.next_escalation_at = null;
          record(a, 'ACKNOWLEDGED', who, json.reason, from);
          break;
        case 'silence':
          if (!json.duration) return send(res, 400, { error: 'duration required' });
          a.silenced_until = new Date(Date.now() + parseInt(json.duration) * 60000).toISOString();
          record(a, 'SILENCED', who, json.reason, from);
          break;
        case 'escalate':
          if (!json.reason) return send(res, 400, { error: 'reason required' });
          a.escalation_tier++;
          record(a, 'ESCALATED', who, json.reason, from);
          break;
        case 'resolve':
          if (!json.note) return send(res, 400, { error: 'note required' });
          a.state = 'resolved';
          a.resolved_at = new Date().toISOString();
          record(a, 'RESOLVED', who, json.note, from);
          break;
        default:
          return send(res, 404, { error: 'no such action' });
      }
      broadcast(view(a));
      return send(res, 200, view(a));
    }
    if (routes && (await routes(req, res, { url, path: p, json, sess, send }))) return;
    return send(res, 404, { error: 'not found' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    emit(event, data) {
      for (const [s, role] of streams) if (role !== 'qa' || event !== 'alarm') s.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    // raise adds an active alarm and pushes it to every open stream.
    raise(fields) {
      const id = `al_${++seq}`;
      const a = {
        id, tenant: 'demo', device: 'dev-' + fields.subject, metric: 'spo2', code: 'SPO2_LOW', kind: 'physiological',
        priority: 'medium', state: 'active', message: 'SpO2 low', value: 88, unit: '%', raised_at: new Date().toISOString(),
        acknowledged_at: null, acknowledged_by: null, silenced_until: null, escalation_tier: 0,
        next_escalation_at: new Date(Date.now() + 180000).toISOString(), resolved_at: null, ...fields, history: [],
      };
      record(a, 'RAISED', 'system', undefined, undefined);
      alarms.set(id, a);
      broadcast(view(a));
      return id;
    },
    async stop() {
      for (const s of streams.keys()) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
