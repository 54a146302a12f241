// The REST API client: the session cookie authenticates, and every state-changing call sends
// the CSRF token that login returned. A 401 anywhere ends the session (back to login).

export type Role = 'provider-admin' | 'admin' | 'clinician' | 'nurse' | 'qa' | 'operator' | 'viewer';

export interface User {
  id: string;
  tenant: string;
  username: string;
  role: Role;
  disabled: boolean;
  locked?: boolean;
  created: string;
}

export interface Session {
  user: User;
  csrf: string;
}

export class APIError extends Error {
  // body is the error response's JSON (e.g. {"error", "field", "needs_confirmation"}), if any.
  constructor(public status: number, message: string, public body?: any) {
    super(message);
  }
}

const csrfKey = 'vigil.csrf';
let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(fn: () => void) {
  onUnauthorized = fn;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = sessionStorage.getItem(csrfKey) ?? '';
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new APIError(0, 'The server is unreachable. Check your connection; the page retries by itself.');
  }
  if (resp.status === 204) return undefined as T;
  let data: any = null;
  try {
    data = await resp.json();
  } catch {
    /* not JSON */
  }
  if (!resp.ok) {
    // A wrong password when signing (docs/coldchain.md) is a 401 that keeps the session.
    if (resp.status === 401 && path !== '/api/v1/login' && data?.code !== 'wrong_password') onUnauthorized();
    throw new APIError(resp.status, data?.error ?? `HTTP ${resp.status}`, data);
  }
  return data as T;
}

export async function login(username: string, password: string): Promise<Session> {
  const r = await api<{ csrf: string; user: User }>('POST', '/api/v1/login', { username, password });
  sessionStorage.setItem(csrfKey, r.csrf);
  return { user: r.user, csrf: r.csrf };
}

export async function logout() {
  try {
    await api('POST', '/api/v1/logout');
  } finally {
    sessionStorage.removeItem(csrfKey);
  }
}

// resume returns the current session when the cookie is still valid (after a reload).
export async function resume(): Promise<Session | null> {
  const csrf = sessionStorage.getItem(csrfKey);
  if (!csrf) return null;
  try {
    const user = await api<User>('GET', '/api/v1/me');
    return { user, csrf };
  } catch {
    return null;
  }
}

export function clearSession() {
  sessionStorage.removeItem(csrfKey);
}

export const tenantPath = (tenant: string, rest = '') => `/api/v1/tenants/${encodeURIComponent(tenant)}${rest}`;

// Permissions per role, as in docs/api.md.
export const can = {
  manageUsers: (r: Role) => r === 'admin' || r === 'provider-admin',
  manageSettings: (r: Role) => r === 'admin' || r === 'provider-admin',
  manageDevices: (r: Role) => r === 'admin' || r === 'operator' || r === 'provider-admin',
  readAudit: (r: Role) => r === 'admin' || r === 'qa' || r === 'provider-admin',
};
