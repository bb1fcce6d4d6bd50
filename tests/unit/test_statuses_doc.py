"""docs/statuses.md and model/status.py say the same: every row of the doc's tables is checked against the code, and
every status of the code has its row."""
from __future__ import annotations

from pathlib import Path

import pytest

from nestbackup.model import status as st
from nestbackup.model.status import BackupStatus, DrillStatus, ItemStatus, RestoreStatus

DOC = Path(__file__).resolve().parents[2] / "docs" / "statuses.md"


def _table(header_start: str) -> list[dict[str, str]]:
    """The rows of the doc's table whose header row starts with `header_start`, as {column: cell}."""
    lines = DOC.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(header_start))
    columns = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(columns, (c.strip() for c in line.strip("|").split("|")))))
    return rows


def _yes(cell: str) -> bool:
    assert cell in ("yes", "no"), cell
    return cell == "yes"


RECORDS = {"backup": (BackupStatus, st.BACKUP_RULES), "restore": (RestoreStatus, st.RESTORE_RULES),
           "drill": (DrillStatus, st.DRILL_RULES)}


def test_the_record_table_is_the_code():
    rows = _table("| record | status | final |")
    for row in rows:
        enum, rules = RECORDS[row["record"]]
        rule = rules[enum(row["status"])]
        assert (rule.final, rule.restorable, rule.selectable, rule.exit_code, rule.compute_nest) == (
            _yes(row["final"]), _yes(row["restorable"]), _yes(row["selectable"]), int(row["exit code"]),
            _yes(row["Compute Nest"])), row
        assert st.exit_code(row["status"], row["record"]) == int(row["exit code"]), row
    for kind, (enum, _) in RECORDS.items():
        assert {r["status"] for r in rows if r["record"] == kind} == {s.value for s in enum}, kind


def test_the_item_table_is_the_code():
    rows = _table("| status | final | failure |")
    assert {r["status"] for r in rows} == {s.value for s in ItemStatus}
    for row in rows:
        rule = st.ITEM_RULES[ItemStatus(row["status"])]
        used = {u.strip() for u in row["used by"].split(",")}
        assert (rule.final, rule.failure, rule.backup, rule.restore, rule.drill, rule.copy) == (
            _yes(row["final"]), _yes(row["failure"]), "backup" in used, "restore" in used, "drill" in used,
            "copy" in used), row


def _items(cell: str) -> list[ItemStatus]:
    return [] if cell == "(none)" else [ItemStatus(s.strip()) for s in cell.split(",")]


@pytest.mark.parametrize("row", _table("| record | items | cancelled |"), ids=lambda r: f"{r['record']}:{r['items']}")
def test_each_roll_up_case_of_the_doc_is_what_the_code_computes(row):
    items, cancelled = _items(row["items"]), _yes(row["cancelled"])
    if row["record"] == "backup":
        assert st.aggregate_backup(items, cancelled) is BackupStatus(row["status"])
    elif row["record"] == "drill":
        assert st.aggregate_drill(items, _yes(row["finished"]), cancelled=cancelled) is DrillStatus(row["status"])
    else:
        assert st.aggregate_restore(items, _yes(row["finished"]), cancelled=cancelled) is RestoreStatus(row["status"])


def test_the_compute_nest_names_are_the_sdks():
    """The statuses marked Compute Nest's are exactly those its SDK documents (docs/cloud-fidelity.md)."""
    ours = {s.value for s, r in {**st.BACKUP_RULES, **st.RESTORE_RULES}.items() if r.compute_nest}
    assert ours == {"Creating", "Created", "CreateFailed", "Deleting", "Deleted", "DeleteFailed",
                    "Restoring", "Restored", "RestoreFailed"}


def test_the_schema_1_readings_of_the_doc_are_the_codes():
    rows = {r["before (schema 1)"]: r["read as"] for r in _table("| before (schema 1) |")}
    assert st.item_status_of("Failed", "Cancelled", 1) is ItemStatus(rows["resource Failed with `ErrorCode` Cancelled"])
    assert st.item_status_of("Failed", "NotRestored", 1, restore=True) is ItemStatus(
        rows["restore resource Failed with `ErrorCode` NotRestored"])
    assert st.item_status_of("Failed", "NotSwapped", 1, restore=True) is ItemStatus(
        rows["restore resource Failed with `ErrorCode` NotSwapped"])
    assert st.backup_status_of("CreateFailed", [ItemStatus.CANCELLED, ItemStatus.FAILED], 1) is BackupStatus(
        rows["backup CreateFailed with a Cancelled resource"])
    assert st.backup_status_of("CreateFailed", [ItemStatus.SUCCEEDED, ItemStatus.FAILED], 1) is BackupStatus(
        rows["backup CreateFailed with a Succeeded resource"])
    assert st.restore_status_of("RestoreFailed", "stopped in SafetyBackup: Cancelled: cancelled by the caller", 1) \
        is RestoreStatus(rows["restore RestoreFailed whose cause is Cancelled"])
    # a record of this schema is read as stored
    assert st.item_status_of("Failed", "Cancelled", st.SCHEMA_VERSION) is ItemStatus.FAILED
    assert st.backup_status_of("CreateFailed", [ItemStatus.SUCCEEDED], st.SCHEMA_VERSION) is BackupStatus.CREATE_FAILED
