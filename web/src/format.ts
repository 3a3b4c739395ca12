// SPDX-License-Identifier: Apache-2.0
/** How the console writes times, durations and scores. */

/** Milliseconds since the epoch of a time the API gives as a number or an ISO date. */
export function msOf(at: number | string): number {
  return typeof at === 'number' ? at : Date.parse(at);
}

export function dateTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '—';
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function timeOfDay(ms: number): string {
  return dateTime(ms).slice(11);
}

export function ago(ms: number | undefined, now = Date.now()): string {
  if (ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function score(value: number | undefined): string {
  return value === undefined ? '—' : `${Math.round(value * 10) / 10}`;
}

/** A fault's revert as the agent reports it (`{"ok":true,"detail":"…"}`, or plain text) in words. */
export function revertText(revert: string | undefined): { ok: boolean; text: string } | undefined {
  if (revert === undefined) return undefined;
  try {
    const parsed = JSON.parse(revert) as { ok?: unknown; detail?: unknown };
    if (typeof parsed.ok === 'boolean') return { ok: parsed.ok, text: `${parsed.ok ? 'reverted' : 'REVERT FAILED'}${typeof parsed.detail === 'string' && parsed.detail ? `: ${parsed.detail}` : ''}` };
  } catch {
    // Plain text.
  }
  return { ok: !/fail/i.test(revert), text: revert };
}
