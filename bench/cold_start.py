"""Cold start of every handler as deployed, the cold starts one backup and one restore incur, and the layer's size.

As deployed means: FC's python3.10 (s.yaml's runtime), the built layer alone on the path (`scripts/build-layer`
first), bytecode writes off as on FC's read-only mounts. For each function a fresh process imports its handler and
builds the clients its first invocation builds (no cloud call); the figure is a ratio to importing the
ECS+RDS+FNF+Tablestore SDK clients on the same interpreter, in the same run (interpreter start-up subtracted from
both). Then:
- the same for the heaviest handler from a copy of the layer without its bytecode (the layer before it shipped it):
  FC would compile every module on every cold start;
- the floor the official packages set: `import tablestore` and tablestore with the Tea OpenAPI client, which any
  handler that keeps records and calls a cloud API needs;
- for one backup and one restore, the cold starts when FC reuses a warm instance for every later invocation of the
  same function (the API's, then each of its flow's functions, from flows/*.yaml), against one function per step.

Usage: .venv/bin/python bench/cold_start.py
"""
from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from timing import SDK_CLIENTS, best_of  # noqa: E402

LAYER = ROOT / "build" / "layer" / "python"
RUNTIME = ROOT / ".venv310" / "bin" / "python"   # s.yaml's python3.10, with the product SDKs for the baseline
RUNS = 7

HANDLER = """
import importlib.util, os
os.environ.update(ALIBABA_CLOUD_ACCESS_KEY_ID="ak", ALIBABA_CLOUD_ACCESS_KEY_SECRET="sk",
                  NESTBACKUP_CLOUD_ENDPOINT="http://127.0.0.1:9")
spec = importlib.util.spec_from_file_location("index", {path!r})
spec.loader.exec_module(importlib.util.module_from_spec(spec))
from nestbackup.handlers import wiring
w = wiring()
{uses}
"""
# What each handler's first invocation builds (the API and the timer touch every adapter; the steps that count rows
# or rename databases load the drivers).
USES = {"nestbackup-db-rename": "w.records; w.rds; import pymysql, psycopg2, pytds",
        "nestbackup-restore-steps": "w.records; w.ecs; w.rds; w.flows; import pymysql, psycopg2, pytds",
        "nestbackup-backup-steps": "w.records; w.ecs; w.rds; w.flows; import pymysql, psycopg2, pytds"}
DEFAULT_USES = "w.records; w.ecs; w.rds; w.flows"


def deployed(code: str, layer: Path) -> list[str]:
    """Run `code` as FC would: the runtime's stdlib and the layer only (-S: not the venv's site-packages)."""
    return [str(RUNTIME), "-S", "-c", f"import sys; sys.path.insert(0, {str(layer)!r})\n{code}"]


def invoked(flow: Path) -> tuple[list[str], set[tuple[str, str]]]:
    """The functions a flow invokes, and its distinct (function, step) pairs."""
    text = flow.read_text()
    functions = list(dict.fromkeys(re.findall(r"functions/([\w-]+)/", text)))
    steps = set(re.findall(r"functions/([\w-]+)/LATEST\n\s*body:\n\s*Step: (\w+)", text))
    steps |= {(f, "") for f in functions if not any(f == g for g, _ in steps)}
    return functions, steps


def main() -> int:
    if not (LAYER / "nestbackup").is_dir() or not RUNTIME.exists():
        print("build the layer first (scripts/build-layer) and set up .venv310 (scripts/setup)", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    bare, bare_deployed = best_of([str(RUNTIME), "-c", "pass"], RUNS), best_of(deployed("pass", LAYER), RUNS, env)
    sdks = best_of([str(RUNTIME), "-c", SDK_CLIENTS], RUNS) - bare

    def ratio(code: str, layer: Path = LAYER) -> float:
        return (best_of(deployed(code, layer), RUNS, env) - bare_deployed) / sdks

    print(f"on {RUNTIME.resolve().name} from the layer, as a ratio to importing the SDK clients ({sdks:.2f} s here):")
    ratios, sources = {}, {}
    for path in sorted((ROOT / "functions").glob("*/index.py")):
        name = path.parent.name
        sources[name] = HANDLER.format(path=str(path), uses=USES.get(name, DEFAULT_USES))
        ratios[name] = ratio(sources[name])
        print(f"  {name:<28} {ratios[name]:.2f}")
    heaviest = max(ratios, key=ratios.get)
    print(f"heaviest: {heaviest} {ratios[heaviest]:.2f} (goal <= 0.4)")
    with tempfile.TemporaryDirectory() as tmp:
        source_only = Path(tmp) / "python"
        shutil.copytree(LAYER, source_only, ignore=shutil.ignore_patterns("__pycache__"))
        compiled = ratio(sources[heaviest], source_only)
    print(f"{heaviest} from a layer without bytecode: {compiled:.2f}; with / without bytecode: "
          f"{ratios[heaviest] / compiled:.2f}")
    print(f"floor of the official packages: import tablestore {ratio('import tablestore'):.2f}; with the Tea OpenAPI "
          f"client {ratio('import tablestore, alibabacloud_tea_openapi.client'):.2f}")
    for flow in ("backup", "restore"):
        functions, steps = invoked(ROOT / "flows" / f"{flow}.yaml")
        now = ["nestbackup-api", *functions]
        per_step = 1 + len(steps)
        seconds = sum(ratios[f] for f in now) * sdks
        print(f"one {flow}: {len(now)} cold starts (the API and {', '.join(functions)}); one function per step: "
              f"{per_step}; ratio {len(now) / per_step:.2f}; their cold paths {seconds:.2f} s here")
    layer_zip = ROOT / "build" / "nestbackup-layer.zip"
    if layer_zip.exists():
        unpacked = sum(p.stat().st_size for p in LAYER.parent.rglob("*") if p.is_file())
        print(f"layer: {layer_zip.stat().st_size / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB unpacked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
