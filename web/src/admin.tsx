// SPDX-License-Identifier: Apache-2.0
/** Admin views: the audit log (who changed what, when, from where) and operator accounts. */
import { useEffect, useState } from 'preact/hooks';

import { api, type AuditEntry, type Operator, type Role, type UserView } from './api.js';
import { dateTime } from './format.js';
import { ConfirmDialog, ErrorBox } from './widgets.js';

const PAGE = 100;

export function Audit() {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>(undefined);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const load = (before?: number): void => {
    api.audit(before).then((r) => {
      setEntries((known) => (before === undefined ? r.entries : [...(known ?? []), ...r.entries]));
      setMore(r.entries.length === PAGE);
    }).catch((e: unknown) => setError(e));
  };
  useEffect(() => load(), []);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <ErrorBox error={error} />
      {entries?.length === 0 && <p>Nothing recorded yet.</p>}
      {entries && entries.length > 0 && (
        <div class="table-wrap">
          <table class="audit">
            <thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>From</th><th>Detail</th></tr></thead>
            <tbody>{entries.map((e) => (
              <tr key={e.id}>
                <td data-label="When">{dateTime(e.at)}</td><td data-label="Who">{e.actor} <small>({e.role})</small></td>
                <td data-label="Action">{e.action}</td><td data-label="Target">{e.target ?? '—'}</td>
                <td data-label="From">{e.remote}</td><td data-label="Detail">{e.detail ?? ''}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      {more && <p><button type="button" onClick={() => load(entries?.at(-1)?.id)}>Older entries</button></p>}
    </section>
  );
}

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function Users({ operator }: { operator: Operator }) {
  const [users, setUsers] = useState<UserView[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const [removing, setRemoving] = useState<string | undefined>(undefined);
  const [resetting, setResetting] = useState<string | undefined>(undefined);
  const [disabling, setDisabling] = useState<string | undefined>(undefined);
  const [newPassword, setNewPassword] = useState('');
  const load = (): void => {
    api.users().then((r) => setUsers(r.users)).catch((e: unknown) => setError(e));
  };
  useEffect(load, []);
  const attempt = async (action: () => Promise<unknown>, done: string): Promise<void> => {
    setError(undefined);
    try {
      await action();
      setNotice(done);
      load();
    } catch (e) {
      setError(e);
    }
  };
  const add = async (event: Event): Promise<void> => {
    event.preventDefault();
    await attempt(() => api.addUser(name, role, password), `Operator ${name} created with role ${role}.`);
    setName('');
    setPassword('');
  };
  const remove = async (yes: boolean): Promise<void> => {
    const target = removing;
    setRemoving(undefined);
    if (yes && target) await attempt(() => api.removeUser(target), `Operator ${target} removed, with their sessions and API tokens.`);
  };
  const disable = async (yes: boolean): Promise<void> => {
    const target = disabling;
    setDisabling(undefined);
    if (yes && target) await attempt(() => api.setDisabled(target, true), `Operator ${target} disabled: no login, their sessions have ended and their API tokens are refused.`);
  };
  const reset = async (yes: boolean): Promise<void> => {
    const target = resetting;
    const chosen = newPassword;
    setResetting(undefined);
    setNewPassword('');
    if (yes && target) await attempt(() => api.setPassword(target, chosen), `Password of ${target} changed; their console sessions have ended.`);
  };
  return (
    <section aria-labelledby="users-title">
      <h1 id="users-title">Operators</h1>
      <ErrorBox error={error} />
      <p class="notice" aria-live="polite">{notice}</p>
      {users && (
        <div class="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>Role</th><th>Created</th><th>Last login</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>{users.map((u) => (
              <tr key={u.name} data-user={u.name}>
                <td data-label="Name">{u.name}</td>
                <td data-label="Role">
                  {u.name === operator.name ? u.role : (
                    <>
                      <label class="sr-only" for={`role-${u.name}`}>Role of {u.name}</label>
                      <select id={`role-${u.name}`} value={u.role} onChange={(e) => {
                        const next = e.currentTarget.value as Role;
                        void attempt(() => api.setRole(u.name, next), `${u.name} now has role ${next} (their sessions and tokens too).`);
                      }}>
                        {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                      </select>
                    </>
                  )}
                </td>
                <td data-label="Created">{dateTime(u.createdAt)}</td>
                <td data-label="Last login">{dateTime(u.lastLogin)}{u.disabledAt !== undefined && <> <span class="badge badge-disabled">disabled</span></>}</td>
                <td>{u.name !== operator.name && (
                  <div class="row-actions">
                    {u.disabledAt === undefined
                      ? <button type="button" aria-label={`Disable ${u.name}`} onClick={() => setDisabling(u.name)}>Disable</button>
                      : <button type="button" aria-label={`Enable ${u.name}`} onClick={() => void attempt(() => api.setDisabled(u.name, false), `Operator ${u.name} enabled: they log in again and their API tokens work again.`)}>Enable</button>}
                    <button type="button" aria-label={`Reset the password of ${u.name}`} onClick={() => setResetting(u.name)}>Reset password</button>
                    <button type="button" aria-label={`Remove ${u.name}`} onClick={() => setRemoving(u.name)}>Remove</button>
                  </div>
                )}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
      <h2>Add an operator</h2>
      <form class="editor inline-form" id="add-user" onSubmit={(e) => void add(e)}>
        <label for="user-name">Name</label>
        <input id="user-name" required autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <label for="user-role">Role</label>
        <select id="user-role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
        </select>
        <label for="user-password">Password (at least 12 characters)</label>
        <input id="user-password" type="password" autocomplete="new-password" required minLength={12} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <div class="actions"><button type="submit">Add operator</button></div>
      </form>
      <ConfirmDialog open={removing !== undefined} title={`Remove ${removing ?? ''}?`} confirmLabel="Remove" onAnswer={(yes) => void remove(yes)}>
        <p>Their sessions and API tokens end at once.</p>
      </ConfirmDialog>
      <ConfirmDialog open={disabling !== undefined} title={`Disable ${disabling ?? ''}?`} confirmLabel="Disable" onAnswer={(yes) => void disable(yes)}>
        <p>They cannot log in, their sessions end at once and their API tokens are refused, until enabled again.</p>
      </ConfirmDialog>
      <ConfirmDialog open={resetting !== undefined} title={`New password for ${resetting ?? ''}`} confirmLabel="Set password" onAnswer={(yes) => void reset(yes)}>
        <label for="reset-password">New password (at least 12 characters)</label>
        <input id="reset-password" type="password" autocomplete="new-password" minLength={12} value={newPassword} onInput={(e) => setNewPassword(e.currentTarget.value)} />
        <p>Their console sessions end; their API tokens keep working.</p>
      </ConfirmDialog>
    </section>
  );
}
