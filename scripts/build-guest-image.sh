#!/usr/bin/env bash
# Builds the test guest: a Debian cloud kernel plus a busybox initramfs that brings eth0 up
# with the address given on the kernel command line, prints a ready marker and a heartbeat,
# and optionally pings a peer. Cached under $CACHE_DIR/guest-<kernel version>-init<N>/; prints that dir.
#
# Kernel command line understood by /init:
#   vhostnet.ip=169.254.100.1/24   address for eth0 (link-local: never leaves the guests)
#   vhostnet.ping=169.254.100.2    ping this peer continuously, one line per reply
#   vhostnet.serve=16              serve 16 MiB of random data over TCP port 8080 (to each connection)
#   vhostnet.fetch=169.254.100.2   download that peer's data once (kernel TCP), retrying until it connects
# Console markers: "VHOSTNET-READY ip=<addr>", "VHOSTNET-HEARTBEAT <uptime>",
#                  "VHOSTNET-NOIP" (no vhostnet.ip given), "VHOSTNET-NOETH0",
#                  "VHOSTNET-SERVING md5=<sum> bytes=<n>", "VHOSTNET-FETCHED md5=<sum> bytes=<n> t0=<uptime> t1=<uptime>",
#                  "VHOSTNET-FETCH-FAILED try=<n>" (nothing received: not connected yet; it tries again).
# (busybox nc, not wget/httpd: the static busybox's wget crashes.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/versions.sh"

# The versioned kernel package linux-image-cloud-amd64 depends on (e.g. linux-image-6.1.0-56-cloud-amd64).
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  echo "build-guest-image: cannot resolve linux-image-cloud-amd64's kernel package (apt-get update?)" >&2
  exit 1
fi
kver=${pkg#linux-image-}
# Version of the /init below: bump it when /init changes. It is part of the cache directory's
# name, so worktrees (or checkouts) with different versions never overwrite each other's image.
INIT_VERSION=4
out=$CACHE_DIR/guest-$kver-init$INIT_VERSION
if [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ] && [ "$(cat "$out/init-version" 2>/dev/null)" = "$INIT_VERSION" ]; then
  echo "$out"
  exit 0
fi

busybox=$(command -v busybox || true)
# The initramfs has no libc: busybox must be static (ldd fails on static binaries).
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "build-guest-image: needs a static busybox (apt-get install busybox-static)" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# apt-get download writes into the current directory; _apt cannot read mktemp dirs, which only warns.
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1) || {
  echo "build-guest-image: apt-get download $pkg failed" >&2
  exit 1
}
dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kernel"

root=$work/initramfs
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules,etc}
cp "$busybox" "$root/bin/busybox"
for applet in sh mount insmod ip ping sleep cat echo sed tr cut grep ls mkdir dmesg poweroff taskset nc md5sum dd wc rm mkfifo; do
  ln -s busybox "$root/bin/$applet"
done

# Load order matters: each module needs the ones before it (no modprobe/depmod in the initramfs).
modules="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover
drivers/net/net_failover drivers/net/virtio_net"
kmods=$work/kernel/lib/modules/$kver/kernel
for m in $modules; do
  name=$(basename "$m")
  if [ -f "$kmods/$m.ko" ]; then
    cp "$kmods/$m.ko" "$root/lib/modules/$name.ko"
  elif [ -f "$kmods/$m.ko.xz" ]; then
    xz -dc "$kmods/$m.ko.xz" > "$root/lib/modules/$name.ko"
  else
    echo "build-guest-image: module $m not found in $pkg" >&2
    exit 1
  fi
done
printf '%s\n' $modules | xargs -n1 basename > "$root/lib/modules/order"

cat > "$root/init" <<'EOF'
#!/bin/sh
# Test guest init: eth0 from the kernel command line, then a heartbeat on the console.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
for m in $(cat /lib/modules/order); do
  insmod /lib/modules/$m.ko || echo "VHOSTNET-INSMOD-FAILED $m"
