// SPDX-License-Identifier: Apache-2.0
/**
 * The experiment library: stored experiment files, each opened in an editor; operators upload a
 * file or edit one, and the hub's validation errors are listed line by line (as `faultd validate`
 * prints them).
 */
import { useEffect, useState } from 'preact/hooks';

import { api, can, type ExperimentSummary, type Operator } from './api.js';
import { dateTime } from './format.js';
import { href, navigate } from './router.js';
import { ConfirmDialog, ErrorBox } from './widgets.js';

export function Experiments({ operator }: { operator: Operator }) {
  const [list, setList] = useState<ExperimentSummary[] | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    api.experiments().then((r) => setList(r.experiments)).catch((e: unknown) => setError(e));
  }, []);
  return (
    <section aria-labelledby="experiments-title">
      <h1 id="experiments-title">Experiment library</h1>
      <ErrorBox error={error} />
      {can(operator, 'operator') && <p><a class="button" href={href('experiments', '+new')}>New or upload</a></p>}
      {list?.length === 0 && <p>The library is empty.</p>}
      {list && list.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead><tr><th>Name</th><th>Faults</th><th>Updated</th><th>By</th>{can(operator, 'operator') && <th><span class="sr-only">Actions</span></th>}</tr></thead>
            <tbody>{list.map((x) => (
              <tr key={x.name}>
                <td data-label="Name"><a href={href('experiments', x.name)}>{x.name}</a></td>
                <td data-label="Faults">{x.faults}</td><td data-label="Updated">{dateTime(x.updatedAt)}</td><td data-label="By">{x.updatedBy}</td>
                {can(operator, 'operator') && <td><a class="button" href={`#/queue?library=${encodeURIComponent(x.name)}`}>Queue a run</a></td>}
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function ExperimentEditor({ name, operator }: { name: string; operator: Operator }) {
  const creating = name === '+new';
  const [draftName, setDraftName] = useState(creating ? '' : name);
  const [text, setText] = useState('');
  const [loaded, setLoaded] = useState(creating);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState('');
  const [deleting, setDeleting] = useState(false);
  const editable = can(operator, 'operator');
  useEffect(() => {
    if (creating) return;
    api.experiment(name).then((x) => { setText(x.text); setLoaded(true); }).catch((e: unknown) => setError(e));
  }, [name]);
  const upload = async (input: HTMLInputElement): Promise<void> => {
    const file = input.files?.[0];
    if (!file) return;
    setText(await file.text());
    if (!draftName) setDraftName(file.name.replace(/\.(ya?ml|json)$/i, '').replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 63));
  };
  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setNotice('');
    if (!NAME.test(draftName)) {
      setError(new Error('The name must be 1–63 of A-Z, a-z, 0-9, ".", "_", "-", starting with a letter or digit.'));
      return;
    }
    try {
      await api.saveExperiment(draftName, text);
      setNotice(`Saved ${draftName}.`);
      if (creating) navigate(href('experiments', draftName));
    } catch (e) {
      setError(e);
    }
  };
  const remove = async (yes: boolean): Promise<void> => {
    setDeleting(false);
    if (!yes) return;
    try {
      await api.deleteExperiment(name);
      navigate(href('experiments'));
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section aria-labelledby="editor-title">
      <h1 id="editor-title">{creating ? 'New experiment' : `Experiment ${name}`}</h1>
      <form class="editor" onSubmit={(e) => void save(e)}>
        <label for="experiment-name">Name</label>
        <input id="experiment-name" value={draftName} readOnly={!creating || !editable} required onInput={(e) => setDraftName(e.currentTarget.value)} />
        {editable && (
          <>
            <label for="experiment-file">Upload a file (YAML or JSON)</label>
            <input id="experiment-file" type="file" accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml" onChange={(e) => void upload(e.currentTarget)} />
          </>
        )}
        <label for="experiment-text">Experiment</label>
        <textarea id="experiment-text" rows={22} spellcheck={false} readOnly={!editable || !loaded} value={text} onInput={(e) => setText(e.currentTarget.value)} />
        <ErrorBox error={error} />
        <p class="notice" aria-live="polite">{notice}</p>
        {editable && (
          <div class="actions">
            <button type="submit">Validate and save</button>
            {!creating && <a class="button" href={`#/queue?library=${encodeURIComponent(name)}`}>Queue a run</a>}
            {!creating && <button type="button" class="danger" onClick={() => setDeleting(true)}>Delete</button>}
          </div>
        )}
      </form>
      <ConfirmDialog open={deleting} title={`Delete ${name}?`} confirmLabel="Delete" onAnswer={(yes) => void remove(yes)}>
        <p>The experiment is removed from the library; runs made with it keep their copy.</p>
      </ConfirmDialog>
    </section>
  );
}
