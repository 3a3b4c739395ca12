# SPDX-License-Identifier: Apache-2.0
# The single list of core and injector sources, shared by every gyp target.
{
  'variables': {
    'faultd_core_sources': [
      'native/core/clock.cc',
      'native/core/duty_cycle.cc',
      'native/core/file_lock.cc',
      'native/core/file_space.cc',
      'native/core/netlink/attr.cc',
      'native/core/netlink/link.cc',
      'native/core/netlink/qdisc.cc',
      'native/core/netlink/socket.cc',
      'native/core/parent_death.cc',
      'native/core/psched.cc',
      'native/core/proc_stat.cc',
      'native/core/process_kill.cc',
      'native/core/rlimit.cc',
      'native/core/sd_notify.cc',
      'native/core/sys_result.cc',
      'native/core/worker_threads.cc',
    ],
    'faultd_injector_sources': [
      'native/injectors/cpu_stress.cc',
      'native/injectors/delay_sampler.cc',
      'native/injectors/memory_stress.cc',
      'native/injectors/nfqueue_delayer.cc',
      'native/injectors/nft_rules.cc',
      'native/injectors/tc_dump.cc',
      'native/injectors/tc_netem.cc',
      'native/injectors/tc_steer.cc',
      'native/injectors/tc_tbf.cc',
    ],
    # The stressor's command line, lifecycle and modes: everything but its main().
    'faultd_stressor_sources': [
      'native/stressor/command_line.cc',
      'native/stressor/events.cc',
      'native/stressor/lifecycle.cc',
      'native/stressor/mode_cpu.cc',
      'native/stressor/mode_delay.cc',
      'native/stressor/mode_memory.cc',
      'native/stressor/mode_pids.cc',
      'native/stressor/mode_probe.cc',
      'native/stressor/modes.cc',
      'native/stressor/options.cc',
    ],
  },
}
