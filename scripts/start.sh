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
# The browser's upload limit (whole MB) follows the app's own per-file limit, so a too-large
# file gets the app's message, which names the limit and what to do.
upload_mb=$(.venv/bin/python -c 'import math; from reports_qa.settings import Settings; print(math.ceil(Settings().max_file_mb))')
exec .venv/bin/streamlit run ui/app.py --server.headless true --server.address 127.0.0.1 \
    --server.port "$port" --browser.gatherUsageStats false --server.maxUploadSize "$upload_mb"
