"""The README's "Try it with curl" walkthrough, run as written against a fresh local stack: every bash
block in order in one shell, and every `#` output line compared with what came back (ids, tokens,
times and the week aside). A README that drifts from the product fails here."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from touchpoint_local.testing import ROOT, running_stack, touchpoint_exe

pytestmark = pytest.mark.e2e

SECTION = ("## Try it with curl", "## The HTTP API")
MARKER = "@@readme-step@@"
# Values that legitimately differ from run to run, whatever the README shows.
VOLATILE = [
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?"), "<time>"),
    (re.compile(r"\b\d{4}-W\d{2}\b"), "<week>"),
    (re.compile(r"/s/[A-Za-z0-9_-]{20,}(?:\.\.\.)?"), "/s/<token>"),
    (re.compile(r"\b[a-z]?[0-9a-f]{31,32}\b"), "<id>"),
]
VOLATILE_KEYS = {"records"}  # /_local/drain: what the background pump had not delivered yet


@dataclass
class Step:
    commands: list[str]
    expected: list[str] = field(default_factory=list)


def walkthrough_steps(readme: str) -> list[Step]:
    """The section's bash blocks as steps: command lines, then the `#` lines that show their output
    (a `#` line ending in ":" is narration, not output)."""
    section = readme[readme.index(SECTION[0]):readme.index(SECTION[1])]
    steps: list[Step] = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        current: Step | None = None
        for line in block.splitlines():
            if line.startswith("#"):
                text = line[1:].strip()
                if current is not None and not text.endswith(":"):
                    current.expected.append(text)
                continue
            if current is None or current.expected:
                current = Step([])
                steps.append(current)
            current.commands.append(line)
    return steps


def normalized(text: str) -> str:
    for pattern, replacement in VOLATILE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def _json_part(line: str) -> tuple[object, str] | None:
    body, _, status = line.rpartition(" HTTP ")
    candidate, suffix = (body, "HTTP " + status) if body and status.isdigit() else (line, "")
    try:
        return json.loads(candidate), suffix
    except ValueError:
        return None


def _without_volatile(value: object) -> object:
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS else _without_volatile(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def same_output(expected: str, actual: str) -> bool:
    expected, actual = normalized(expected), normalized(actual)
    parsed_expected, parsed_actual = _json_part(expected), _json_part(actual)
    if parsed_expected is not None and parsed_actual is not None:
        return _without_volatile(parsed_expected[0]) == _without_volatile(parsed_actual[0]) \
            and parsed_expected[1] == parsed_actual[1]
    if "..." in expected:
        pattern = ".*".join(re.escape(part) for part in expected.split("..."))
        return re.fullmatch(pattern, actual) is not None
    return expected == actual


def test_the_steps_are_read_as_a_reader_reads_them():
    # Given a block with a command, its output, narration, and a second command
    readme = (f"{SECTION[0]}\n```bash\nA=1\ncurl one   # why\n# {{\"a\": 1}} HTTP 201\n# the same again:\n"
              f"curl two\n# done\n```\n{SECTION[1]}\n")
    steps = walkthrough_steps(readme)
    # Then the narration is no output, and each output belongs to the commands before it
    assert [(s.commands, s.expected) for s in steps] == [
        (["A=1", "curl one   # why"], ['{"a": 1} HTTP 201']), (["curl two"], ["done"])]
    assert same_output('{"a": 1, "records": 14} HTTP 201', '{"records":0,"a":1} HTTP 201')
    assert not same_output('{"a": 1} HTTP 201', '{"a": 1} HTTP 200')
    assert same_output("http://x/s/AgVrMjAyNmAkHxp7Bkgn2BAflbROvS...", "http://x/s/" + "Q" * 90)
    assert not same_output("rebuild (all periods, UTC): 3 raw records", "rebuild (all periods, UTC): 4 raw records")


def test_the_readme_walkthrough_runs_as_written(monkeypatch, tmp_path):
    readme = (ROOT / "README.md").read_text("utf-8")
    steps = walkthrough_steps(readme)
    assert sum(len(s.expected) for s in steps) >= 15  # the walkthrough still shows its outputs
    # Given a fresh `touchpoint local`, the newest one running (as for a reader), on a free port
    monkeypatch.setenv("TOUCHPOINT_STATE_DIR", str(tmp_path / "state"))
    with running_stack() as stack:
        port = stack.base.rsplit(":", 1)[1]

        def here(text: str) -> str:
            return text.replace("localhost:3000", f"localhost:{port}").replace("127.0.0.1:3000", f"127.0.0.1:{port}")

        script = ["set -u", "exec 2>&1"]
        for step in steps:
            script += [here(line).replace(".venv/bin/touchpoint", touchpoint_exe()) for line in step.commands]
            script.append(f"echo {MARKER}")
        # When the blocks run in order in one shell, from the project folder
        done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=Path(ROOT), capture_output=True,  # noqa: S603,S607
                              text=True, timeout=300, check=False)
    outputs = done.stdout.split(MARKER + "\n")
    assert len(outputs) == len(steps) + 1, done.stdout + done.stderr
    # Then every output line the README shows is what came back
    for step, output in zip(steps, outputs, strict=False):
        actual = [line for line in output.splitlines() if line.strip()]
        expected = [here(line) for line in step.expected]
        shown = "\n".join(step.commands)
        assert len(actual) >= len(expected), f"{shown}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + output
        for want, got in zip(expected, actual[:len(expected)], strict=True):
            assert same_output(want, got), f"{shown}\nREADME: {want}\nactual: {got}"
