// SPDX-License-Identifier: Apache-2.0
/** The protocol's constants, apart from its schemas so the idle agent can use them without zod. */

export const API_PREFIX = '/v1';

/** Access keys and tokens: opaque, prefixed so a leaked one is recognisable (and redactable). */
export const ACCESS_KEY_PREFIX = 'fdk_';
export const ACCESS_TOKEN_PREFIX = 'fdt_';
/** Both: the prefix, then at least this many characters, at most SECRET_MAX_LENGTH in all. */
export const SECRET_MIN_BODY = 16;
export const SECRET_MAX_LENGTH = 256;

/** GET /v1/tasks/next and /v1/runs/{id}/abort: the longest wait a caller may ask for. */
export const MAX_TASK_WAIT_SECONDS = 30;

/** A run id is also a file name and a URL segment on the agent. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
