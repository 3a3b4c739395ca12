#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# One-line installer for faultd's packages (README, "Install from a package"):
#
#   sh get-faultd.sh --from DIR|URL [--hub-url URL --infra-id ID --access-key-file FILE [--ca-file FILE] …]
#
# Picks the package for this host's family (dpkg: .deb; rpm: .rpm) and architecture from the
# SHA256SUMS file in DIR or at URL (what `npm run package` writes next to the packages), fetches
# it (curl or wget for a URL), checks its SHA-256, installs it (dpkg -i, or dnf/yum/zypper/rpm),
# then runs `faultd install` with every other flag as given, which writes the configuration and
# enables and starts faultd.service. Without --hub-url, the package is installed and the service
# stays disabled. Nothing is installed if any check fails. Run as root.
set -eu

die() { echo "get-faultd: $*" >&2; exit 1; }

from=""
want_install=false
set_from=false
# The flags for `faultd install`, kept in "$@" after the loop.
count=$#
i=0
while [ "$i" -lt "$count" ]; do
  arg=$1; shift; i=$((i + 1))
  if $set_from; then from=$arg; set_from=false; continue; fi
  case "$arg" in
    --from) set_from=true ;;
    --from=*) from=${arg#--from=} ;;
    -h|--help) sed -n '3,13p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    --hub-url|--hub-url=*) want_install=true; set -- "$@" "$arg" ;;
    *) set -- "$@" "$arg" ;;
  esac
done
$set_from && die "--from needs a directory or URL"
[ -n "$from" ] || die "--from DIR|URL is required (where the packages and SHA256SUMS are)"
[ "$(id -u)" -eq 0 ] || die "run as root (it installs a package)"

# The family: the package manager that owns this system.
if [ -f /etc/debian_version ] && command -v dpkg >/dev/null 2>&1; then
  family=deb
  arch=$(dpkg --print-architecture)
  pattern="^faultd_[^_]*_${arch}\\.deb\$"
elif command -v rpm >/dev/null 2>&1 && { [ -f /etc/redhat-release ] || [ -f /etc/SuSE-release ] || grep -Eqi '^(ID|ID_LIKE)=.*(rhel|fedora|centos|suse|sles|opensuse|amzn|rocky|alma)' /etc/os-release 2>/dev/null; }; then
  family=rpm
  arch=$(uname -m)
  pattern="^faultd-.*\\.${arch}\\.rpm\$"
else
  die "unsupported system: neither a dpkg (Debian/Ubuntu) nor an rpm (RHEL/CentOS/Fedora/openSUSE) family host; install from source (README, \"Set-up and first run\")"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

fetch() { # fetch NAME → $work/NAME
  case "$from" in
    http://*|https://*)
      url="${from%/}/$1"
      if command -v curl >/dev/null 2>&1; then curl -fsSL -o "$work/$1" "$url" || die "cannot download $url"
      elif command -v wget >/dev/null 2>&1; then wget -q -O "$work/$1" "$url" || die "cannot download $url"
      else die "needs curl or wget to download from $from"; fi ;;
    *)
      [ -f "$from/$1" ] || die "$from/$1: no such file"
      cp "$from/$1" "$work/$1" ;;
  esac
}

fetch SHA256SUMS
# The newest version for this family and architecture.
name=$(awk '{print $2}' "$work/SHA256SUMS" | sed 's/^\*//' | grep -E "$pattern" | sort -V | tail -n 1 || true)
[ -n "$name" ] || die "no $family package for $arch in $from (SHA256SUMS lists: $(awk '{printf "%s ", $2}' "$work/SHA256SUMS"))"
fetch "$name"
expected=$(awk -v n="$name" '{f=$2; sub(/^\*/, "", f); if (f == n) print $1}' "$work/SHA256SUMS")
actual=$(sha256sum "$work/$name" | awk '{print $1}')
[ "$expected" = "$actual" ] || die "checksum mismatch for $name: SHA256SUMS says $expected, the file has $actual; nothing installed"
echo "get-faultd: $name: SHA-256 OK"

if [ "$family" = deb ]; then
  dpkg -i "$work/$name" || die "dpkg -i $name failed (missing dependencies? apt-get -f install, then run this again)"
elif command -v dnf >/dev/null 2>&1; then dnf install -y "$work/$name"
elif command -v yum >/dev/null 2>&1; then yum install -y "$work/$name"
elif command -v zypper >/dev/null 2>&1; then zypper --non-interactive install --allow-unsigned-rpm "$work/$name"
else rpm -Uvh "$work/$name"
fi
echo "get-faultd: installed $name"

if $want_install; then
  exec /usr/bin/faultd install "$@"
elif [ $# -gt 0 ]; then
  die "flags for faultd install ($*) need --hub-url; the package is installed, faultd.service disabled"
else
  echo "get-faultd: faultd.service is disabled; enable it with: faultd install --hub-url URL --infra-id ID --access-key-file FILE"
fi
