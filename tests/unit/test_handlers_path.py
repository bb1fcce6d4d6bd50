"""The handlers put the layer they were loaded from first on sys.path, before any SDK is imported."""
from pathlib import Path

import nestbackup
from nestbackup.handlers import layer_first


def test_the_layer_goes_first_once_and_nothing_else_moves():
    root = str(Path(nestbackup.__file__).resolve().parents[1])
    path = ["/var/fc/runtime/site-packages", "/code", root, "/other"]
    layer_first(path)
    assert path == [root, "/var/fc/runtime/site-packages", "/code", "/other"]
    layer_first(path)
    assert path == [root, "/var/fc/runtime/site-packages", "/code", "/other"]
