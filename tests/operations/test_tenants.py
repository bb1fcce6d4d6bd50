"""Tenants on the in-memory ports: a name is created once, whatever runs at the same time."""
import threading

import pytest

from nestbackup.errors import Conflict
from nestbackup.operations import tenants
from tests.support.memory.wiring import MemoryWiring


class _MeetOnTheName:
    """The documents port, with both creators held at their first touch of the name row until both are there: each
    has checked the name before either writes (the race the API's threads can lose)."""

    def __init__(self, store, parties: int) -> None:
        self.store, self.meeting = store, threading.Barrier(parties)

    def _meet(self, collection):
        if collection == tenants.NAMES:
            try:
                self.meeting.wait(timeout=2)
            except threading.BrokenBarrierError:
                pass

    def get_doc(self, collection, key):
        self._meet(collection)
        return self.store.get_doc(collection, key)

    def create_doc(self, collection, key, doc):
        self._meet(collection)
        return self.store.create_doc(collection, key, doc)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_two_creations_of_one_tenant_at_once_make_one_tenant_and_one_conflict():
    w = MemoryWiring()
    w.documents = _MeetOnTheName(w.store, 2)
    created, refused = [], []

    def create(instance):
        try:
            created.append(tenants.create_tenant(w, "acme", [instance]))
        except Conflict as err:
            refused.append(err)

    threads = [threading.Thread(target=create, args=(si,)) for si in ("si-1", "si-2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.documents = w.store
    assert len(created) == 1 and len(refused) == 1
    assert [t["Name"] for t in tenants.list_tenants(w)["Tenants"]] == ["acme"]     # no token row of the loser
    assert [doc["Instances"] for _, doc, _ in w.store.docs(tenants.TENANTS)] == [created[0]["Instances"]]
    tenants.delete_tenant(w, "acme")                                    # and the winner's token can be revoked
    assert tenants.authenticate(w, created[0]["Token"], None) is None
    assert w.store.docs(tenants.TENANTS) == [] and w.store.docs(tenants.NAMES) == []


def test_a_second_creation_of_a_name_is_a_conflict_and_writes_nothing():
    w = MemoryWiring()
    first = tenants.create_tenant(w, "acme", ["si-1"])
    with pytest.raises(Conflict):
        tenants.create_tenant(w, "acme", ["si-2"])
    assert [doc["Instances"] for _, doc, _ in w.store.docs(tenants.TENANTS)] == [["si-1"]]
    assert tenants.authenticate(w, first["Token"], None).instances == {"si-1"}
