// SPDX-License-Identifier: Apache-2.0
// ava settings of the VM suite (`npm run test:vm`, run inside the QEMU guest by test/vm/run.sh).
export default {
  files: ['test/vm/**/*.test.ts'],
  typescript: { rewritePaths: { 'test/': 'dist/test/' }, compile: false },
  workerThreads: false,
  timeout: '10m',
  concurrency: 1,
};
