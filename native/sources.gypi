# SPDX-License-Identifier: Apache-2.0
# The single list of core and injector sources, shared by every gyp target.
{
  'variables': {
    'faultd_core_sources': [
      'native/core/clock.cc',
      'native/core/dns/message.cc',
      'native/core/dns/tcp_stream.cc',
      'native/core/duty_cycle.cc',
      'native/core/http/h1_chunked.cc',
      'native/core/http/h1_head.cc',
      'native/core/file_lock.cc',
      'native/core/file_space.cc',
      'native/core/netlink/attr.cc',
      'native/core/netlink/conntrack.cc',
      'native/core/netlink/link.cc',
      'native/core/netlink/qdisc.cc',
      'native/core/netlink/socket.cc',
      'native/core/parent_death.cc',
      'native/core/psched.cc',
      'native/core/rate_pacer.cc',
      'native/core/proc_stat.cc',
      'native/core/process_kill.cc',
      'native/core/rlimit.cc',
      'native/core/sd_bus.cc',
      'native/core/sd_notify.cc',
      'native/core/sys_result.cc',
      'native/core/worker_threads.cc',
    ],
    'faultd_injector_sources': [
      'native/injectors/cpu_stress.cc',
      'native/injectors/delay_sampler.cc',
      'native/injectors/dns_interceptor.cc',
      'native/injectors/dns_policy.cc',
      'native/injectors/http_policy.cc',
      'native/injectors/io_stress.cc',
      'native/injectors/memory_stress.cc',
      'native/injectors/nfqueue_delayer.cc',
      'native/injectors/nft_rules.cc',
      'native/injectors/systemd_unit.cc',
      'native/injectors/tc_dump.cc',
      'native/injectors/tc_netem.cc',
      'native/injectors/tc_steer.cc',
      'native/injectors/tc_tbf.cc',
    ],
    # TLS termination and the HTTP/2 bridge of the HTTP interceptor: they link OpenSSL and
    # libnghttp2, so only the stressor and the googletests take them (the addon runs inside Node,
    # which carries its own OpenSSL).
    # The HTTP interceptor itself is here too: it drives them.
    'faultd_tls_h2_sources': [
      'native/core/http/h2_bridge.cc',
      'native/core/http/h2_transport.cc',
      'native/core/tls/tls_context.cc',
      'native/core/tls/tls_stream.cc',
      'native/injectors/http_interceptor.cc',
      'native/injectors/http_loop.cc',
      'native/injectors/http_relay.cc',
      'native/injectors/http_h1_exchange.cc',
      'native/injectors/http_h2_conn.cc',
      'native/injectors/http_tls.cc',
    ],
    # Linked statically: faultd-stressor runs every fault (CPU, memory, DNS…), so it must start on
    # a host without OpenSSL 3 or libnghttp2 (CentOS 7 has OpenSSL 1.0; a minimal Debian has no
    # libnghttp2), and the HTTP interceptor must not depend on the host's versions of them.
    'faultd_tls_h2_libraries': ['-Wl,-Bstatic', '-lnghttp2', '-lssl', '-lcrypto', '-Wl,-Bdynamic'],
    # The stressor's command line, lifecycle and modes: everything but its main().
    'faultd_stressor_sources': [
      'native/stressor/command_line.cc',
      'native/stressor/events.cc',
      'native/stressor/lifecycle.cc',
      'native/stressor/mode_cpu.cc',
      'native/stressor/mode_delay.cc',
      'native/stressor/mode_dns.cc',
      'native/stressor/mode_http.cc',
      'native/stressor/mode_io.cc',
      'native/stressor/mode_memory.cc',
      'native/stressor/mode_pids.cc',
      'native/stressor/mode_probe.cc',
      'native/stressor/modes.cc',
      'native/stressor/options.cc',
    ],
  },
}
