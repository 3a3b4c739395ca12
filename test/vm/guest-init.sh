#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
# First stage of the test:vm guest: mount the host's root (virtio-9p, read-only) under a tmpfs
# overlay, switch into it, load sch_netem, run the command the host wrote, report its exit code
# on the console and power off (sysrq, since no init system runs).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
while read -r m; do insmod "/modules/$m.ko" 2>/dev/null || true; done < /modules/order
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /host || { echo "FAULTD-VM-EXIT: 1"; poweroff -f; }
mount -t tmpfs -o size=1g upper /upper
mkdir -p /upper/upper /upper/work
mount -t overlay -o lowerdir=/host,upperdir=/upper/upper,workdir=/upper/work overlay /newroot || { echo "overlay failed"; echo "FAULTD-VM-EXIT: 1"; poweroff -f; }
# The host wrote the command into its /tmp, which the guest's own /tmp hides: keep a copy.
command_file=$(sed -n 's/.*faultd_command=\([^ ]*\).*/\1/p' /proc/cmdline)
cp "/newroot$command_file" /upper/command
for d in proc sys dev; do mount --move /$d /newroot/$d; done
mount -t tmpfs tmp /newroot/tmp
mount -t tmpfs run /newroot/run
mkdir -p /newroot/run/netns
cp /upper/command /newroot/run/faultd-command
# switch_root (not chroot): the kernel's module autoloading runs /sbin/modprobe in the real
# root, which must be the host's filesystem for `ip link add … type veth` and friends.
cat > /newroot/run/faultd-guest.sh <<'GUEST'
export HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
modprobe sch_netem && echo 'guest: sch_netem loaded'
. /run/faultd-command
echo "FAULTD-VM-EXIT: $?"
sync
echo o > /proc/sysrq-trigger
GUEST
exec switch_root /newroot /bin/sh /run/faultd-guest.sh
