#!/usr/bin/env bash
# Regenerates docs/scorecard-email.png: runs the demo, then renders the HTML part of the very email
# SES received (demo-out/scorecard.eml) with headless Chromium (Debian: apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-out}"
.venv/bin/touchpoint demo --out "$out" > /dev/null
.venv/bin/python - "$out" <<'PY'
import sys
from email import message_from_bytes, policy
from pathlib import Path
out = Path(sys.argv[1])
message = message_from_bytes((out / "scorecard.eml").read_bytes(), policy=policy.default)
html = message.get_body(preferencelist=("html",)).get_content()
(out / "email-body.html").write_text(html, "utf-8")
PY
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$(mktemp -d)" \
  --window-size=760,3000 --screenshot="docs/scorecard-email.png" "file://$PWD/$out/email-body.html" 2>/dev/null
echo "wrote docs/scorecard-email.png"
