// SPDX-License-Identifier: Apache-2.0
/**
 * What the agent's hub client needs of a schema: zod's `safeParse` shape. A zod schema is one;
 * so are the hand-written checks of agent-replies.ts, which keep zod out of the idle agent.
 */

export interface ValidationIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

export type Checked<T> = { readonly success: true; readonly data: T } | { readonly success: false; readonly error: { readonly issues: readonly ValidationIssue[] } };

export interface Validator<T> {
  safeParse(input: unknown): Checked<T>;
}
