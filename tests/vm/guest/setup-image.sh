#!/bin/sh
# Runs inside the image's chroot once, at image build time.
set -eu
passwd -d root >/dev/null
echo fzvm >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 fzvm\n::1 localhost\n' >/etc/hosts
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' >/etc/fstab
systemctl enable fz-vmtest.service >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1
# Nothing in the tests needs these, and each costs seconds of emulated boot.
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service \
  fstrim.timer systemd-timesyncd.service getty@tty1.service serial-getty@ttyS0.service; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
