"""Cold start of every handler, the cold starts one backup and one restore incur, and the size of the layer.

For each function: a fresh process imports its handler and builds the clients its first invocation builds (no
cloud call), as a ratio to importing the ECS+RDS+FNF+Tablestore SDK clients in the same run (interpreter start-up
subtracted from both). Then, for one backup and one restore, the cold starts when FC reuses a warm instance for
every later invocation of the same function (one per function the operation invokes: the API's, then each of its
flow's functions; read from flows/*.yaml), against one function per step (the earlier layout), and the time they
cost. Then the layer's size, if scripts/build-layer has run.

Usage: .venv/bin/python bench/cold_start.py
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from timing import SDK_CLIENTS, best_of  # noqa: E402

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
# What each handler's first invocation builds (the API and the timer touch every adapter).
USES = {"nestbackup-db-rename": "w.records; w.rds; import pymysql, psycopg2, pytds",
        "nestbackup-restore-steps": "w.records; w.ecs; w.rds; w.flows; import pymysql, psycopg2, pytds",
        "nestbackup-backup-steps": "w.records; w.ecs; w.rds; w.flows; import pymysql, psycopg2, pytds"}
DEFAULT_USES = "w.records; w.ecs; w.rds; w.flows"



def invoked(flow: Path) -> tuple[list[str], set[tuple[str, str]]]:
    """The functions a flow invokes, and its distinct (function, step) pairs."""
    import re
    text = flow.read_text()
    functions = list(dict.fromkeys(re.findall(r"functions/([\w-]+)/", text)))
    steps = set(re.findall(r"functions/([\w-]+)/LATEST\n\s*body:\n\s*Step: (\w+)", text))
    steps |= {(f, "") for f in functions if not any(f == g for g, _ in steps)}
    return functions, steps


def main() -> int:
    bare, sdks = best_of("pass"), best_of(SDK_CLIENTS)
    ratios = {}
    for path in sorted((ROOT / "functions").glob("*/index.py")):
        name = path.parent.name
        cold = best_of(HANDLER.format(path=str(path), uses=USES.get(name, DEFAULT_USES)))
        ratios[name] = (cold - bare) / (sdks - bare)
        print(f"{name:<30} cold start / SDK clients import: {ratios[name]:.2f}")
    heaviest = max(ratios, key=ratios.get)
    print(f"heaviest: {heaviest} {ratios[heaviest]:.2f} (goal <= 0.4)")
    for flow in ("backup", "restore"):
        functions, steps = invoked(ROOT / "flows" / f"{flow}.yaml")
        now = ["nestbackup-api", *functions]
        per_step = 1 + len(steps)
        seconds = sum(ratios[f] for f in now) * (sdks - bare)
        print(f"one {flow}: {len(now)} cold starts (the API and {', '.join(functions)}); one function per step: "
              f"{per_step}; ratio {len(now) / per_step:.2f}; their cold paths {seconds:.2f} s here")
    layer = ROOT / "build" / "nestbackup-layer.zip"
    if layer.exists():
        unpacked = sum(p.stat().st_size for p in (ROOT / "build/layer").rglob("*") if p.is_file())
        print(f"layer: {layer.stat().st_size / 2**20:.1f} MiB zipped, {unpacked / 2**20:.1f} MiB unpacked")
    else:
        print("layer: not built (scripts/build-layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
