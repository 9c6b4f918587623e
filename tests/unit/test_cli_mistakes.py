"""The command line as a newcomer meets it: ordinary mistakes get one clear line, a non-zero exit and
no traceback, before any work is done (nothing written, nothing started)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from touchpoint_local import running
from touchpoint_local.cli import main
from touchpoint_local.testing import touchpoint_exe


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


MISTAKES = [
    (["link", "--preset", "hotel", "--customer", "c", "--touchpoint", "shipping"], "unknown preset 'hotel'"),
    (["link", "--secrets", "/nope.json", "--customer", "c", "--touchpoint", "shipping", "--offline"],
     "cannot read the secrets file /nope.json"),
    (["link", "--customer", "c", "--touchpoint", "nope", "--offline"], "Unknown touchpoint 'nope'"),
    (["link", "--customer", "c", "--touchpoint", "shipping", "--ttl-days", "0"], "--ttl-days: must be from 1"),
    (["openapi", "--out", "/missing/dir/x.json"], "folder /missing/dir does not exist"),
    (["local", "--param", "Foo"], "expected NAME=VALUE"),
    (["local", "--param", "Foo=1"], "no parameter 'Foo'"),
    (["local", "--param", "ReportingTimezone=Mars/Base"], "ReportingTimezone"),
    (["local", "--preset", "hotel"], "unknown preset 'hotel'"),
    (["demo", "--customers", "0"], "--customers: must be from 1 to 20000, not 0"),
    (["demo", "--customers", "-5"], "--customers: must be from 1 to 20000, not -5"),
    (["demo", "--weeks", "0"], "--weeks: must be from 1 to 104, not 0"),
    (["demo", "--weeks", "-1"], "--weeks: must be from 1 to 104, not -1"),
    (["demo", "--timezone", "Mars/Base"], "unknown IANA time zone"),
    (["rebuild", "--period", "last-week", "--stack", "http://127.0.0.1:9"], "'last-week' is not a period"),
    (["rebuild", "--table", "FeedbackTable", "--repair"], "--repair with --table needs --pseudonym-secret"),
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, float]:
    started = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors exit
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err, time.perf_counter() - started


def _one_clear_line(err: str) -> None:
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(("argv", "says"), MISTAKES, ids=[" ".join(a) for a, _ in MISTAKES])
def test_an_ordinary_mistake_is_one_clear_line_before_any_work(argv, says, capsys, tmp_path, monkeypatch):
    # Given a newcomer in an empty folder
    monkeypatch.chdir(tmp_path)
    # When they make the mistake
    code, out, err, seconds = _run(argv, capsys)
    # Then one line says what is wrong, the exit is non-zero, and nothing was written
    assert code == 2 and out == ""
    _one_clear_line(err)
    assert says in err
    assert seconds < 5
    assert list(tmp_path.iterdir()) == []


def test_demo_into_an_existing_file_is_refused_before_the_pipeline_runs(capsys, tmp_path):
    # Given a file where the demo's folder would go
    target = tmp_path / "report.txt"
    target.write_text("mine")
    # When the demo is pointed at it
    code, _, err, seconds = _run(["demo", "--out", str(target)], capsys)
    # Then it refuses at once and leaves the file alone
    assert code == 2 and "is a file, not a folder" in err and seconds < 5
    _one_clear_line(err)
    assert target.read_text() == "mine"


def test_rebuild_without_a_stack_says_how_to_start_one(capsys, monkeypatch, tmp_path):
    # Given no stack running anywhere we look
    monkeypatch.setenv("TOUCHPOINT_STATE_DIR", str(tmp_path))
    port = _free_port()
    # When rebuild is asked to talk to it
    code, _, err, _ = _run(["rebuild", "--stack", f"http://127.0.0.1:{port}"], capsys)
    # Then it says no stack answers and what to do
    assert code == 2 and f"no local stack answers at http://127.0.0.1:{port}" in err and "touchpoint local" in err
    _one_clear_line(err)


def test_local_on_a_busy_port_is_refused_before_anything_starts(capsys):
    # Given something already listening on the port
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        # When the local stack is asked for that port
        code, _, err, seconds = _run(["local", "--port", str(port)], capsys)
    # Then it says so in one line, naming the way out
    assert code == 2 and f"port {port} is in use" in err and "--port" in err and seconds < 5
    _one_clear_line(err)


def test_the_running_stack_is_found_from_its_record(monkeypatch, tmp_path):
    # Given `touchpoint local` recorded itself (this process plays the stack)
    monkeypatch.setenv("TOUCHPOINT_STATE_DIR", str(tmp_path))
    running.remember("http://127.0.0.1:3999")
    # Then commands find it, and forget it once it stops
    assert running.recorded_stack() == "http://127.0.0.1:3999"
    running.forget()
    assert running.recorded_stack() is None


def test_a_record_of_a_stack_that_is_gone_is_ignored(monkeypatch, tmp_path):
    # Given a record left by a stack that was killed (its process is gone)
    monkeypatch.setenv("TOUCHPOINT_STATE_DIR", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    gone.wait()
    (tmp_path / "local-stack.json").write_text(f'{{"url": "http://127.0.0.1:3998", "pid": {gone.pid}}}')
    # Then it does not count as a running stack
    assert running.recorded_stack() is None


def test_every_option_has_help_text():
    from touchpoint_local.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")  # noqa: SLF001 - argparse's own tree
    for name, command in commands.choices.items():
        for action in command._actions:  # noqa: SLF001
            if action.dest != "help":
                assert action.help, f"touchpoint {name} {'/'.join(action.option_strings) or action.dest}"


@pytest.mark.e2e
def test_ctrl_c_during_the_demo_exits_quietly(tmp_path):
    # Given a demo under way (its progress on stderr)
    demo = subprocess.Popen([touchpoint_exe(), "demo", "--out", str(tmp_path / "out"), "--customers", "400"],  # noqa: S603
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TOUCHPOINT_DEBUG": ""})
    assert demo.stderr is not None
    for line in demo.stderr:
        if "sending survey imports" in line:
            break
    # When the user presses Ctrl-C
    demo.send_signal(signal.SIGINT)
    _, err = demo.communicate(timeout=60)
    # Then it stops with "interrupted", exit 130, no traceback, and no half-written files
    assert demo.returncode == 130
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert not (Path(tmp_path / "out") / "scorecard.json").exists()
