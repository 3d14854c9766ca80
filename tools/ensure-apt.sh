#!/usr/bin/env bash
# Install Debian packages only when a command or file they provide is missing.
# Usage: tools/ensure-apt.sh CHECK PACKAGE... [-- CHECK PACKAGE...]
# CHECK is a command name or an absolute path; nothing is installed when it already exists.
set -euo pipefail

missing=()
while [ $# -gt 0 ]; do
  check=$1; shift
  pkgs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do pkgs+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  if [[ $check == /* ]]; then
    [ -e "$check" ] && continue
  else
    command -v "$check" >/dev/null 2>&1 && continue
  fi
  missing+=("${pkgs[@]}")
done

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
