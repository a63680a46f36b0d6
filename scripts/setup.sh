#!/usr/bin/env bash
# Create .venv and install reports-qa into it. Safe to re-run: it does nothing when the
# installed dependencies already match pyproject.toml. Usage: scripts/setup.sh [app|test]
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-app}
python=${PYTHON:-python3}

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "reports-qa needs Python 3.11 or newer; $python is $("$python" --version 2>&1)." >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.installed-$extra-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing reports-qa ($extra) into .venv (first run: a few minutes)…" >&2
  .venv/bin/python -m pip install -qq --upgrade pip
  # The CPU build of torch first: otherwise pip resolves sentence-transformers' torch to a
  # multi-GB CUDA build.
  .venv/bin/python -m pip install -qq torch==2.13.0
  if [ "$extra" = test ]; then spec=".[test]"; else spec="."; fi
  .venv/bin/python -m pip install -qq -e "$spec"
  touch "$stamp"
fi

# The end-to-end test drives Debian's Chromium (never a browser download). Installed when we
# are root with apt-get, as on CI; elsewhere the test says how to get it.
if [ "$extra" = test ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium for the end-to-end test (about a minute)…" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  else
    echo "note: no /usr/bin/chromium; the end-to-end test will be skipped (apt-get install chromium chromium-driver)" >&2
  fi
fi
