"""What can be proved offline about a deployment: s.yaml renders with Serverless Devs and has the structure the
functions and flows need; the flows validate and name exactly the functions s.yaml deploys; the layer builds from
a clean tree for the runtime and the handlers import from its bytecode in a fresh venv."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from localcloud.fnf.definition import load_flow, parse_arn

ROOT = Path(__file__).resolve().parents[2]
S = ROOT / "build" / "s" / "node_modules" / ".bin" / "s"


@pytest.fixture(scope="module")
def rendered() -> dict:
    if not S.exists():
        pytest.skip("Serverless Devs is not installed (scripts/setup-deploy-tools)")
    done = subprocess.run([str(S), "preview", "-o", "json"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NESTBACKUP_ACCOUNT_ID": "123456789012"})
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{"):])


def functions_of(spec: dict) -> dict[str, dict]:
    return {r["props"]["functionName"]: r["props"] for r in spec["resources"].values() if r["component"] == "fc3"}


def test_s_yaml_renders_offline_with_every_function_complete(rendered):
    functions = functions_of(rendered)
    assert set(functions) == {p.name for p in (ROOT / "functions").iterdir() if (p / "index.py").exists()}
    for name, props in functions.items():
        assert (ROOT / props["code"] / "index.py").exists(), name
        assert props["handler"] == "index.handler" and props["runtime"].startswith("python3")
        assert 128 <= props["memorySize"] <= 32768 and props["memorySize"] % 64 == 0
        assert 1 <= props["timeout"] <= 86400
        assert re.fullmatch(r"nestbackup-(api|events|backup|restore|rename|timer)", props["role"]), name
        assert props["layers"] and props["environmentVariables"]["NESTBACKUP_OTS_ENDPOINT"].startswith("https://")
    triggers = {t["triggerType"]: t for p in functions.values() for t in p.get("triggers", [])}
    assert set(triggers) == {"http", "timer", "eventbridge"}
    for props in functions.values():
        for t in props.get("triggers", []):
            if t["triggerType"] == "timer":
                assert len(t["triggerConfig"]["cronExpression"].split()) == 6      # FC cron has seconds
                assert json.loads(t["triggerConfig"]["payload"])["Job"] in ("schedules", "sweep")


def test_flows_validate_and_name_exactly_the_deployed_functions(rendered):
    flows = {r["props"]["name"]: r["props"] for r in rendered["resources"].values() if r["component"] == "flow"}
    assert set(flows) == {yaml.safe_load(p.read_text())["Name"] for p in (ROOT / "flows").glob("*.yaml")}
    invoked = set()
    for path in (ROOT / "flows").glob("*.yaml"):
        text = path.read_text()
        load_flow(text, expected_name=yaml.safe_load(text)["Name"])            # the local interpreter's checks
        invoked |= {parse_arn(arn)[0] for arn in re.findall(r"resourceArn: (\S+)", text)}
        assert flows[yaml.safe_load(text)["Name"]]["definition"] == f"./build/flows/{path.name}"
    triggered = {n for n, p in functions_of(rendered).items() if p.get("triggers")}
    assert invoked | triggered == set(functions_of(rendered))                  # no function left unused
    assert invoked <= set(functions_of(rendered))                              # no flow calls a missing one


def test_rendered_flows_are_plain_and_filled_in(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts/render-flows"), "cn-shanghai", "123456789012"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    for path in (ROOT / "build" / "flows").glob("*.yaml"):
        text = path.read_text()
        assert "${" not in text and "&" not in text and "*retry" not in text
        assert "acs:fc:cn-shanghai:123456789012:functions/" in text
        load_flow(text, expected_name=yaml.safe_load(text)["Name"])


def test_layer_pins_match_the_project():
    pins = dict(line.split("==") for line in (ROOT / "deploy/layer-requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    project = (ROOT / "pyproject.toml").read_text()
    for name, version in pins.items():
        assert f'"{name}=={version}"' in project, name


def runtime_python() -> str:
    """The interpreter of the runtime s.yaml deploys to (python3.10), as scripts/build-layer finds it."""
    version = yaml.safe_load((ROOT / "s.yaml").read_text())["vars"]["runtime"].removeprefix("python")
    candidates = [*Path(os.popen("pyenv root 2>/dev/null").read().strip() or "/nonexistent").glob(
        f"versions/{version}.*/bin/python{version}"), Path(f"/usr/bin/python{version}")]
    found = [str(c) for c in candidates if c.exists()]
    assert found, f"python{version} (the functions' runtime) is not installed"
    return found[0]


LAYER_PROBE = """
import importlib.util, os, sys
os.environ.update(ALIBABA_CLOUD_ACCESS_KEY_ID="ak", ALIBABA_CLOUD_ACCESS_KEY_SECRET="sk",
                  NESTBACKUP_OTS_ENDPOINT="https://x.cn-hangzhou.ots.aliyuncs.com")
