// SPDX-License-Identifier: Apache-2.0
/** Infrastructures: connected or not, agent version and host, capabilities, last seen, current run; admins create one, rotate its key or release it from its machine. */
import { useEffect, useState } from 'preact/hooks';

import { api, can, type Infra, type Operator } from './api.js';
import { ago, dateTime } from './format.js';
import { href } from './router.js';
import { ConfirmDialog, ErrorBox } from './widgets.js';

const REFRESH_MS = 5000;

export function Infras({ operator }: { operator: Operator }) {
  const [infras, setInfras] = useState<Infra[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [rotating, setRotating] = useState<Infra | undefined>(undefined);
  const [releasing, setReleasing] = useState<Infra | undefined>(undefined);
  const [notice, setNotice] = useState('');
  const [newName, setNewName] = useState('');
  const [created, setCreated] = useState<{ id: string; name: string; accessKey: string } | undefined>(undefined);
  const [reload, setReload] = useState(0);
  useEffect(() => {
    let live = true;
    const load = (): void => {
      api.infras().then((r) => {
        if (live) { setInfras(r.infras); setError(undefined); }
      }).catch((e: unknown) => { if (live) setError(e); });
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { live = false; clearInterval(timer); };
  }, [reload]);
  const create = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    try {
      setCreated(await api.createInfra(newName));
      setNewName('');
      setReload((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  const release = async (yes: boolean): Promise<void> => {
    const infra = releasing;
    setReleasing(undefined);
    if (!yes || !infra) return;
    try {
      const answer = await api.releaseInfra(infra.id);
      setNotice(answer.released ? `${infra.name} released from ${answer.released.hostname}: the next agent to use its key takes it over.` : `${infra.name} was not bound to a machine; nothing to release.`);
      setReload((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };
  const rotate = async (yes: boolean): Promise<void> => {
    const infra = rotating;
    setRotating(undefined);
    if (!yes || !infra) return;
    try {
      await api.rotateKey(infra.id);
      setNotice(`Key rotation of ${infra.name} requested: its agent receives the new key with its next token.`);
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="infras-title">
      <h1 id="infras-title">Infrastructures</h1>
      <ErrorBox error={error} />
      <p class="notice" aria-live="polite">{notice}</p>
      {infras?.length === 0 && <p>No infrastructure yet.</p>}
      {infras && infras.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>State</th><th>Agent</th><th>Capabilities</th><th>Last seen</th><th>Current run</th>{can(operator, 'admin') && <th><span class="sr-only">Actions</span></th>}</tr></thead>
            <tbody>
              {infras.map((i) => (
                <tr key={i.id}>
                  <td data-label="Name"><strong>{i.name}</strong><br /><small>{i.id}</small></td>
                  <td data-label="State"><span class={`badge ${i.connected ? 'badge-connected' : 'badge-disconnected'}`}>{i.connected ? 'connected' : 'disconnected'}</span></td>
                  <td data-label="Agent">{i.agentVersion ? `${i.agentVersion} on ${i.hostname ?? '?'}` : 'no agent yet'}</td>
                  <td data-label="Capabilities" class="capabilities">{i.capabilities.length ? i.capabilities.join(', ') : '—'}</td>
                  <td data-label="Last seen" title={dateTime(i.lastSeen)}>{ago(i.lastSeen)}</td>
                  <td data-label="Current run">{i.currentRunId ? <a href={href('runs', i.currentRunId)}>{i.currentRunId}</a> : '—'}</td>
                  {can(operator, 'admin') && (
                    <td><div class="row-actions">
                      <button type="button" aria-label={`Rotate the key of ${i.name}`} onClick={() => setRotating(i)}>Rotate key</button>
                      <button type="button" aria-label={`Release ${i.name} from its machine`} onClick={() => setReleasing(i)}>Release</button>
                    </div></td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {can(operator, 'admin') && (
        <>
          <h2>New infrastructure</h2>
          <form class="inline-form" onSubmit={(e) => void create(e)}>
            <label for="infra-name">Name</label>
            <input id="infra-name" required value={newName} onInput={(e) => setNewName(e.currentTarget.value)} />
            <button type="submit">Create</button>
          </form>
          {created && (
            <div class="created" role="status">
              <p>Infrastructure <strong>{created.name}</strong> created. Its access key is shown this once and stored only hashed: put it in a file of mode 0600 on the agent (config <code>accessKeyFile</code>).</p>
              <dl><dt>infra id</dt><dd><code data-testid="new-infra-id">{created.id}</code></dd><dt>access key</dt><dd><code data-testid="new-access-key">{created.accessKey}</code></dd></dl>
            </div>
          )}
        </>
      )}
      <ConfirmDialog open={releasing !== undefined} title="Release from its machine?" confirmLabel="Release" onAnswer={(yes) => void release(yes)}>
        <p><strong>{releasing?.name}</strong> is unbound from the machine its agent runs on; the next agent to use its key (a re-installed host) takes it over.</p>
      </ConfirmDialog>
      <ConfirmDialog open={rotating !== undefined} title="Rotate the access key?" confirmLabel="Rotate key" onAnswer={(yes) => void rotate(yes)}>
        <p>The agent of <strong>{rotating?.name}</strong> receives a new key with its next token and confirms it; the old key works until then.</p>
      </ConfirmDialog>
    </section>
  );
}
