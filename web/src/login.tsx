// SPDX-License-Identifier: Apache-2.0
/** The login page: name and password, POST /api/v1/login. */
import { useState } from 'preact/hooks';

import { api, type Session } from './api.js';
import { ErrorBox } from './widgets.js';

export function Login({ onLogin }: { onLogin: (session: Session) => void }) {
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onLogin(await api.login(name, password));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>faultd hub</h1>
      <form onSubmit={(e) => void submit(e)} aria-label="log in">
        <label for="login-name">Name</label>
        <input id="login-name" name="name" autocomplete="username" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="login-password">Password</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <button type="submit" disabled={busy}>Log in</button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}
