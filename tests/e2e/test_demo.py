"""`touchpoint demo` as a new user runs it: four files, and the .eml is the message SES received."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from email import message_from_bytes, policy

import pytest
from touchpoint_local.testing import touchpoint_exe

pytestmark = pytest.mark.e2e


def test_demo_writes_the_four_files_from_one_consistent_run(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([touchpoint_exe(), "demo", "--out", str(out), "--customers", "60", "--weeks", "2",
                           "--seed", "3", "--preset", "saas"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rebuild drift 0" in done.stdout and "email sent" in done.stdout
    card = json.loads((out / "scorecard.json").read_text())
    message = message_from_bytes((out / "scorecard.eml").read_bytes(), policy=policy.default)
    # The attachment of the email is byte for byte the CSV written beside it
    attachment = next(message.iter_attachments())
    assert attachment.get_payload(decode=True) == (out / "scorecard.csv").read_bytes()
    rows = list(csv.reader(io.StringIO((out / "scorecard.csv").read_text())))
    # Every row is of the reported period, except the trend's, which are of the 8 periods it shows
    assert rows[0][:2] == ["period", "section"]
    assert all(r[0] == card["period"]["id"] for r in rows[1:] if r[1] != "trend")
    assert sorted({r[0] for r in rows[1:] if r[1] == "trend"}) == [entry["period"] for entry in card["trend"]]
    # The archived HTML is the email's HTML part, and the period in the subject is the JSON's
    html_part = message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")
    assert html_part.strip() == (out / "scorecard.html").read_text().strip()
    assert card["period"]["id"] in message["Subject"]
    # A SaaS catalog: its touchpoints, not the e-commerce ones
    assert "onboarding" in card["cx"]["touchpoints"] or "signup" in card["cx"]["touchpoints"]
