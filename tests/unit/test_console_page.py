"""The console page as served: it loads nothing from elsewhere (it works with no Internet), and its colours follow the
status tables (docs/statuses.md): red only for a failure, neutral for what was skipped, not started, cancelled,
rolled back or deleted, so a cancel that touched nothing never looks like a disaster."""
import re

from nestbackup.api.console import PAGE, tones
from nestbackup.model.status import BackupStatus, ItemStatus, RestoreStatus


def test_the_page_loads_nothing_from_elsewhere():
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|@import|url\(|https?://""", PAGE)
    assert not re.search(r"\b__[A-Z]+__\b", PAGE)                           # every placeholder is filled


def test_every_status_has_a_colour_and_only_failures_are_red():
    colours = tones()
    assert set(colours["record"]) == {str(s) for s in BackupStatus} | {str(s) for s in RestoreStatus}
    assert set(colours["item"]) == {str(s) for s in ItemStatus}
    red = {s for s, tone in colours["record"].items() if tone == "bad"}
    assert red == {"CreateFailed", "DeleteFailed", "RestoreFailed"}
    assert colours["record"]["PartiallyCreated"] == "warn" and colours["record"]["Cancelled"] == "neutral"
    assert [s for s, tone in colours["item"].items() if tone == "bad"] == ["Failed"]
    for calm in ("Skipped", "NotStarted", "Cancelled", "RolledBack", "Deleted"):
        assert colours["item"][calm] == "neutral", calm
    assert {s for s, tone in colours["item"].items() if tone == "run"} == {"Pending", "Running"}
