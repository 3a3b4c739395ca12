// SPDX-License-Identifier: Apache-2.0
/** Operator roles, each one including the rights of the ones before it. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** True when `role` has at least the rights of `needed`. */
export function hasRole(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** Operator names: what a login form and a shell argument take without quoting. */
export const OPERATOR_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
