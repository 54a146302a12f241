import { useEffect, useState } from 'preact/hooks';
import { api, Role, Session, tenantPath, User } from '../api';

const roles: Role[] = ['admin', 'clinician', 'nurse', 'qa', 'operator', 'viewer'];
const kinds = ['monitor', 'oximeter', 'bp_monitor', 'thermometer', 'wearable', 'glucometer', 'scale', 'environment', 'gateway', 'patient'];

function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): [T | null, string, () => void] {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState('');
  const [n, setN] = useState(0);
  useEffect(() => {
    fn().then(setData, (e) => setError(e.message));
  }, [...deps, n]);
  return [data, error, () => setN((x) => x + 1)];
}

function Msg({ error, ok }: { error: string; ok?: string }) {
  return (
    <div class="msg-slot" aria-live="polite">
      {error ? <p class="error" role="alert">{error}</p> : ok ? <p class="ok">{ok}</p> : null}
    </div>
  );
}

const val = (e: Event) => (e.target as HTMLInputElement).value;

export function UsersPage({ tenant, session }: { tenant: string; session: Session }) {
  const [data, loadErr, reload] = useLoad(() => api<{ users: User[] }>('GET', tenantPath(tenant, '/users')), [tenant]);
  const [form, setForm] = useState({ username: '', password: '', role: 'nurse' as Role });
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const act = async (fn: () => Promise<unknown>, msg: string) => {
    setError('');
    setOk('');
    try {
      await fn();
      setOk(msg);
      reload();
    } catch (e: any) {
      setError(e.message);
    }
  };
  return (
    <>
      <h1>Users</h1>
      <section class="card">
        <h2>Add a user</h2>
        <form class="row-form" onSubmit={(e) => {
          e.preventDefault();
          act(async () => {
            await api('POST', tenantPath(tenant, '/users'), form);
            setForm({ username: '', password: '', role: form.role });
          }, `User ${form.username} added.`);
        }}>
          <label>Username <input required value={form.username} onInput={(e) => setForm({ ...form, username: val(e) })} /></label>
          <label>Password <input required type="password" autoComplete="new-password" minLength={12} value={form.password}
            onInput={(e) => setForm({ ...form, password: val(e) })} /></label>
          <label>Role <select value={form.role} onChange={(e) => setForm({ ...form, role: val(e) as Role })}>
            {roles.map((r) => <option key={r}>{r}</option>)}
          </select></label>
          <button class="primary" type="submit">Add user</button>
        </form>
        <Msg error={error || loadErr} ok={ok} />
      </section>
      <section class="card">
        <table>
          <thead><tr><th scope="col">Username</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            {data?.users.map((u) => (
              <tr key={u.id} data-user={u.username}>
                <th scope="row">{u.username}</th>
                <td>
                  {u.role === 'provider-admin' ? u.role : (
                    <select aria-label={`Role of ${u.username}`} value={u.role} disabled={u.id === session.user.id}
                      onChange={(e) => act(() => api('PATCH', tenantPath(tenant, `/users/${u.id}`), { role: val(e) }), `Role of ${u.username} changed.`)}>
                      {roles.map((r) => <option key={r}>{r}</option>)}
                    </select>
                  )}
                </td>
                <td>{u.disabled ? 'Disabled' : u.locked ? 'Locked' : 'Active'}</td>
                <td class="actions">
                  {u.id !== session.user.id && (
                    <button type="button" onClick={() => act(() => api('PATCH', tenantPath(tenant, `/users/${u.id}`), { disabled: !u.disabled }),
                      `${u.username} ${u.disabled ? 'enabled' : 'disabled'}.`)}>{u.disabled ? 'Enable' : 'Disable'}</button>
                  )}
                  {u.locked && <button type="button" onClick={() => act(() => api('PATCH', tenantPath(tenant, `/users/${u.id}`), { unlock: true }), `${u.username} unlocked.`)}>Unlock</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

interface Device {
  id: string;
  model: string;
  kind: string;
  subject: string;
  revoked: boolean;
  last_seen: string | null;
  secret?: string;
}

export function DevicesPage({ tenant, canManage }: { tenant: string; canManage: boolean }) {
  const [data, loadErr, reload] = useLoad(() => api<{ devices: Device[] }>('GET', tenantPath(tenant, '/devices')), [tenant]);
  const [form, setForm] = useState({ id: '', model: '', kind: 'monitor', subject: '' });
  const [secret, setSecret] = useState<{ id: string; secret: string } | null>(null);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  const act = async (fn: () => Promise<Device | void>, msg: string) => {
    setError('');
    setOk('');
    setSecret(null);
    try {
      const d = await fn();
      if (d && d.secret) setSecret({ id: d.id, secret: d.secret });
      setOk(msg);
      reload();
    } catch (e: any) {
      setError(e.message);
    }
  };
  return (
    <>
      <h1>Devices</h1>
      {canManage && (
        <section class="card">
          <h2>Register a device</h2>
          <form class="row-form" onSubmit={(e) => {
            e.preventDefault();
            act(async () => {
              const d = await api<Device>('POST', tenantPath(tenant, '/devices'), form);
              setForm({ id: '', model: form.model, kind: form.kind, subject: '' });
              return d;
            }, `Device ${form.id} registered.`);
          }}>
            <label>Device id <input required name="device-id" value={form.id} onInput={(e) => setForm({ ...form, id: val(e) })} /></label>
            <label>Model <input value={form.model} name="model" onInput={(e) => setForm({ ...form, model: val(e) })} /></label>
            <label>Kind <select value={form.kind} onChange={(e) => setForm({ ...form, kind: val(e) })}>
              {kinds.map((k) => <option key={k}>{k}</option>)}
            </select></label>
            <label>Subject <input value={form.subject} name="subject" onInput={(e) => setForm({ ...form, subject: val(e) })} /></label>
            <button class="primary" type="submit">Register</button>
          </form>
          <Msg error={error || loadErr} ok={ok} />
          {secret && (
            <div class="secret" role="alert" data-testid="device-secret">
              <p><strong>Secret of {secret.id}</strong> — copy it now: it is shown only once and cannot be shown again.</p>
              <code>{secret.secret}</code>
              <button type="button" onClick={() => setSecret(null)}>I have copied it</button>
            </div>
          )}
        </section>
      )}
      <section class="card">
        <table>
          <thead><tr><th scope="col">Device</th><th scope="col">Model</th><th scope="col">Kind</th><th scope="col">Subject</th><th scope="col">Last seen</th><th scope="col">Status</th>{canManage && <th scope="col">Actions</th>}</tr></thead>
          <tbody>
            {data?.devices.map((d) => (
              <tr key={d.id} data-device={d.id}>
                <th scope="row">{d.id}</th>
                <td>{d.model}</td>
                <td>{d.kind}</td>
                <td>{d.subject}</td>
                <td class="num">{d.last_seen ? new Date(d.last_seen).toLocaleString() : 'never'}</td>
                <td>{d.revoked ? 'Revoked' : 'Active'}</td>
                {canManage && (
                  <td class="actions">
                    <button type="button" onClick={() => act(() => api<Device>('POST', tenantPath(tenant, `/devices/${encodeURIComponent(d.id)}/rotate`)), `New secret for ${d.id}.`)}>Rotate secret</button>
                    {!d.revoked && <button type="button" class="danger" onClick={() => {
                      if (confirm(`Revoke ${d.id}? Its credentials stop working at once.`)) act(() => api('POST', tenantPath(tenant, `/devices/${encodeURIComponent(d.id)}/revoke`)), `${d.id} revoked.`);
                    }}>Revoke</button>}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

export function SettingsPage({ tenant }: { tenant: string }) {
  const [data, loadErr, reload] = useLoad(() => api<{ name: string; settings: Record<string, string> }>('GET', tenantPath(tenant)), [tenant]);
  const [rows, setRows] = useState<[string, string][]>([]);
  const [error, setError] = useState('');
  const [ok, setOk] = useState('');
  useEffect(() => {
    if (data) setRows(Object.entries(data.settings).sort());
  }, [data]);
  const save = async (e: Event) => {
    e.preventDefault();
    setError('');
    setOk('');
    try {
      await api('PUT', tenantPath(tenant, '/settings'), Object.fromEntries(rows.filter(([k]) => k.trim() !== '')));
      setOk('Settings saved.');
      reload();
    } catch (err: any) {
      setError(err.message);
    }
  };
  return (
    <>
      <h1>Tenant settings</h1>
      <section class="card">
        <h2>{data?.name ?? tenant}</h2>
        <form onSubmit={save}>
          <table>
            <thead><tr><th scope="col">Key</th><th scope="col">Value</th><th scope="col"><span class="sr-only">Remove</span></th></tr></thead>
            <tbody>
              {rows.map(([k, v], i) => (
                <tr key={i}>
                  <td><input aria-label="Key" value={k} onInput={(e) => setRows(rows.map((r, j) => (j === i ? [val(e), r[1]] : r)))} /></td>
                  <td><input aria-label={`Value of ${k}`} value={v} onInput={(e) => setRows(rows.map((r, j) => (j === i ? [r[0], val(e)] : r)))} /></td>
                  <td><button type="button" onClick={() => setRows(rows.filter((_, j) => j !== i))}>Remove</button></td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="row-form">
            <button type="button" onClick={() => setRows([...rows, ['', '']])}>Add setting</button>
            <button type="submit" class="primary">Save</button>
          </p>
        </form>
        <Msg error={error || loadErr} ok={ok} />
      </section>
    </>
  );
}

interface AuditEntry {
  seq: number;
  time: string;
  actor: string;
  action: string;
  target: string;
  old?: string;
  new?: string;
}

export function AuditPage({ tenant }: { tenant: string }) {
  const [entries, setEntries] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [next, setNext] = useState(0);
  const [error, setError] = useState('');
  const [action, setAction] = useState('');
  const [target, setTarget] = useState('');
  const page = 100;
  const load = async (after: number, replace: boolean) => {
    try {
      const q = new URLSearchParams({ after: String(after), limit: String(page) });
      if (action.trim()) q.set('action', action.trim());
      if (target.trim()) q.set('target', target.trim());
      const r = await api<{ entries: AuditEntry[]; next?: number }>('GET', tenantPath(tenant, `/audit?${q}`));
      setEntries((es) => (replace ? r.entries : [...es, ...r.entries]));
      // A filtered scan may stop before the end of the trail; it says where to go on.
      const last = r.entries.length ? r.entries[r.entries.length - 1].seq : after;
      setNext(r.next ?? last);
      setMore(r.entries.length === page || r.next !== undefined);
      setError('');
    } catch (e: any) {
      setError(e.message);
    }
  };
  useEffect(() => {
    load(0, true);
  }, [tenant]);
  return (
    <>
      <h1>Audit trail</h1>
      <Msg error={error} />
      <form
        class="card filters"
        style={{ display: 'flex', gap: '1rem', alignItems: 'flex-end', flexWrap: 'wrap' }}
        onSubmit={(e) => {
          e.preventDefault();
          load(0, true);
        }}
      >
        <label>
          Action <input name="action" value={action} placeholder="e.g. device.create" onInput={(e) => setAction(e.currentTarget.value)} />
        </label>
        <label>
          Target starts with <input name="target" value={target} placeholder="e.g. device:" onInput={(e) => setTarget(e.currentTarget.value)} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <section class="card">
        <table class="audit">
          <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Change</th></tr></thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq}>
                <td class="num">{e.seq}</td>
                <td class="num">{new Date(e.time).toLocaleString()}</td>
                <td>{e.actor}</td>
                <td>{e.action}</td>
                <td>{e.target}</td>
                <td class="change">{e.old && <div><span class="muted">old</span> <code>{e.old}</code></div>}{e.new && <div><span class="muted">new</span> <code>{e.new}</code></div>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries.length === 0 && !more && <p class="muted">No entries.</p>}
        {more && (
          <button type="button" onClick={() => load(next, false)}>Load more</button>
        )}
      </section>
    </>
  );
}
