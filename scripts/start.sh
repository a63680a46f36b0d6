#!/usr/bin/env bash
# The README's first command: set up, ingest the sample reports, answer a question, serve the app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh app
export HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
.venv/bin/reports-qa ingest
.venv/bin/reports-qa reports
.venv/bin/reports-qa ask "What needs to improve in North Somerset?"
port="${REPORTS_QA_PORT:-8501}"
echo "Serving the app on http://127.0.0.1:${port} (Ctrl-C stops it)"
exec .venv/bin/streamlit run ui/app.py --server.headless true --server.address 127.0.0.1 \
    --server.port "$port" --browser.gatherUsageStats false
