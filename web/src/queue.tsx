// SPDX-License-Identifier: Apache-2.0
/** Queue a run: an infrastructure and an experiment from the library or pasted/uploaded. */
import { useEffect, useState } from 'preact/hooks';

import { api, type ExperimentSummary, type Infra } from './api.js';
import { href, navigate, type Route } from './router.js';
import { ErrorBox } from './widgets.js';

export function QueueRun({ route }: { route: Route }) {
  const [infras, setInfras] = useState<Infra[]>([]);
  const [library, setLibrary] = useState<ExperimentSummary[]>([]);
  const [infra, setInfra] = useState(route.query.get('infra') ?? '');
  const [source, setSource] = useState<'library' | 'text'>(route.query.get('library') ? 'library' : 'text');
  const [chosen, setChosen] = useState(route.query.get('library') ?? '');
  const [text, setText] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api.infras().then((r) => {
      setInfras(r.infras);
      setInfra((current) => current || r.infras[0]?.name || '');
    }).catch((e: unknown) => setError(e));
    api.experiments().then((r) => {
      setLibrary(r.experiments);
      setChosen((current) => current || r.experiments[0]?.name || '');
    }).catch(() => undefined);
  }, []);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const { id } = await api.queueRun(source === 'library' ? { infra, library: chosen } : { infra, experiment: text });
      navigate(href('runs', id));
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="queue-title">
      <h1 id="queue-title">Queue a run</h1>
      <form class="editor" onSubmit={(e) => void submit(e)}>
        <label for="queue-infra">Infrastructure</label>
        <select id="queue-infra" required value={infra} onChange={(e) => setInfra(e.currentTarget.value)}>
          {infras.map((i) => <option key={i.id} value={i.name}>{i.name} ({i.connected ? 'connected' : 'disconnected'})</option>)}
        </select>
        <fieldset>
          <legend>Experiment</legend>
          <label class="inline"><input type="radio" name="source" value="library" checked={source === 'library'} onChange={() => setSource('library')} /> From the library</label>
          <label class="inline"><input type="radio" name="source" value="text" checked={source === 'text'} onChange={() => setSource('text')} /> YAML or JSON text</label>
        </fieldset>
        {source === 'library' ? (
          <>
            <label for="queue-library">Library experiment</label>
            <select id="queue-library" required value={chosen} onChange={(e) => setChosen(e.currentTarget.value)}>
              {library.map((x) => <option key={x.name} value={x.name}>{x.name} ({x.faults} faults)</option>)}
            </select>
          </>
        ) : (
          <>
            <label for="queue-file">Upload a file</label>
            <input id="queue-file" type="file" accept=".yaml,.yml,.json" onChange={(e) => void e.currentTarget.files?.[0]?.text().then(setText)} />
            <label for="queue-text">Experiment text</label>
            <textarea id="queue-text" rows={18} spellcheck={false} required value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </>
        )}
        <ErrorBox error={error} />
        <div class="actions"><button type="submit" disabled={busy || !infra}>Queue run</button></div>
      </form>
    </section>
  );
}
