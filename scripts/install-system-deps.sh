#!/usr/bin/env bash
# Installs the real peer programs the interop tests run against, from Debian's packages.
# Idempotent: does nothing when every package is already there.
set -euo pipefail
packages=(aria2 transmission-cli transmission-common transmission-daemon chromium qbittorrent-nox mktorrent opentracker redis-server iproute2 stress-ng zsh fish groff-base ffmpeg fuse3)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's postinst may start these as system services; tests run their own copies.
for svc in transmission-daemon qbittorrent-nox opentracker redis-server; do
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