done
ipaddr=""; peer=""; serve=""; fetch=""
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vhostnet.ip=*) ipaddr=${arg#vhostnet.ip=} ;;
    vhostnet.ping=*) peer=${arg#vhostnet.ping=} ;;
    vhostnet.serve=*) serve=${arg#vhostnet.serve=} ;;
    vhostnet.fetch=*) fetch=${arg#vhostnet.fetch=} ;;
  esac
done
ip link set lo up
# virtio_net probes asynchronously; give eth0 a few seconds to appear.
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n+1)); done
if [ ! -e /sys/class/net/eth0 ]; then
  echo "VHOSTNET-NOETH0"
elif [ -z "$ipaddr" ]; then
  ip link set eth0 up
  echo "VHOSTNET-NOIP"
else
  ip addr add "$ipaddr" dev eth0
  ip link set eth0 up
  echo "VHOSTNET-READY ip=$ipaddr mac=$(cat /sys/class/net/eth0/address)"
fi
if [ -n "$peer" ]; then
  # Restart ping if it ever exits, so a late peer is still reached.
  # Replies print as busybox does: "64 bytes from <peer>: seq=N ttl=64 time=... ms".
  # One ping per vCPU, pinned: virtio-net maps CPU i to queue i, so a multiqueue guest sends on all queues.
  ncpu=$(grep -c ^processor /proc/cpuinfo)
  cpu=0
  while [ $cpu -lt $ncpu ]; do
    ( while true; do taskset -c $cpu ping -i 1 "$peer"; sleep 1; done ) &
    cpu=$((cpu+1))
  done
fi
if [ -n "$serve" ]; then
  mkdir -p /www
  dd if=/dev/urandom of=/www/data bs=1048576 count="$serve" 2>/dev/null
  echo "VHOSTNET-SERVING md5=$(md5sum /www/data | cut -d' ' -f1) bytes=$(wc -c < /www/data)"
  printf '#!/bin/sh\nexec cat /www/data\n' > /bin/serve-data
  chmod 755 /bin/serve-data
  nc -ll -p 8080 -e /bin/serve-data &
fi
if [ -n "$fetch" ]; then
  # The peer may not serve yet: retry until a connection gives data. nc ends when the peer closes;
  # its stdin is a FIFO open read-write (never data, never EOF) so it never half-closes first.
  mkfifo /tmp/hold
  ( n=0
    while true; do
      n=$((n+1))
      t0=$(cut -d' ' -f1 /proc/uptime)
      nc "$fetch" 8080 0<>/tmp/hold > /tmp/got 2>/tmp/nc.err
      if [ -s /tmp/got ]; then
        t1=$(cut -d' ' -f1 /proc/uptime)
        echo "VHOSTNET-FETCHED md5=$(md5sum /tmp/got | cut -d' ' -f1) bytes=$(wc -c < /tmp/got) t0=$t0 t1=$t1"
        rm -f /tmp/got
        break
      fi
      echo "VHOSTNET-FETCH-FAILED try=$n $(cat /tmp/nc.err)"
      rm -f /tmp/got
      sleep 1
    done ) &
fi
while true; do
  echo "VHOSTNET-HEARTBEAT $(cut -d' ' -f1 /proc/uptime)"
  sleep 1
done
EOF
chmod 755 "$root/init"

mkdir -p "$work/out"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$work/out/initrd.gz"
cp "$work/kernel/boot/vmlinuz-$kver" "$work/out/vmlinuz"
echo "$INIT_VERSION" > "$work/out/init-version"
echo "$kver" > "$work/out/kernel-version"

# Atomic publish: a concurrent or interrupted build never leaves a half-written cache.
mkdir -p "$CACHE_DIR"
rm -rf "$out.tmp.$$"
mv "$work/out" "$out.tmp.$$"
rm -rf "$out"
mv "$out.tmp.$$" "$out"
echo "$out"
