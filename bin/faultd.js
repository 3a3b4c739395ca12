#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Entry point installed as `faultd`; the compiled CLI lives in dist/.
import '../dist/src/main.js';
