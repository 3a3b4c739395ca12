#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `npm run test:vm`: the network faults against a kernel that has sch_netem, and the cgroup v2
# io limits (io.max, through a partition) on a kernel that has both. Boots Debian's own
# kernel (linux-image-amd64) in a QEMU TCG VM whose root is this machine's root filesystem,
# shared read-only over virtio-9p under a tmpfs overlay (nothing the guest writes reaches the
# host), loads sch_netem there and runs test/vm/*.test.ts with ava inside the VM.
# Needs: root, qemu-system-x86, linux-image-amd64, busybox-static (scripts/install-deps.sh --vm).
# Takes several minutes (TCG emulates every instruction). Exit code: the guest's ava's.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
kver=${FAULTD_VM_KERNEL:-$(ls /lib/modules | grep -E '^[0-9.]+-[0-9]+-amd64$' | sort -V | tail -1 || true)}
if [[ -z "$kver" || ! -f /boot/vmlinuz-$kver ]]; then
  echo "test:vm: no Debian kernel found (apt-get install linux-image-amd64, or bash scripts/install-deps.sh --vm)" >&2
  exit 2
fi
for tool in qemu-system-x86_64 busybox modinfo cpio; do
  command -v "$tool" >/dev/null || { echo "test:vm: $tool is missing (bash scripts/install-deps.sh --vm)" >&2; exit 2; }
done

work=$(mktemp -d /tmp/faultd-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The initramfs: busybox, the modules that mount the shared root, and the first-stage init.
root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,host,upper,newroot,modules}
cp "$(command -v busybox)" "$root/bin/busybox"
declare -A seen=()
order=()
add_module() {
  local name=$1 dep
  [[ -n "${seen[$name]:-}" ]] && return
  seen[$name]=1
  for dep in $(modinfo -k "$kver" -F depends "$name" | tr ',' ' '); do add_module "$dep"; done
  local file
  file=$(modinfo -k "$kver" -F filename "$name")
  case "$file" in
    *.ko) cp "$file" "$root/modules/$name.ko" ;;
    *.ko.xz) xz -dc "$file" > "$root/modules/$name.ko" ;;
    *.ko.zst) zstd -dqc "$file" > "$root/modules/$name.ko" ;;
    *) return ;;  # built in
  esac
  order+=("$name")
}
for m in virtio_pci 9pnet_virtio 9p overlay; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$root/modules/order"
cp "$repo/test/vm/guest-init.sh" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

# The command the guest runs, as root, in the repo, after loading sch_netem.
printf '%s\n' "cd $repo && node node_modules/ava/entrypoints/cli.mjs --config test/vm/ava.config.js ${*:-}" > "$work/command"

echo "test:vm: booting $kver under QEMU TCG (several minutes)..." >&2
log=$work/console.log
qemu-system-x86_64 \
  -machine q35 -accel tcg,thread=multi -smp 2 -m 2048 \
  -kernel "/boot/vmlinuz-$kver" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 faultd_command=$work/command" \
  -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
  -nographic -no-reboot -serial mon:stdio 2>&1 | tee "$log"
code=$(sed -n 's/.*FAULTD-VM-EXIT: \([0-9]*\).*/\1/p' "$log" | tail -1)
if [[ -z "$code" ]]; then
  echo "test:vm: the guest did not report a result (see the console output above)" >&2
  exit 1
fi
exit "$code"
