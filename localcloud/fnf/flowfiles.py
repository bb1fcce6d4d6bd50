"""The flow catalog: the `*.yaml`/`*.yml` definition files of a directory, loaded and re-read when a file changes.

A flow's name is its file's `Name`. A file that does not validate is kept with its error (the API answers
`InvalidDefinition` with the validator's message for that name), and so are two files defining the same name.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import yaml

from .definition import Flow, FlowDefinitionError, load_flow

log = logging.getLogger("localcloud.fnf")


@dataclass
class FlowFile:
    name: str
    path: Path
    text: str
    stamp: tuple[int, int]
    flow: Flow | None
    error: str | None


class FlowFiles:
    """The definitions of one directory (none when `directory` is None or missing)."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self._files: dict[Path, FlowFile] = {}
        self._lock = threading.Lock()

    def files(self) -> list[FlowFile]:
        """Every flow, one per name, re-reading the files that changed since the last call."""
        if self.directory is None or not self.directory.is_dir():
            return []
        paths = sorted(p for p in self.directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))
        out = []
        with self._lock:
            for path in paths:
                st = path.stat()
                stamp = (st.st_mtime_ns, st.st_size)
                cached = self._files.get(path)
                if cached is None or cached.stamp != stamp:
                    cached = self._load(path, stamp)
                    self._files[path] = cached
                out.append(cached)
        seen: dict[str, FlowFile] = {}
        for f in out:
            if f.name in seen:
                other = seen[f.name]
                msg = f"flow {f.name!r} is defined twice: {other.path.name} and {f.path.name}"
                seen[f.name] = FlowFile(f.name, f.path, f.text, f.stamp, None, msg)
            else:
                seen[f.name] = f
        return list(seen.values())

    @staticmethod
    def _load(path: Path, stamp: tuple[int, int]) -> FlowFile:
        text = path.read_text(encoding="utf-8")
        try:
            flow = load_flow(text)
            return FlowFile(flow.name, path, text, stamp, flow, None)
        except FlowDefinitionError as err:
            name = path.stem
            try:
                doc = yaml.safe_load(text)
                if isinstance(doc, dict) and isinstance(doc.get("Name"), str):
                    name = doc["Name"]
            except Exception:
                pass
            log.warning("flow definition %s does not load: %s", path, err)
            return FlowFile(name, path, text, stamp, None, f"{path.name}: {err}")
