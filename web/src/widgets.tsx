// SPDX-License-Identifier: Apache-2.0
/** Small shared pieces: error boxes (with validation lines), confirmation dialog, state badges. */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

import { ApiError } from './api.js';

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  let message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'unexpected error';
  let lines = error instanceof ApiError ? error.lines.map((l) => l.trim()).filter(Boolean) : [];
  // `faultd validate` prints a heading ("x is not a valid experiment:") and then one line per problem.
  if (lines.length > 0) {
    const [first = ''] = lines;
    message = first.endsWith(':') ? first.slice(0, -1) : message.split('\n')[0] ?? message;
    if (first.endsWith(':')) lines = lines.slice(1);
  }
  return (
    <div class="error" role="alert">
      <p>{message}</p>
      {lines.length > 0 && (
        <ol class="validation-lines" aria-label="validation errors">
          {lines.map((line, i) => <li key={i}><code>{line}</code></li>)}
        </ol>
      )}
    </div>
  );
}

/** A modal <dialog> asking to confirm `question`; `onAnswer(true)` on Confirm. */
export function ConfirmDialog({ open, title, children, confirmLabel, onAnswer }: { open: boolean; title: string; children: ComponentChildren; confirmLabel: string; onAnswer: (yes: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  // One id per dialog: a view may hold several.
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} aria-labelledby={titleId} onCancel={() => onAnswer(false)}>
      <h2 id={titleId}>{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <button type="button" onClick={() => onAnswer(false)}>Cancel</button>
        <button type="button" class="danger" onClick={() => onAnswer(true)}>{confirmLabel}</button>
      </div>
    </dialog>
  );
}

export function Badge({ value }: { value: string | undefined }) {
  if (!value) return <span class="badge">—</span>;
  return <span class={`badge badge-${value}`}>{value}</span>;
}
