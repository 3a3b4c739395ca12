// SPDX-License-Identifier: Apache-2.0
/**
 * One run: its state and verdict, the timeline plot, the live log (server-sent events from
 * /api/v1/runs/:id/events, followed until the run ends), the status history, each fault's
 * outcome and revert, the probes and the resilience score; operators abort it after a confirmation.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';

import { api, can, runEventsUrl, type LogEntry, type Operator, type RunDetail, type StatusEvent } from './api.js';
import { dateTime, msOf, revertText, score, timeOfDay } from './format.js';
import { href } from './router.js';
import { timelineOf } from './timeline-model.js';
import { TimelinePlot } from './timeline.js';
import { Badge, ConfirmDialog, ErrorBox } from './widgets.js';

const OPEN_STATES = ['queued', 'dispatched', 'running'];
/** Lines kept in the page; older ones are dropped from view (the API keeps them all). */
const MAX_LOG_LINES = 5000;

function statusKey(e: StatusEvent): string {
  return e.seq !== undefined ? `#${e.seq}` : `${String(e.at)}|${e.faultId ?? ''}|${e.phase}|${e.detail ?? ''}`;
}

export function Run({ id, operator }: { id: string; operator: Operator }) {
  const [detail, setDetail] = useState<RunDetail | undefined>(undefined);
  const [status, setStatus] = useState<StatusEvent[]>([]);
  const [logs, setLogs] = useState<LogEntry[]>([]);
  const [streaming, setStreaming] = useState<'connecting' | 'live' | 'ended' | 'reconnecting'>('connecting');
  const [error, setError] = useState<unknown>(undefined);
  const [confirming, setConfirming] = useState(false);
  const [notice, setNotice] = useState('');
  const [now, setNow] = useState(Date.now());
  const [follow, setFollow] = useState(true);
  const logRef = useRef<HTMLOListElement>(null);

  const reload = (): void => {
    api.run(id).then((d) => {
      setDetail(d);
      setStatus((known) => merge(known, d.status));
      setError(undefined);
    }).catch((e: unknown) => setError(e));
  };

  useEffect(() => {
    setDetail(undefined);
    setStatus([]);
    setLogs([]);
    reload();
    const source = new EventSource(runEventsUrl(id));
    source.onopen = () => setStreaming('live');
    source.onerror = () => setStreaming((s) => (s === 'ended' ? s : 'reconnecting'));
    source.addEventListener('log', (event) => {
      const entry = JSON.parse((event as MessageEvent<string>).data) as LogEntry;
      setLogs((lines) => (lines.some((l) => l.seq === entry.seq) ? lines : [...lines, entry].slice(-MAX_LOG_LINES)));
    });
    source.addEventListener('status', (event) => {
      const e = JSON.parse((event as MessageEvent<string>).data) as StatusEvent;
      setStatus((known) => merge(known, [e]));
    });
    source.addEventListener('state', (event) => {
      const s = JSON.parse((event as MessageEvent<string>).data) as { state: string; verdict?: string };
      setDetail((d) => (d ? { ...d, run: { ...d.run, state: s.state, ...(s.verdict === undefined ? {} : { verdict: s.verdict }) } } : d));
      if (!OPEN_STATES.includes(s.state)) reload();
    });
    source.addEventListener('end', () => {
      source.close();
      setStreaming('ended');
      reload();
    });
    return () => source.close();
  }, [id]);

  const open = detail ? OPEN_STATES.includes(detail.run.state) : false;
  useEffect(() => {
    if (!open) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [open]);

  useEffect(() => {
    const list = logRef.current;
    if (follow && list) list.scrollTop = list.scrollHeight;
  }, [logs, follow]);

  const faults = detail?.result?.faults ?? [];
  const timeline = useMemo(() => (detail ? timelineOf(detail.run, status, faults, now) : undefined), [detail, status, now]);

  const abort = async (yes: boolean): Promise<void> => {
    setConfirming(false);
    if (!yes) return;
    try {
      const { outcome } = await api.abortRun(id);
      setNotice(outcome === 'cancelled' ? 'The run was still queued: cancelled.' : outcome === 'requested' ? 'Abort requested: the agent reverts its faults and reports.' : 'The run had already ended.');
      reload();
    } catch (e) {
      setError(e);
    }
  };

  if (!detail) return <section><h1>Run {id}</h1><ErrorBox error={error} />{!error && <p>Loading…</p>}</section>;
  const { run, result } = detail;
  return (
    <section aria-labelledby="run-title" class="run">
      <header class="run-head">
        <h1 id="run-title">Run {run.id}</h1>
        <dl class="facts">
          <div><dt>Experiment</dt><dd>{run.experimentName}</dd></div>
          <div><dt>Infrastructure</dt><dd><a href={`#/runs?infra=${encodeURIComponent(run.infraName)}`}>{run.infraName}</a></dd></div>
          <div><dt>State</dt><dd data-testid="run-state"><Badge value={run.state} /></dd></div>
          <div><dt>Verdict</dt><dd data-testid="run-verdict"><Badge value={result?.verdict ?? run.verdict} /></dd></div>
          <div><dt>Resilience score</dt><dd data-testid="run-score">{score(result?.resilienceScore ?? run.resilienceScore)}</dd></div>
          <div><dt>Queued</dt><dd>{dateTime(run.queuedAt)}</dd></div>
          <div><dt>Finished</dt><dd>{dateTime(run.finishedAt)}</dd></div>
        </dl>
        {open && can(operator, 'operator') && <button type="button" class="danger" onClick={() => setConfirming(true)}>Abort run</button>}
      </header>
      <ErrorBox error={error} />
      <p class="notice" aria-live="polite">{notice}</p>
      {result?.reason && <p class="reason">Reason: {result.reason}</p>}
      {result?.stoppedBy && <p class="reason">Stopped by probe {result.stoppedBy.probe}: {result.stoppedBy.detail}</p>}

      <h2>Timeline</h2>
      {timeline && <TimelinePlot timeline={timeline} />}

      <h2 id="log-title">Live log <small class="stream-state" data-testid="stream-state">({streaming})</small></h2>
      <label class="inline"><input type="checkbox" checked={follow} onChange={(e) => setFollow(e.currentTarget.checked)} /> Follow the log</label>
      <ol class="log" ref={logRef} role="log" aria-live="polite" aria-labelledby="log-title" tabIndex={0}>
        {logs.map((l) => (
          <li key={l.seq} class={`level-${l.level}`}><time>{timeOfDay(msOf(l.at))}</time> <span class="level">{l.level.toUpperCase()}</span> {l.message}{l.fields ? <span class="fields"> {JSON.stringify(l.fields)}</span> : null}</li>
        ))}
      </ol>

      <h2>Faults</h2>
      {faults.length === 0 ? <p>No outcome yet.</p> : (
        <div class="table-wrap">
          <table>
            <thead><tr><th>Fault</th><th>Kind</th><th>Outcome</th><th>Revert</th><th>Probe success</th></tr></thead>
            <tbody>{faults.map((f) => (
              <tr key={f.faultId}>
                <td data-label="Fault">{f.faultId}</td><td data-label="Kind">{f.kind}</td>
                <td data-label="Outcome"><Badge value={f.status} />{f.error && <div class="error-text">{f.error}</div>}</td>
                <td data-label="Revert" class={revertText(f.revert)?.ok === false ? 'error-text' : ''}>{revertText(f.revert)?.text ?? '—'}</td>
                <td data-label="Probe success">{f.probeSuccessPercent === undefined ? '—' : `${score(f.probeSuccessPercent)} % (weight ${f.weight ?? 1})`}</td>
              </tr>
            ))}</tbody>
          </table>
        </div>
      )}

      {result?.probes && result.probes.length > 0 && (
        <>
          <h2>Probes</h2>
          <div class="table-wrap">
            <table class="probes">
              <thead><tr><th>Probe</th><th>Type</th><th>Scope</th><th>Passed</th><th>First failure</th></tr></thead>
              <tbody>{result.probes.map((p) => (
                <tr key={`${p.name}|${p.scope}`}>
                  <td data-label="Probe">{p.name}{p.stoppedExperiment ? ' (stopped the run)' : ''}</td><td data-label="Type">{p.type}, {p.mode}</td><td data-label="Scope">{p.scope}</td>
                  <td data-label="Passed">{p.passed}/{p.evaluations}</td><td data-label="First failure">{p.firstFailure ?? '—'}</td>
                </tr>
              ))}</tbody>
            </table>
          </div>
        </>
      )}

      <h2>Status history</h2>
      <div class="table-wrap">
        <table class="status">
          <thead><tr><th>Time</th><th>Fault</th><th>Phase</th><th>Detail</th></tr></thead>
          <tbody>{status.map((s) => (
            <tr key={statusKey(s)}><td data-label="Time">{timeOfDay(msOf(s.at))}</td><td data-label="Fault">{s.faultId ?? 'run'}</td><td data-label="Phase">{s.phase}</td><td data-label="Detail">{s.detail ?? ''}</td></tr>
          ))}</tbody>
        </table>
      </div>
      <p><a href={href('runs')}>All runs</a></p>
      <ConfirmDialog open={confirming} title={`Abort run ${run.id}?`} confirmLabel="Abort run" onAnswer={(yes) => void abort(yes)}>
        <p>The agent on <strong>{run.infraName}</strong> stops the experiment and reverts every fault it applied.</p>
      </ConfirmDialog>
    </section>
  );
}

/** `known` with the events of `more` it lacks, in order. */
function merge(known: readonly StatusEvent[], more: readonly StatusEvent[]): StatusEvent[] {
  const keys = new Set(known.map(statusKey));
  const added = more.filter((e) => !keys.has(statusKey(e)));
  if (added.length === 0) return known as StatusEvent[];
  return [...known, ...added].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0) || msOf(a.at) - msOf(b.at));
}
