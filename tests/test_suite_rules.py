"""Rules the test suite keeps about itself (issue 16, case 8): no test asserts on wall-clock time; speed targets
belong in `make bench` (benchmarks/), where a loaded machine makes a figure slower instead of a test red."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: Timeout tests, not speed targets: a child that sleeps 60 s / 120 s must be killed after 2 s / 1 s; the bound (30 s /
#: 100 s) tells "killed" from "ran to the end", so a loaded machine cannot turn them red.
KILL_CHECKS = {("test_gpu_check.py", "test_a_subprocess_past_its_time_is_killed"),
               ("test_gpu_check.py", "test_the_watchdog_stops_a_hung_run_and_keeps_what_was_measured")}
CLOCKS = {"time", "monotonic", "perf_counter", "process_time", "time_ns", "monotonic_ns", "perf_counter_ns", "now"}


def _is_clock_call(node: ast.AST) -> bool:
    """`time.monotonic()`, `perf_counter()`, `datetime.now()` and the like."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in CLOCKS


def wall_clock_asserts(source: str) -> list[tuple[str, int]]:
    """(test function, line) of each `assert` that compares a clock reading (directly or through a name assigned
    from one)."""
    found = []
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        clocked = {target.id for node in ast.walk(function) if isinstance(node, ast.Assign)
                   and _is_clock_call(node.value) for target in node.targets if isinstance(target, ast.Name)}
        for node in ast.walk(function):
            if isinstance(node, ast.Assert):
                parts = list(ast.walk(node.test))
                if any(_is_clock_call(p) or (isinstance(p, ast.Name) and p.id in clocked) for p in parts):
                    found.append((function.name, node.lineno))
    return found


def test_the_detector_finds_a_timed_assert() -> None:
    timed = ("import time\ndef test_x():\n    start = time.monotonic()\n    run()\n"
             "    assert time.monotonic() - start < 600\n")
    assert wall_clock_asserts(timed) == [("test_x", 5)]
    assert wall_clock_asserts("def test_y():\n    assert run() == 0\n") == []


def test_no_test_asserts_on_wall_clock_time() -> None:
    found = {f"{path.name}:{line} ({function})" for path in sorted(TESTS.glob("test_*.py"))
             for function, line in wall_clock_asserts(path.read_text(encoding="utf-8"))
             if (path.name, function) not in KILL_CHECKS}
    assert found == set(), "wall-clock asserts (move the timing to benchmarks/): " + ", ".join(sorted(found))
