import { useState } from 'preact/hooks';
import { APIError, login, Session } from '../api';

export function Login({ onLogin, notice }: { onLogin: (s: Session) => void; notice?: string }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      onLogin(await login(username.trim(), password));
    } catch (err) {
      const status = err instanceof APIError ? err.status : 0;
      setError(
        status === 401
          ? 'Wrong username or password.'
          : err instanceof Error
            ? err.message
            : 'Login failed.',
      );
      setPassword('');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login">
      <form class="card login-card" onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Vigil</h1>
        <p class="muted">Sign in to the console</p>
        {notice && <p class="notice" role="status">{notice}</p>}
        <label>
          Username
          <input name="username" autoComplete="username" required value={username}
            onInput={(e) => setUsername((e.target as HTMLInputElement).value)} autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        {error && <p class="error" role="alert" data-testid="login-error">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
