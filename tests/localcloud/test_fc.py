"""Function Compute in the local cloud: functions and triggers deployed from s.yaml (refusing what FC refuses),
read back and invoked through the unmodified fc20230330 SDK, and HTTP triggers that answer only their methods."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from alibabacloud_fc20230330 import models as fcm
from alibabacloud_fc20230330.client import Client
from alibabacloud_tea_openapi import models as oa
from alibabacloud_tea_openapi.exceptions import ClientException

from localcloud import DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCESS_KEY_SECRET
from localcloud.cloud import LocalCloud
from localcloud.fc.syaml import DeploymentError, functions
from localcloud.server import LocalCloudServer

ROOT = Path(__file__).resolve().parents[2]
TEST_FUNCTIONS = Path(__file__).parent / "flows" / "functions"


def make_fc(endpoint: str) -> Client:
    return Client(oa.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret=DEFAULT_ACCESS_KEY_SECRET,
                            region_id="cn-hangzhou", endpoint=endpoint.removeprefix("http://"), protocol="http",
                            read_timeout=30000))


def serve(tmp_path, s_yaml: Path, **kw) -> LocalCloudServer:
    server = LocalCloudServer(LocalCloud(tmp_path / "state", s_yaml=s_yaml, **kw), port=0)
    server.start_in_thread()
    return server


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    server = serve(tmp_path_factory.mktemp("fc"), ROOT / "s.yaml", http_triggers={"/api": "nestbackup-api"})
    yield server
    server.stop()


def s_yaml_resources() -> dict:
    return yaml.safe_load((ROOT / "s.yaml").read_text())["resources"]


def test_every_fc3_function_of_s_yaml_is_deployed_as_written(product):
    fc = make_fc(product.endpoint)
    expected = {r["props"]["functionName"]: r["props"] for r in s_yaml_resources().values()
                if r["component"] == "fc3"}
    listed, token = [], None
    while True:                                           # paging: 4 per page, nextToken to the end
        page = fc.list_functions(fcm.ListFunctionsRequest(limit=4, next_token=token)).body
        listed += [f.function_name for f in page.functions]
        token = page.next_token
        if not token:
            break
    assert sorted(listed) == sorted(expected)
    api = fc.get_function("nestbackup-api", fcm.GetFunctionRequest()).body
    assert (api.handler, api.runtime, api.memory_size, api.timeout) == ("index.handler", "python3.10", 512, 60)
    assert api.role.endswith(":role/nestbackup-api")          # completed as the fc3 component does
    assert set(api.environment_variables) == set(expected["nestbackup-api"]["environmentVariables"])
    # s.yaml's Tablestore VPC endpoint is replaced by the local cloud's own, reached from the function's VPC
    assert api.environment_variables["NESTBACKUP_OTS_ENDPOINT"] == product.endpoint + "/_net/vpc/vpc-nestbackup"
    assert api.vpc_config.vpc_id == "vpc-nestbackup" and api.log_config.logstore == "default-logs"
    start = fc.get_function("nestbackup-db-rename", fcm.GetFunctionRequest()).body
    assert start.timeout == 900 and "NESTBACKUP_DB_ACCOUNTS_SECRET" in start.environment_variables


def test_triggers_are_read_back_with_their_configuration(product):
    fc = make_fc(product.endpoint)
    http = fc.get_trigger("nestbackup-api", "http").body
    config = json.loads(http.trigger_config)              # a JSON string in the API's Trigger model
    assert http.trigger_type == "http" and config["methods"] == ["GET", "POST", "PUT", "DELETE"]
    assert config["authType"] == "anonymous" and http.http_trigger.url_internet == product.endpoint + "/api"
    timers = fc.list_triggers("nestbackup-timer", fcm.ListTriggersRequest()).body.triggers
    assert {t.trigger_name: json.loads(t.trigger_config)["cronExpression"] for t in timers} == {
        "schedules": "0 * * * * *", "sweep": "0 */10 * * * *"}
    with pytest.raises(ClientException) as missing:
        fc.get_trigger("nestbackup-api", "nope")
    assert missing.value.code == "TriggerNotFound"
    with pytest.raises(ClientException) as missing:
        fc.get_function("nestbackup-nope", fcm.GetFunctionRequest())
    assert missing.value.code == "FunctionNotFound"


def test_a_wrong_secret_is_refused(product):
    fc = Client(oa.Config(access_key_id=DEFAULT_ACCESS_KEY_ID, access_key_secret="wrong", region_id="cn-hangzhou",
                          endpoint=product.endpoint.removeprefix("http://"), protocol="http"))
    with pytest.raises(ClientException) as refused:
        fc.get_function("nestbackup-api", fcm.GetFunctionRequest())
    assert refused.value.code == "SignatureDoesNotMatch"


def test_invoke_function_runs_the_deployed_handler(tmp_path):
    server = serve(tmp_path, TEST_FUNCTIONS / "s.yaml")
    try:
        resp = make_fc(server.endpoint).invoke_function(
            "double", fcm.InvokeFunctionRequest(body=b'{"x": 21}'))
        out = json.loads(resp.body.read())
        assert out == {"y": 42, "fn": "double", "ak": DEFAULT_ACCESS_KEY_ID, "eventType": "bytes"}
    finally:
        server.stop()


def call(url: str, method: str) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def test_http_trigger_answers_only_its_configured_methods(product):
    url = product.endpoint + "/api/backups/backup-none"
    assert call(url, "PUT") != 405 and call(url, "DELETE") != 405      # the API's routes reach the function
    assert call(url, "PATCH") == 405 and call(url, "OPTIONS") == 405    # not listed in s.yaml


def drifted_copy(tmp_path: Path, edit) -> Path:
    """s.yaml edited by `edit(resources)`, next to a link to the real functions/ (code paths stay valid)."""
    doc = yaml.safe_load((ROOT / "s.yaml").read_text())
    edit(doc["resources"])
    (tmp_path / "functions").symlink_to(ROOT / "functions")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_the_local_trigger_follows_s_yaml_not_the_code(tmp_path):
    def only_get_post(res):
        res["api"]["props"]["triggers"][0]["triggerConfig"]["methods"] = ["GET", "POST"]
    server = serve(tmp_path, drifted_copy(tmp_path, only_get_post), http_triggers={"/api": "nestbackup-api"})
    try:
        assert call(server.endpoint + "/api/backups/backup-none", "DELETE") == 405
    finally:
        server.stop()


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.update(runtime="python3.11"), "runtime 'python3.11' is not a Function Compute runtime"),
    (lambda p: p.update(functionName="1st"), "functionName '1st' must be"),
    (lambda p: p.update(functionName="x" * 65), "must be 1-64"),
    (lambda p: p.update(memorySize=100), "memorySize 100 is out of range"),
    (lambda p: p.update(memorySize=200), "multiple of 64"),
    (lambda p: p.update(timeout=86401), "timeout 86401 is out of range"),
    (lambda p: p.update(handler="index"), "handler 'index' must be"),
    (lambda p: p.update(handler="main.handler"), "main.py, which does not exist"),
    (lambda p: p.update(environmentVariables={"1BAD": "x"}), "must start with a letter"),
    (lambda p: p["triggers"][0]["triggerConfig"].update(methods=["GET", "TRACE"]), "['TRACE'] are not HTTP"),
    (lambda p: p["triggers"][0]["triggerConfig"].update(authType="none"), "authType 'none'"),
    (lambda p: p.update(triggers=[{"triggerName": "t", "triggerType": "timer",
                                   "triggerConfig": {"cronExpression": "*/10 * * * *", "enable": True}}]),
     "must have six fields"),
    (lambda p: p.update(triggers=[{"triggerName": "t", "triggerType": "timer",
                                   "triggerConfig": {"cronExpression": "0 61 * * * *", "enable": True}}]),
     "not a valid cron expression"),
    (lambda p: p.update(triggers=[{"triggerName": "t", "triggerType": "oss", "triggerConfig": {}}]),
     "triggerType 'oss' is not modelled"),
])
def test_deployment_refuses_what_function_compute_refuses(tmp_path, edit, message):
    path = drifted_copy(tmp_path, lambda res: edit(res["api"]["props"]))
    with pytest.raises(DeploymentError) as refused:
        functions(path)
    assert message in str(refused.value)


def test_timer_forms_fc_accepts(tmp_path):
    def timers(res):
        res["timer"]["props"]["triggers"][0]["triggerConfig"]["cronExpression"] = "@every 5m"
        res["timer"]["props"]["triggers"][1]["triggerConfig"]["cronExpression"] = "CRON_TZ=Asia/Shanghai 0 0 2 * * *"
    specs = {s.name: s for s in functions(drifted_copy(tmp_path, timers))}
    assert next(t.config["cronExpression"] for t in specs["nestbackup-timer"].triggers) == "@every 5m"


def test_variables_resolve_as_serverless_devs_does(tmp_path, monkeypatch):
    monkeypatch.setenv("NESTBACKUP_ACCOUNT_ID", "123456789012")
    monkeypatch.setenv("NESTBACKUP_OTS_ENDPOINT", "https://inst.cn-shanghai.ots.aliyuncs.com")
    specs = {s.name: s for s in functions(ROOT / "s.yaml")}
    assert specs["nestbackup-api"].role == "acs:ram::000000000000:role/nestbackup-api"      # bare name completed
    poll = specs["nestbackup-backup-steps"].environment                                 # ${vars.environment} whole
    assert poll["NESTBACKUP_OTS_ENDPOINT"] == "https://inst.cn-shanghai.ots.aliyuncs.com"
    assert specs["nestbackup-api"].environment["NESTBACKUP_ADMIN_TOKEN_SECRET"] == "nestbackup-admin-token"   # default


def test_a_second_local_cloud_in_the_process_deploys_with_its_own_endpoints_not_the_firsts(tmp_path):
    """The in-process functions share the process's environment, which a bound cloud fills (LocalCloud.bind); s.yaml's
    `${env('NESTBACKUP_OTS_ENDPOINT', …)}` once read the first cloud's Tablestore address from it, so the second
    cloud's functions signed with its role keys and called the first one's Tablestore ("AccessKeyID does not
    exist")."""
    first = LocalCloud(tmp_path / "a")
    first.bind("http://127.0.0.1:1")
    try:
        second = LocalCloud(tmp_path / "b")
        try:
            ots = second.fc.environment("http://127.0.0.1:2")["NESTBACKUP_OTS_ENDPOINT"]
            assert ots.startswith("http://127.0.0.1:2/"), ots
        finally:
            second.close()
    finally:
        first.close()


def test_the_http_trigger_joins_a_repeated_query_parameter_with_commas(tmp_path):
    """FC 3.0's HTTP trigger event: `queryParameters` maps a name to one string, "value1,value2" when repeated."""
    server = serve(tmp_path, ROOT / "s.yaml", http_triggers={"/api": "nestbackup-api"})
    seen = []
    server.cloud.fnf.functions.register("nestbackup-api", lambda event, ctx: seen.append(json.loads(event)) or {
        "statusCode": 200, "body": "{}"})
    try:
        assert call(server.endpoint + "/api/x?a=1&b=&a=2&c=3", "GET") == 200
    finally:
        server.stop()
    assert seen[0]["queryParameters"] == {"a": "1,2", "b": "", "c": "3"}


def test_timer_triggers_fire_at_the_times_of_their_cron():
    from datetime import datetime, timezone

    from localcloud.fc.timers import Timer, timers_of
    at = datetime(2026, 12, 6, 7, 59, 30, tzinfo=timezone.utc).timestamp()
    every_minute = Timer("f", "schedules", "0 * * * * *", '{"Job": "schedules"}')
    assert every_minute.next_fire(at, at) == at + 30
    assert every_minute.next_fire(at + 30, at) == at + 90                      # strictly after the last firing
    assert Timer("f", "sweep", "0 */10 * * * *", "").next_fire(at, at) == at + 30   # 08:00:00
    assert Timer("f", "t", "CRON_TZ=Asia/Shanghai 0 0 16 * * *", "").next_fire(at, at) == at + 30   # 08:00 UTC
    assert Timer("f", "t", "@every 10m", "").next_fire(at + 601, at) == at + 1200
    assert json.loads(every_minute.event(at + 30)) == {"triggerTime": "2026-12-06T08:00:00Z",
                                                        "triggerName": "schedules", "payload": '{"Job": "schedules"}'}
    deployed = functions(ROOT / "s.yaml", account_id="1")
    assert {(t.function, t.trigger, t.cron) for t in timers_of(deployed)} == {
        ("nestbackup-timer", "schedules", "0 * * * * *"), ("nestbackup-timer", "sweep", "0 */10 * * * *")}
    timer_function = next(spec for spec in deployed if spec.name == "nestbackup-timer")
    timer_function.triggers[0].config["enable"] = False                 # a disabled trigger never fires
    assert [t.trigger for t in timers_of(deployed)] == ["sweep"]


def test_an_invocation_past_its_timeout_ends_with_fcs_error_and_sends_nothing_after(tmp_path):
    """`sleeper` has a 1-second timeout in s.yaml; FC ends the invocation ("Function time out after") and stops the
    instance, so the request the handler would send after 1.5 s never arrives."""
    import http.server
    import threading
    import time
    hits = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/late"
    server = serve(tmp_path, TEST_FUNCTIONS / "s.yaml")
    try:
        fc = make_fc(server.endpoint)
        started = time.monotonic()
        resp = fc.invoke_function("sleeper", fcm.InvokeFunctionRequest(
            body=json.dumps({"sleep": 1.5, "url": url}).encode()))
        assert time.monotonic() - started < 1.4
        assert resp.headers.get("x-fc-error-type") == "UnhandledInvocationError"
        assert json.loads(resp.body.read())["errorMessage"] == "Function time out after 1 seconds"
        time.sleep(1.5)
        assert hits == []                                   # stopped at its timeout: the late request never left
        resp = fc.invoke_function("sleeper", fcm.InvokeFunctionRequest(   # within the timeout it is sent
            body=json.dumps({"sleep": 0, "url": url}).encode()))
        assert json.loads(resp.body.read()) == {"sent": True} and hits == ["/late"]
    finally:
        server.stop()
        receiver.shutdown()
