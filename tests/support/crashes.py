"""A step of the product killed mid-way, for the end-to-end tests of crashes: the real wiring without CloudFlow (the
test drives the steps itself) and record stores that die right after the step's cloud call."""
from __future__ import annotations

from nestbackup.handlers import wiring


class NoFlow:
    """Stands in for CloudFlow so that the test drives the steps itself: an execution it was asked to start is
    Running until the test ends it."""

    def __init__(self):
        self.started = set()

    def start_once(self, flow, name, start):
        self.started.add((flow, name))
        return True

    def describe(self, flow, name):
        from nestbackup.ports.flows import Execution
        return Execution(name, "Running") if (flow, name) in self.started else None


class Killed(BaseException):
    pass


class KilledOnFirstItemWrite:
    """The records port of a handler that dies right after its cloud call, before recording the result."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def save(self, *args):
        raise Killed()


class KilledAfterIntent(KilledOnFirstItemWrite):
    """Records the RDS intent marker, then dies on the next write: right after CreateBackup was sent."""

    def __init__(self, store):
        super().__init__(store)
        self._writes = 0

    def save(self, *args):
        self._writes += 1
        if self._writes == 1:
            return self._store.save(*args)
        raise Killed()


def wiring_without_flow():
    """The product's real wiring (the environment's settings), its flows port a stand-in that starts nothing."""
    w = type(wiring())(wiring().settings)
    w.flows = NoFlow()
    return w
