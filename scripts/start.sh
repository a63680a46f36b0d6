#!/usr/bin/env bash
# The README's first command: set up, ingest the sample reports, show what is held, answer a question.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh app
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/reports-qa ingest
.venv/bin/reports-qa reports
.venv/bin/reports-qa sections north-somerset-2020-10-21-executive
.venv/bin/reports-qa ask "What needs to improve in North Somerset?"
