"""Whether each artifact is encrypted, and with which key, as the cloud's APIs say; and the plan's warnings about
what is not. Pure: the port values' facts in, the record's `Encryption` ({"Encrypted", "KeyId", "By"}) out.

- A disk: DescribeDisks `Encrypted` / `KMSKeyId`; its snapshot: DescribeSnapshots `Encrypted` / `KMSKeyId` (read at
  each poll, so the record says what the artifact is, not only its disk).
- An RDS instance: DescribeDBInstanceTDE `TDEStatus` / `EncryptionKey` (instance-level TDE) and
  DescribeDBInstanceEncryptionKey's keys of `KeyUsage` DiskEncryption (cloud disk encryption). Its backup sets hold
  the encrypted data of either; `Encrypted` is None ("unknown") when RDS did not answer.
"""
from __future__ import annotations

from typing import Any


def of_disk(encrypted: bool | None, kms_key_id: str | None, by: str) -> dict[str, Any] | None:
    if encrypted is None:
        return None
    return {"Encrypted": encrypted, "KeyId": (kms_key_id or None) if encrypted else None, "By": by}


def of_database(tde: bool | None, tde_key: str | None, disk_key: str | None) -> dict[str, Any] | None:
    """`tde` None: DescribeDBInstanceTDE did not answer; `disk_key` None: DescribeDBInstanceEncryptionKey did not,
    "" it names no disk encryption key."""
    ways = [w for w, on in (("TDE", tde), ("cloud disk encryption", bool(disk_key))) if on]
    if ways:
        return {"Encrypted": True, "KeyId": disk_key or tde_key or None, "By": " and ".join(ways)}
    if tde is False and disk_key == "":
        return {"Encrypted": False, "KeyId": None, "By": "neither TDE nor cloud disk encryption"}
    return None


def warnings(encryption: dict[str, dict[str, Any] | None]) -> list[str]:
    """One line per resource that is not encrypted, or whose encryption the cloud did not say."""
    out = []
    for resource_id, found in sorted(encryption.items()):
        if found is None:
            out.append(f"{resource_id}: the cloud did not say whether it is encrypted")
        elif not found["Encrypted"]:
            out.append(f"{resource_id}: not encrypted ({found['By']}): its backups are not encrypted either")
    return out
