import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, can, clearSession, logout, resume, Session, setUnauthorizedHandler } from './api';
import { live, LinkState } from './live';
import { navigate, onLink, usePath } from './router';
import { Login } from './pages/login';
import { Overview } from './pages/overview';
import { SubjectPage } from './pages/subject';
import { AuditPage, DevicesPage, SettingsPage, UsersPage } from './pages/admin';
import { AlarmsPage } from './pages/alarms';
import { AlarmBanner, AlarmCount, SoundToggle } from './banner';
import { canAlarms } from './alarms';
import { canPatients } from './clinical';
import { ClinicalRoutes, isClinicalPath } from './pages/clinicalroutes';
import { ColdChainRoutes, coldChainNav, isColdChainPath } from './pages/ccroutes';
import './style.css';

function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const [tenant, setTenant] = useState('');
  const [tenants, setTenants] = useState<{ id: string; name: string }[]>([]);
  const path = usePath();

  useEffect(() => {
    setUnauthorizedHandler(() => {
      live.close();
      clearSession();
      setSession(null);
      setNotice('Your session has expired. Please sign in again.');
    });
    resume().then(setSession);
  }, []);

  // The tenant: one's own, or for a provider admin the chosen one (first by default).
  useEffect(() => {
    if (!session) return;
    if (session.user.role !== 'provider-admin') {
      setTenant(session.user.tenant);
      return;
    }
    api<{ tenants: { id: string; name: string }[] }>('GET', '/api/v1/tenants').then((r) => {
      setTenants(r.tenants);
      const saved = sessionStorage.getItem('vigil.tenant');
      setTenant(r.tenants.find((t) => t.id === saved)?.id ?? r.tenants[0]?.id ?? '');
    });
  }, [session]);

  useEffect(() => {
    if (tenant) live.connect(tenant);
    return () => live.close();
  }, [tenant]);

  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) {
    return (
      <Login
        notice={notice}
        onLogin={(s) => {
          setNotice('');
          setSession(s);
          if (location.pathname === '/login') navigate('/', true);
        }}
      />
    );
  }
  const role = session.user.role;
  const signOut = async () => {
    live.close();
    try {
      await logout();
    } catch {
      /* the session is gone either way */
    }
    setNotice('You have signed out.');
    setSession(null);
    navigate('/', true);
  };
  const nav = [
    { href: '/', label: 'Overview', show: true },
    { href: '/alarms', label: 'Alarms', show: canAlarms.read(role) },
    { href: '/station', label: 'Central station', show: canPatients.read(role) },
    { href: '/patients', label: 'Patients', show: canPatients.read(role) },
    { href: '/rpm', label: 'RPM', show: canPatients.read(role) },
    ...coldChainNav(role),
    { href: '/admin/users', label: 'Users', show: can.manageUsers(role) },
    { href: '/admin/devices', label: 'Devices', show: true },
    { href: '/admin/settings', label: 'Settings', show: can.manageSettings(role) },
    { href: '/admin/audit', label: 'Audit trail', show: can.readAudit(role) },
  ].filter((n) => n.show);

  let page;
  if (!tenant) page = <p class="loading">{role === 'provider-admin' && tenants.length === 0 ? 'No tenants yet.' : 'Loading…'}</p>;
  else if (path === '/' || path === '/login') page = <Overview tenant={tenant} />;
  else if (path === '/alarms') page = canAlarms.read(role) ? <AlarmsPage tenant={tenant} role={role} /> : <NoAccess />;
  else if (isClinicalPath(path)) page = <ClinicalRoutes tenant={tenant} role={role} path={path} />;
  else if (isColdChainPath(path)) page = <ColdChainRoutes key={path} tenant={tenant} session={session} path={path} />;
  else if (path.startsWith('/subjects/')) page = <SubjectPage tenant={tenant} subject={decodeURIComponent(path.slice(10))} />;
  else if (path === '/admin/users') page = can.manageUsers(role) ? <UsersPage tenant={tenant} session={session} /> : <NoAccess />;
  else if (path === '/admin/devices') page = <DevicesPage tenant={tenant} canManage={can.manageDevices(role)} />;
  else if (path === '/admin/settings') page = can.manageSettings(role) ? <SettingsPage tenant={tenant} /> : <NoAccess />;
  else if (path === '/admin/audit') page = can.readAudit(role) ? <AuditPage tenant={tenant} /> : <NoAccess />;
  else page = <p>Page not found. <a href="/" onClick={onLink}>Back to the overview</a></p>;

  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/" onClick={onLink}>Vigil</a>
        <nav aria-label="Main">
          <ul>
            {nav.map((n) => (
              <li key={n.href}>
                <a href={n.href} onClick={onLink} aria-current={path === n.href ? 'page' : undefined}>
                  {n.label}{n.href === '/alarms' && <AlarmCount />}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          {role === 'provider-admin' ? (
            <label class="tenant-switch">
              <span>Tenant</span>
              <select value={tenant} data-testid="tenant-switch" onChange={(e) => {
                const t = (e.target as HTMLSelectElement).value;
                sessionStorage.setItem('vigil.tenant', t);
                setTenant(t);
              }}>
                {tenants.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
              </select>
            </label>
          ) : (
            <span class="tenant-name">{tenant}</span>
          )}
          <SoundToggle />
          <span class="user" data-testid="user">{session.user.username} · {role}</span>
          <button type="button" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <LinkBanner />
      <AlarmBanner />
      <main id="main" tabIndex={-1}>{page}</main>
    </>
  );
}

function NoAccess() {
  return (
    <section class="card" role="alert" data-testid="no-access">
      <h1>No access</h1>
      <p>Your role does not allow this page. <a href="/" onClick={onLink}>Back to the overview</a></p>
    </section>
  );
}

// LinkBanner says when the live stream is down, in a fixed-height slot (no layout jump).
function LinkBanner() {
  const [state, setState] = useState<LinkState>(live.state);
  useEffect(() => live.subscribe(() => setState(live.state)), []);
  return (
    <div class="banner-slot" aria-live="polite">
      {state === 'down' && (
        <div class="banner" role="alert" data-testid="offline-banner">
          The server is unreachable. Live data is paused; reconnecting automatically…
        </div>
      )}
    </div>
  );
}

render(<App />, document.getElementById('app')!);
