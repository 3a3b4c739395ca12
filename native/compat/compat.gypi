# SPDX-License-Identifier: Apache-2.0
# Portable (prebuild) builds: FAULTD_PORTABLE=1 in the environment of node-gyp, set by
# scripts/prebuild.mjs. The outputs need nothing newer than GLIBC_2.28 and no libstdc++/libgcc_s
# of the host (linked statically, their symbols kept inside: --exclude-libs). glibc_compat.c says how.
{
  'variables': {
    'faultd_portable%': '<!(echo ${FAULTD_PORTABLE:-0})',
    # The link flags live in ldflags.json, read also by scripts/prebuild.mjs for better-sqlite3:
    # libstdc++/libgcc static, one --wrap per symbol glibc_compat.c rebinds, and libpthread.so.0 and
    # libdl.so.2 linked by file name (where glibc before 2.34 has the pthread and dl functions).
    'faultd_compat_ldflags': ['<!@(node -p \"require(\'./native/compat/ldflags.json\').join(\' \')\")'],
  },
}
