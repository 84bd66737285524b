#!/usr/bin/env bash
# Installs Debian's Chromium for the real-browser test when it is missing (never a downloaded browser).
set -u
if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else echo "not root: cannot apt-get chromium"; exit 1; fi
else
  SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null 2>&1 || { echo "apt-get install chromium failed"; exit 1; }
command -v chromium >/dev/null 2>&1
