// SPDX-License-Identifier: Apache-2.0
/** Runs, newest first, filtered by infrastructure, state and verdict (kept in the URL). */
import { useEffect, useState } from 'preact/hooks';

import { api, RUN_STATES, VERDICTS, type Infra, type RunSummary } from './api.js';
import { dateTime, score } from './format.js';
import { href, navigate, type Route } from './router.js';
import { Badge, ErrorBox } from './widgets.js';

const REFRESH_MS = 3000;

export function Runs({ route }: { route: Route }) {
  const [runs, setRuns] = useState<RunSummary[] | undefined>(undefined);
  const [infras, setInfras] = useState<Infra[]>([]);
  const [error, setError] = useState<unknown>(undefined);
  const filter = { infra: route.query.get('infra') ?? '', state: route.query.get('state') ?? '', verdict: route.query.get('verdict') ?? '' };
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== ''));
  const queryText = query.toString();
  useEffect(() => {
    api.infras().then((r) => setInfras(r.infras)).catch(() => undefined);
  }, []);
  useEffect(() => {
    let live = true;
    const load = (): void => {
      api.runs(new URLSearchParams(queryText)).then((r) => {
        if (live) { setRuns(r.runs); setError(undefined); }
      }).catch((e: unknown) => { if (live) setError(e); });
    };
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => { live = false; clearInterval(timer); };
  }, [queryText]);
  const setFilter = (key: keyof typeof filter, value: string): void => {
    const next = new URLSearchParams(queryText);
    if (value) next.set(key, value);
    else next.delete(key);
    navigate(`#/runs${next.size ? `?${next.toString()}` : ''}`);
  };
  return (
    <section aria-labelledby="runs-title">
      <h1 id="runs-title">Runs</h1>
      <form class="filters" aria-label="filter runs" onSubmit={(e) => e.preventDefault()}>
        <label>Infrastructure
          <select name="infra" value={filter.infra} onChange={(e) => setFilter('infra', e.currentTarget.value)}>
            <option value="">all</option>
            {infras.map((i) => <option key={i.id} value={i.name}>{i.name}</option>)}
          </select>
        </label>
        <label>State
          <select name="state" value={filter.state} onChange={(e) => setFilter('state', e.currentTarget.value)}>
            <option value="">all</option>
            {RUN_STATES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label>Verdict
          <select name="verdict" value={filter.verdict} onChange={(e) => setFilter('verdict', e.currentTarget.value)}>
            <option value="">all</option>
            {VERDICTS.map((v) => <option key={v} value={v}>{v}</option>)}
          </select>
        </label>
      </form>
      <ErrorBox error={error} />
      {runs?.length === 0 && <p>No run matches.</p>}
      {runs && runs.length > 0 && (
        <div class="table-wrap">
          <table class="runs">
            <thead><tr><th>Run</th><th>Experiment</th><th>Infrastructure</th><th>State</th><th>Verdict</th><th>Score</th><th>Queued</th><th>Finished</th></tr></thead>
            <tbody>
              {runs.map((r) => (
                <tr key={r.id}>
                  <td data-label="Run"><a href={href('runs', r.id)}>{r.id}</a></td>
                  <td data-label="Experiment">{r.experimentName}</td>
                  <td data-label="Infrastructure">{r.infraName}</td>
                  <td data-label="State"><Badge value={r.state} /></td>
                  <td data-label="Verdict"><Badge value={r.verdict} /></td>
                  <td data-label="Score">{score(r.resilienceScore)}</td>
                  <td data-label="Queued">{dateTime(r.queuedAt)}</td>
                  <td data-label="Finished">{dateTime(r.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
