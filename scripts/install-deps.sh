#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what faultd needs to build and test on Debian/Ubuntu (run as root): a C++ toolchain
# and Node's headers for the addon, googletest for the C++ suite, and the tools the tests and
# the benchmark use as oracles and baselines (stress-ng, fio, iproute2, nftables, iptables, strace), mkfs for the loop-mounted test filesystems (e2fsprogs, btrfs-progs: a btrfs subvolume is one filesystem with another st_dev), a DNS server and client for the DNS faults' tests (dnsmasq-base: the binary without a system service; bind9-dnsutils: dig; conntrack: the oracle that a kept UDP flow's entry exists),
# OpenSSL and libnghttp2 headers for the HTTP interceptor's TLS termination and HTTP/2 bridge,
# HTTP clients for the HTTP faults' tests (curl with HTTP/2, nghttp2-client: nghttp and h2load),
# a Prometheus server for the prometheus probes' tests (the tests run its binary on 127.0.0.1),
# a forward proxy for the agent's hub.proxy tests (tinyproxy: the tests run it on 127.0.0.1),
# PostgreSQL for the hub's PostgreSQL store and replica tests (they initdb a private cluster in a temp dir),
# headless Chromium for the web console's browser tests (chromium: driven by puppeteer-core, which downloads no browser),
# and what the system suite boots faultd in (systemd-nspawn, debootstrap; systemd-analyze).
# Shared by .ci/run, Dockerfile.test and README's first command. Idempotent.
# With --vm it also installs what `npm run test:vm` needs: QEMU, Debian's kernel (it gets
# sch_netem as a module; installing it on a host changes nothing until that host boots it) and
# a static busybox for the guest's first stage.
# With --package it also installs what `npm run package` needs besides dpkg-deb: rpmbuild (Debian
# package rpm, which also brings the rpm tool the package tests inspect and install the .rpm with).
# With --bench it also installs the HTTP benchmark's load generator and peers: wrk, haproxy and
# nginx-light. The bench runs their binaries with its own configuration; their packages would
# also START their system services (nginx on :80, haproxy; prometheus on :9090, tinyproxy on :8888 and postgresql on :5432 for the tests'
# packages) on a host with systemd, so while
# installing, /usr/sbin/policy-rc.d answers 101 (action forbidden) — an existing one that already
# does is used as it is, any other is put aside and restored afterwards — and the units of the
# packages this run installed are disabled (no start at the next boot either). A package that was
# already installed is left as it was, service included.
set -euo pipefail

vm=false
bench=false
package=false
for arg in "$@"; do
  case "$arg" in
    --vm) vm=true ;;
    --bench) bench=true ;;
    --package) package=true ;;
    *) echo "install-deps: unknown option $arg (--vm, --bench, --package)" >&2; exit 2 ;;
  esac
done

packages=(build-essential python3 libgtest-dev stress-ng fio iproute2 nftables iptables strace procps e2fsprogs btrfs-progs systemd systemd-container debootstrap dnsmasq-base bind9-dnsutils conntrack libssl-dev libnghttp2-dev curl nghttp2-client openssl prometheus tinyproxy postgresql chromium)
if $vm; then
  packages+=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod)
fi
# Packages that ship a system service; unit names are disabled when this run installs them.
declare -A service_units=([haproxy]=haproxy.service [nginx-light]=nginx.service [prometheus]=prometheus.service [tinyproxy]=tinyproxy.service [postgresql]=postgresql.service)
if $bench; then
  packages+=(wrk haproxy nginx-light)
fi
if $package; then
  packages+=(rpm binutils)
fi
# Node headers: use the ones of the installed Node if present, else Debian's.
if ! ls /usr/include/node/node_api.h "$(dirname "$(dirname "$(command -v node)")")/include/node/node_api.h" >/dev/null 2>&1; then
  packages+=(libnode-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all build and test packages present"
  exit 0
fi

# No service starts while installing (invoke-rc.d and deb-systemd-invoke ask policy-rc.d).
policy=/usr/sbin/policy-rc.d
saved="$policy.faultd-saved"
ours=false
restore_policy() {
  if $ours; then
    rm -f "$policy"
    if [ -e "$saved" ]; then mv "$saved" "$policy"; fi
  fi
}
trap restore_policy EXIT
forbids_starts() { [ -x "$policy" ] && { "$policy" nginx start >/dev/null 2>&1; [ $? -eq 101 ]; }; }
if ! forbids_starts; then
  if [ -e "$policy" ]; then mv "$policy" "$saved"; fi
  printf '#!/bin/sh\n# Written by faultd scripts/install-deps.sh while it installs; removed afterwards.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  ours=true
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

for p in "${missing[@]}"; do
  unit="${service_units[$p]:-}"
  if [ -n "$unit" ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --quiet "$unit" 2>/dev/null || true
    echo "install-deps: $unit disabled (the tests and the bench run $p's binary with their own configuration)"
  fi
done
