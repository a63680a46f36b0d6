#!/usr/bin/env bash
# The README's second command: set up with test dependencies and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
exec .venv/bin/python -m pytest "$@"
