// SPDX-License-Identifier: Apache-2.0
/** The operator's own account: change one's password (the current one is asked for). */
import { useState } from 'preact/hooks';

import { api, type Operator, type Session } from './api.js';
import { ErrorBox } from './widgets.js';

export function Account({ operator, onSession }: { operator: Operator; onSession: (session: Session) => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const change = async (event: Event): Promise<void> => {
    event.preventDefault();
    setNotice('');
    if (next !== again) {
      setError('The two new passwords differ.');
      return;
    }
    setError(undefined);
    try {
      // The hub ends every session of the operator and answers with a new one for this tab.
      onSession(await api.changeOwnPassword(current, next));
      setCurrent('');
      setNext('');
      setAgain('');
      setNotice('Password changed. Your other sessions have ended.');
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">Your account</h1>
      <p>{operator.name}, role {operator.role}.</p>
      <ErrorBox error={error} />
      <p class="notice" aria-live="polite">{notice}</p>
      <h2>Change your password</h2>
      <form class="editor" id="own-password" onSubmit={(e) => void change(e)}>
        <label for="current-password">Current password</label>
        <input id="current-password" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
        <label for="new-password">New password (at least 12 characters)</label>
        <input id="new-password" type="password" autocomplete="new-password" required minLength={12} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
        <label for="new-password-again">New password, again</label>
        <input id="new-password-again" type="password" autocomplete="new-password" required minLength={12} value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
        <div class="actions"><button type="submit">Change password</button></div>
      </form>
    </section>
  );
}
