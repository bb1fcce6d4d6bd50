"""The CloudFlow adapter on the API reference's published answers, served over HTTP to the real generic client."""
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nestbackup.adapters.cloudflow import VERSION, CloudFlow
from nestbackup.adapters.openapi import Credentials, RetryPolicy, RpcClient
from nestbackup.ports.flows import BackupFlowInput, Execution, RestoreFlowInput

# DescribeExecution's response elements with their published example values
# (alibabacloud.com/help/en/serverless-workflow/latest/api-fnf-2019-03-15-describeexecution).
DESCRIBE_EXAMPLE = {
    "Status": "Succeeded", "StoppedTime": "2019-01-01T01:01:01.001Z", "RequestId": "testRequestId",
    "StartedTime": "2019-01-01T01:01:01.001Z",
    "FlowDefinition": "Type: StateMachine\nSpecVersion: v1\nName: my_flow_name\nStartAt: my_state\nStates:\n"
                      " - Type: Pass\n Name: my_state\n End: true",
    "Output": "{\"key\":\"value\"}", "FlowName": "my_flow_name", "Name": "my_exec_name", "Input": "{\"key\":\"value\"}",
    "Environment": {"Variables": [{"Name": "key", "Value": "value"}]},
}


class _Cloud:
    """Answers each action with a fixed (status, body) and keeps the requests' parameters."""

    def __init__(self, answers: dict[str, tuple[int, dict]]):
        self.answers = answers
        self.requests: list[dict[str, str]] = []
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                query = urllib.parse.urlsplit(self.path).query
                length = int(self.headers.get("content-length") or 0)
                form = self.rfile.read(length).decode() if length else ""
                params = dict(urllib.parse.parse_qsl(query)) | dict(urllib.parse.parse_qsl(form))
                cloud.requests.append(params)
                status, body = cloud.answers[params["Action"]]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def flows(self) -> CloudFlow:
        endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        return CloudFlow(RpcClient(endpoint, VERSION, Credentials("LTAIexample", "secret"), "cn-hangzhou",
                                   retry=RetryPolicy(attempts=1), legacy_signature=True))


@pytest.fixture
def cloud():
    made = []

    def make(answers):
        made.append(_Cloud(answers))
        return made[-1]
    yield make
    for c in made:
        c.server.shutdown()


def _error(code: str, message: str) -> dict:
    return {"Code": code, "Message": message, "RequestId": "testRequestId", "HostId": "fnf.aliyuncs.com"}


def test_describe_reads_the_published_example(cloud):
    c = cloud({"DescribeExecution": (200, DESCRIBE_EXAMPLE)})
    assert c.flows().describe("my_flow_name", "my_exec_name") == Execution("my_exec_name", "Succeeded",
                                                                           "{\"key\":\"value\"}")
    assert c.requests[0]["FlowName"] == "my_flow_name" and c.requests[0]["ExecutionName"] == "my_exec_name"
    gone = cloud({"DescribeExecution": (404, _error("ExecutionNotExists", "execution my_exec_name not exists"))})
    assert gone.flows().describe("my_flow_name", "my_exec_name") is None


def test_stop_of_an_ended_execution_is_not_a_failure(cloud):
    c = cloud({"StopExecution": (400, _error("ExecutionAlreadyCompleted", "execution has already completed"))})
    assert c.flows().stop("my_flow_name", "my_exec_name", "cancelled") is False
    other = cloud({"StopExecution": (400, _error("InvalidArgument", "Error is too long"))})
    with pytest.raises(Exception) as info:
        other.flows().stop("my_flow_name", "my_exec_name", "cancelled")
    assert getattr(info.value, "code", None) == "InvalidArgument"


def test_start_sends_the_declared_input_and_treats_an_ended_name_as_already_run(cloud):
    c = cloud({"StartExecution": (200, DESCRIBE_EXAMPLE | {"Status": "Running"})})
    assert c.flows().start_once("nestbackup-restore", "restore-1", RestoreFlowInput("restore-1")) is True
    assert json.loads(c.requests[0]["Input"]) == {"RestoreId": "restore-1", "Round": 0}
    assert c.flows().start_once("nestbackup-backup", "backup-1-g3", BackupFlowInput("backup-1", 7, 3)) is True
    assert json.loads(c.requests[1]["Input"]) == {"BackupId": "backup-1", "Round": 7, "Generation": 3}
    ran = cloud({"StartExecution": (400, _error("ExecutionAlreadyExists", "execution restore-1 already exists"))})
    assert ran.flows().start_once("nestbackup-restore", "restore-1", RestoreFlowInput("restore-1")) is False


def test_stop_generations_skips_ended_ones_and_stops_the_running_one(cloud):
    statuses = {"b-1": "Succeeded", "b-1-g2": "Succeeded", "b-1-g3": "Running"}

    c = cloud({})
    stopped = []

    def answer(params):
        name = params.get("ExecutionName")
        if params["Action"] == "DescribeExecution":
            if name not in statuses:
                return 404, _error("ExecutionNotExists", f"execution {name} not exists")
            return 200, DESCRIBE_EXAMPLE | {"Name": name, "Status": statuses[name]}
        if statuses[name] != "Running":
            return 400, _error("ExecutionAlreadyCompleted", "execution has already completed")
        stopped.append(name)
        statuses[name] = "Stopped"
        return 200, DESCRIBE_EXAMPLE | {"Name": name, "Status": "Stopped"}

    class Answers(dict):
        def __getitem__(self, action):
            return answer(c.requests[-1])

    c.answers = Answers()
    assert c.flows().stop_generations("nestbackup-backup", "b-1", "cancelled") == ["b-1-g3"]
    assert stopped == ["b-1-g3"] and statuses["b-1-g3"] == "Stopped"
    assert [r["Action"] for r in c.requests] == ["DescribeExecution"] * 3 + ["StopExecution", "DescribeExecution"]
