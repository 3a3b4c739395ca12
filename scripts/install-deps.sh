#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what faultd needs to build and test on Debian/Ubuntu (run as root): a C++ toolchain
# and Node's headers for the addon, googletest for the C++ suite, and the tools the tests and
# the benchmark use as oracles and baselines (stress-ng, fio, iproute2, nftables, iptables, strace), mkfs for the loop-mounted test filesystems (e2fsprogs, btrfs-progs: a btrfs subvolume is one filesystem with another st_dev), a DNS server and client for the DNS faults' tests (dnsmasq-base: the binary without a system service; bind9-dnsutils: dig),
# OpenSSL and libnghttp2 headers for the HTTP interceptor's TLS termination and HTTP/2 bridge,
# and what the system suite boots faultd in (systemd-nspawn, debootstrap; systemd-analyze).
# Shared by .ci/run, Dockerfile.test and README's first command. Idempotent.
# With --vm it also installs what `npm run test:vm` needs: QEMU, Debian's kernel (it gets
# sch_netem as a module; installing it on a host changes nothing until that host boots it) and
# a static busybox for the guest's first stage.
set -euo pipefail

packages=(build-essential python3 libgtest-dev stress-ng fio iproute2 nftables iptables strace procps e2fsprogs btrfs-progs systemd systemd-container debootstrap dnsmasq-base bind9-dnsutils libssl-dev libnghttp2-dev)
if [ "${1:-}" = "--vm" ]; then
  packages+=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod)
fi
# Node headers: use the ones of the installed Node if present, else Debian's.
if ! ls /usr/include/node/node_api.h "$(dirname "$(dirname "$(command -v node)")")/include/node/node_api.h" >/dev/null 2>&1; then
  packages+=(libnode-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all build and test packages present"
fi
