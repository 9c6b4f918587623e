#!/usr/bin/env bash
# Regenerates the README's pictures: runs the demo, then renders the survey pages and the HTML part of
# the very email SES received (demo-out/scorecard.eml) in headless Chromium (docs/screenshots.py;
# Chromium: `touchpoint test-tools install`, or apt-get install chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-demo-out}"
.venv/bin/touchpoint demo --out "$out" > /dev/null 2>&1
.venv/bin/python docs/screenshots.py "$out"
