#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real: Chromium (browser tests), PostgreSQL
# (state store on PostgreSQL), OpenSSH server + sshpass (SSH login capture), auditd (audit source),
# rsyslog (auth.log), sudo (privilege-change tests). Needs root and apt; elsewhere it says what is missing and the tests that need
# each component skip with that reason.
set -euo pipefail
PKGS=(chromium postgresql openssh-server sshpass auditd rsyslog iproute2 util-linux procps sudo)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not root or no apt-get; missing: ${missing[*]} (tests needing them will skip)" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d stops Debian from starting daemons on install; the tests start what they need themselves.
if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
