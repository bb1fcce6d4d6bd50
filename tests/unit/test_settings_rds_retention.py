"""NESTBACKUP_RDS_BACKUP_RETENTION_DAYS: CreateBackup's BackupRetentionPeriod for MySQL (7-730 days, or -1)."""
import pytest

from nestbackup.errors import ValidationError
from nestbackup.settings import Settings

BASE = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
        "NESTBACKUP_OTS_ENDPOINT": "http://127.0.0.1:1"}


@pytest.mark.parametrize("raw, days", [(None, None), ("", None), ("7", 7), ("730", 730), ("-1", -1)])
def test_accepted(raw, days):
    env = dict(BASE) if raw is None else {**BASE, "NESTBACKUP_RDS_BACKUP_RETENTION_DAYS": raw}
    assert Settings.from_env(env).rds_backup_retention_days == days


@pytest.mark.parametrize("raw", ["6", "731", "0", "-2", "week"])
def test_refused_with_the_variable_named(raw):
    with pytest.raises(ValidationError, match="NESTBACKUP_RDS_BACKUP_RETENTION_DAYS"):
        Settings.from_env({**BASE, "NESTBACKUP_RDS_BACKUP_RETENTION_DAYS": raw})
