"""CloudFlow executions read through the SDK, for tests that look past a record at the flow that wrote it."""
from __future__ import annotations

from tests.support.waiting import wait_until

RUNNING = ("Starting", "Running")


def ended_execution(fnf, flow: str, name: str, timeout: float = 30):
    """The execution `name` of `flow` (DescribeExecution's body) once it has ended, failing after `timeout` s.
    A record goes final a few states before its execution ends (the flow's closing states follow the record), so a
    test that saw the record final waits here before reading the execution's status."""
    from alibabacloud_fnf20190315 import models as fnf_m

    def ended():
        body = fnf.describe_execution(fnf_m.DescribeExecutionRequest(flow_name=flow, execution_name=name)).body
        return body if body.status not in RUNNING else None
    return wait_until(ended, timeout)
