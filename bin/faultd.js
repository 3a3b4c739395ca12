#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Entry point installed as `faultd`; the compiled CLI lives in dist/ (entry.ts picks the agent or the CLI).
import '../dist/src/entry.js';