from nestbackup.handlers import operation, wiring
for path in sorted(__import__('glob').glob({functions!r})):
    spec = importlib.util.spec_from_file_location(path.split('/')[-2].replace('-', '_'), path)
    index = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(index)
    for target in [*getattr(index, 'OPERATIONS', {{}}).values(), *getattr(index, 'JOBS', {{}}).values(),
                   *getattr(index, 'AFTER', {{}}).values()]:
        operation(target)       # what each step imports on its first invocation
w = wiring(); w.ecs, w.rds, w.flows, w.records
import pymysql, psycopg2, pytds  # the drivers of db-rename and of the row counts
assert not [m for m in sys.modules if m.startswith(('alibabacloud_ecs', 'alibabacloud_rds', 'click', 'yaml'))]
layer = {layer!r}
loaded = [m.__file__ for m in list(sys.modules.values())
          if (getattr(m, '__file__', None) or '').startswith(layer) and m.__file__.endswith('.py')]
print("modules", len(loaded))
print("compiled at start", [f for f in loaded if not os.path.exists(importlib.util.cache_from_source(f))])
print("ok", sys.version_info[:2], sys.modules['nestbackup'].__file__)
"""


@pytest.mark.timeout(900)
def test_the_layer_builds_for_the_runtime_and_the_handlers_import_from_its_bytecode(tmp_path):
    """On the runtime's interpreter, from the layer alone, with bytecode writes off as on FC's read-only mounts:
    the handlers import and build their clients, and no module is compiled at start."""
    python = runtime_python()
    version = python.rsplit("python", 1)[1]
    built = subprocess.run([str(ROOT / "scripts/build-layer"), version], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]
    assert f"layer for python {version}" in built.stdout
    venv = tmp_path / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True)
    layer = str(ROOT / "build/layer/python")
    probe = LAYER_PROBE.format(functions=str(ROOT / "functions/*/index.py"), layer=layer)
    # FC's runtime ships older SDKs of its own; should they come first on the path, the layer's must still win.
    builtin = tmp_path / "runtime-builtins"
    for name in ("tablestore", "pymysql", "requests"):
        (builtin / name).mkdir(parents=True)
        (builtin / name / "__init__.py").write_text("raise ImportError('the runtime built-in shadowed the layer')")
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": f"{builtin}:{layer}", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([str(venv / "bin/python"), "-c", probe], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"ok ({version.replace('.', ', ')})" in done.stdout and "build/layer/python/nestbackup" in done.stdout
    assert int(re.search(r"modules (\d+)", done.stdout).group(1)) > 100
    assert "compiled at start []" in done.stdout, done.stdout
    # Every distribution in the layer is locked at the version the lock names, and the lock holds the direct pins.
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--path", layer], capture_output=True, text=True).stdout
    lock = (ROOT / "deploy/layer-lock.txt").read_text()
    locked = {line.lower() for line in lock.splitlines() if "==" in line}
    assert {line.lower() for line in frozen.splitlines() if "==" in line} == locked
    for pin in (ROOT / "deploy/layer-requirements.txt").read_text().splitlines():
        if "==" in pin:
            assert pin.lower() in locked, pin


def test_bootstrap_creates_the_table_once(endpoint):
    env = {**{k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
           "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIlocal", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "local-secret",
           "NESTBACKUP_OTS_ENDPOINT": endpoint, "NESTBACKUP_OTS_INSTANCE": "deploy-test",
           "NESTBACKUP_OTS_TABLE": "boot"}
    run = lambda: subprocess.run([sys.executable, "-m", "nestbackup.cli.main", "bootstrap"],  # noqa: E731
                                 capture_output=True, text=True, env=env, timeout=120)
    first, second = run(), run()
    assert first.returncode == 0 and "created table boot in deploy-test" in first.stdout, first.stderr
    assert second.returncode == 0 and "already exists" in second.stdout
    env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "wrong"
    refused = run()
    assert refused.returncode == 1 and len(refused.stderr.strip().splitlines()) == 1


# What the Serverless Devs 3 `flow` component reads from props [repo: devsapp/fnf@3fd635b:src/impl/flow.ts]
FLOW_COMPONENT_PROPS = {"region", "name", "definition", "description", "type", "executionMode", "roleArn"}


def test_flow_resources_use_only_props_the_flow_component_reads(rendered):
    flows = [r["props"] for r in rendered["resources"].values() if r["component"] == "flow"]
    assert sorted(p["name"] for p in flows) == ["nestbackup-backup", "nestbackup-drill", "nestbackup-restore"]
    for props in flows:
        assert set(props) <= FLOW_COMPONENT_PROPS and {"region", "name", "definition", "roleArn"} <= set(props)
        assert props["roleArn"] == "acs:ram::123456789012:role/nestbackup-flow"
