// SPDX-License-Identifier: Apache-2.0
/** Admin view: operator API tokens (fdo_…) for the CLI with --hub-url and automation: list, create (shown once), revoke. */
import { useEffect, useState } from 'preact/hooks';

import { api, type CreatedToken, type TokenView, type UserView } from './api.js';
import { dateTime } from './format.js';
import { ConfirmDialog, ErrorBox } from './widgets.js';

const DAY_MS = 86_400_000;
const LIFETIMES: readonly { label: string; ms: number | null }[] = [
  { label: '1 day', ms: DAY_MS },
  { label: '30 days', ms: 30 * DAY_MS },
  { label: '90 days', ms: 90 * DAY_MS },
  { label: '1 year', ms: 365 * DAY_MS },
  { label: 'no expiry', ms: null },
];

export function Tokens() {
  const [tokens, setTokens] = useState<TokenView[] | undefined>(undefined);
  const [users, setUsers] = useState<UserView[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const [user, setUser] = useState('');
  const [lifetime, setLifetime] = useState(2);
  const [created, setCreated] = useState<CreatedToken | undefined>(undefined);
  const [revoking, setRevoking] = useState<string | undefined>(undefined);
  const load = (): void => {
    api.tokens().then((r) => setTokens(r.tokens)).catch((e: unknown) => setError(e));
  };
  useEffect(() => {
    load();
    api.users().then((r) => {
      setUsers(r.users);
      setUser((current) => current || (r.users[0]?.name ?? ''));
    }).catch((e: unknown) => setError(e));
  }, []);
  const create = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      setCreated(await api.createToken(user, LIFETIMES[lifetime]?.ms ?? null));
      setNotice('');
      load();
    } catch (e) {
      setError(e);
    }
  };
  const revoke = async (yes: boolean): Promise<void> => {
    const id = revoking;
    setRevoking(undefined);
    if (!yes || !id) return;
    try {
      await api.revokeToken(id);
      setNotice(`API token ${id} revoked.`);
      if (created?.id === id) setCreated(undefined);
      load();
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <p>Tokens act as their operator, with the operator's current role, for <code>faultd hub --hub-url … --token-file …</code> and automation (<code>Authorization: Bearer fdo_…</code>).</p>
      <ErrorBox error={error} />
      <p class="notice" aria-live="polite">{notice}</p>
      {tokens?.length === 0 && <p>No API token.</p>}
      {tokens && tokens.length > 0 && (
        <div class="table-wrap">
          <table class="tokens">
            <thead><tr><th>Id</th><th>Operator</th><th>Created</th><th>Expires</th><th>Last used</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{tokens.map((tk) => (
              <tr key={tk.id} data-token={tk.id}>
                <td data-label="Id"><code>{tk.id}</code></td><td data-label="Operator">{tk.user}</td>
                <td data-label="Created">{dateTime(tk.createdAt)}</td><td data-label="Expires">{tk.expiresAt === undefined ? 'never' : dateTime(tk.expiresAt)}</td>
                <td data-label="Last used">{dateTime(tk.lastUsed)}</td>
                <td><button type="button" aria-label={`Revoke ${tk.id}`} onClick={() => setRevoking(tk.id)}>Revoke</button></td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2>New token</h2>
      <form class="inline-form" id="new-token" onSubmit={(e) => void create(e)}>
        <label for="token-user">Operator</label>
        <select id="token-user" required value={user} onChange={(e) => setUser(e.currentTarget.value)}>
          {users.map((u) => <option key={u.name} value={u.name}>{u.name} ({u.role})</option>)}
        </select>
        <label for="token-lifetime">Lifetime</label>
        <select id="token-lifetime" value={String(lifetime)} onChange={(e) => setLifetime(Number(e.currentTarget.value))}>
          {LIFETIMES.map((l, i) => <option key={l.label} value={String(i)}>{l.label}</option>)}
        </select>
        <button type="submit">Create token</button>
      </form>
      {created && (
        <div class="created" role="status">
          <p>API token <code>{created.id}</code> for <strong>{created.user}</strong>{created.expiresAt === undefined ? ', no expiry' : `, expires ${dateTime(created.expiresAt)}`}. It is shown this once and stored only hashed: put it in a file of mode 0600.</p>
          <p><code data-testid="new-token">{created.token}</code></p>
        </div>
      )}
      <ConfirmDialog open={revoking !== undefined} title={`Revoke ${revoking ?? ''}?`} confirmLabel="Revoke" onAnswer={(yes) => void revoke(yes)}>
        <p>Calls with this token are refused at once.</p>
      </ConfirmDialog>
    </section>
  );
}
