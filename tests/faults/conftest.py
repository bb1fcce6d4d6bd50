"""Prints the fault matrix's size (calls x ways per operation, and in all) at the end of a run that collected it."""
from __future__ import annotations

from tests.support import faults


def pytest_terminal_summary(terminalreporter):
    if faults.matrix.cache_info().currsize:
        terminalreporter.section("fault matrix")
        for line in faults.size_lines():
            terminalreporter.write_line(line)
