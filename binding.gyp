# SPDX-License-Identifier: Apache-2.0
# Targets: the N-API addon, the stressor executable that carries stress load, and the
# googletest executable for the core (built only where libgtest-dev is installed).
{
  'includes': ['native/sources.gypi', 'native/compat/compat.gypi'],
  'variables': {
    'have_gtest': '<!(test -f /usr/include/gtest/gtest.h && echo 1 || echo 0)',
  },
  'target_defaults': {
    'cflags!': ['-fno-exceptions'],
    'cflags_cc!': ['-std=gnu++17', '-fno-exceptions'],
    'cflags_cc': ['-std=gnu++20'],
    'cflags': [
      '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter',
      '-fvisibility=hidden', '-fstack-protector-strong', '-D_GNU_SOURCE',
    ],
    # -ldl: dlopen of libsystemd.so.0 (core/sd_bus.cc) on glibc before 2.34.
    'ldflags': ['-pthread'],
    'libraries': ['-ldl'],
    'conditions': [
      ['faultd_portable==1', {
        'sources': ['native/compat/glibc_compat.c'],
        'ldflags': ['<@(faultd_compat_ldflags)'],
      }],
    ],
  },
  'targets': [
    {
      'target_name': 'faultd_native',
      'sources': [
        'native/binding/addon.cc',
        'native/binding/js_error.cc',
        'native/binding/process_binding.cc',
        'native/binding/host_binding.cc',
        'native/binding/clock_binding.cc',
        'native/binding/tc_binding.cc',
        'native/binding/nft_binding.cc',
        'native/binding/xtables_binding.cc',
        'native/binding/conntrack_binding.cc',
        'native/binding/systemd_binding.cc',
        'native/binding/match_args.cc',
        '<@(faultd_core_sources)',
        '<@(faultd_injector_sources)',
      ],
      'include_dirs': ["<!(node -p \"require('node-addon-api').include_dir\")"],
      'defines': ['NAPI_VERSION=9', 'NAPI_CPP_EXCEPTIONS', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      'cflags_cc': ['-fexceptions'],
    },
    {
      'target_name': 'faultd-stressor',
      'type': 'executable',
      'sources': [
        'native/stressor/stressor_main.cc',
        '<@(faultd_stressor_sources)',
        '<@(faultd_core_sources)',
        '<@(faultd_injector_sources)',
        '<@(faultd_tls_h2_sources)',
      ],
      'cflags_cc': ['-fno-exceptions'],
      'libraries': ['-pthread', '<@(faultd_tls_h2_libraries)'],
      'conditions': [
        ['faultd_portable==1', {
          'sources': ['native/compat/start_main.c'],
          'ldflags': ['-Wl,--wrap=__libc_start_main'],
        }],
      ],
    },
  ],
  'conditions': [
    ['have_gtest==1', {
      'targets': [{
        'target_name': 'faultd_native_tests',
        'type': 'executable',
        'sources': [
          'native/test/duty_cycle_test.cc',
          'native/test/rate_pacer_test.cc',
          'native/test/proc_stat_test.cc',
          'native/test/cpu_stress_test.cc',
          'native/test/netlink_test.cc',
          'native/test/delay_test.cc',
          'native/test/stressor_modes_test.cc',
          'native/test/sd_bus_test.cc',
          'native/test/clock_test.cc',
          'native/test/dns_message_test.cc',
          'native/test/nft_encoding_test.cc',
          'native/test/xtables_table_test.cc',
          'native/test/dns_policy_test.cc',
          'native/test/tls_test_certs.cc',
          'native/test/tls_stream_test.cc',
          'native/test/h2_bridge_test.cc',
          'native/test/http_policy_test.cc',
          'native/test/http_h1_test.cc',
          'native/test/conntrack_test.cc',
          'native/test/dns_tcp_stream_test.cc',
          '<@(faultd_stressor_sources)',
          '<@(faultd_core_sources)',
          '<@(faultd_injector_sources)',
          '<@(faultd_tls_h2_sources)',
        ],
        'cflags_cc': ['-fexceptions'],
        'libraries': ['-lgtest', '-lgtest_main', '-pthread', '<@(faultd_tls_h2_libraries)'],
        'conditions': [
          ['faultd_portable==1', {
            'sources': ['native/compat/start_main.c'],
            'ldflags': ['-Wl,--wrap=__libc_start_main'],
          }],
        ],
      }],
    }],
  ],
}
