"""What only the Tablestore record store has to do (the port's contract is tests/contracts/test_record_store_contract.py):
split writes by Tablestore's request limits."""
import uuid

import pytest

from nestbackup.adapters.tablestore import Tablestore
from tests.support import make_ots


@pytest.fixture
def store(endpoint):
    store = Tablestore(make_ots(endpoint), table="t" + uuid.uuid4().hex[:12])
    assert store.ensure_table() is True
    assert store.ensure_table() is False
    return store


def test_a_record_whose_items_exceed_4_mb_per_200_rows_is_written_in_smaller_batches(store):
    """BatchWriteRow takes at most 4 MB of data (Tablestore General limits): 300 items with 22 KiB error messages
    are 6.8 MB, and 200 of them alone exceed the limit."""
    message = "the disk refused the snapshot: " + "e" * (22 * 1024)
    items = {f"d-{n:04}": {"status": "Failed", "error_message": message, "n": n} for n in range(300)}
    store.create("backup", "backup-big", "si-1", {"Status": "Failed"}, items)
    stored = store.read("backup-big")
    assert len(stored.items) == 300 and stored.items["d-0299"] == items["d-0299"]
    assert store.list_ids("si-1", "backup") == (["backup-big"], None)
