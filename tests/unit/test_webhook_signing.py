"""The product signs deliveries with the standard library's hmac; the Standard Webhooks library, which receivers
use, must compute the same signature, for secrets made before the change (URL-safe alphabet) and since."""
import base64
import json
import os
from datetime import datetime, timezone

import pytest
from standardwebhooks import Webhook

from nestbackup.decisions import cloudevents as events
from nestbackup.decisions import webhooks as rules

KEY = bytes(range(250, 256)) + os.urandom(26)            # starts with bytes whose base64 holds + and /
NEW = "whsec_" + base64.b64encode(KEY).decode()
OLD = "whsec_" + base64.urlsafe_b64encode(KEY).decode().rstrip("=")


def test_a_signature_is_what_the_standard_library_computes():
    stamp, body = 1674087231, b'{"type":"com.nestbackup.backup.final"}'
    expected = Webhook(NEW).sign("whd-1", datetime.fromtimestamp(stamp, timezone.utc), body)
    assert rules.standard_signature([NEW], "whd-1", stamp, body) == expected
    assert rules.standard_signature([OLD], "whd-1", stamp, body) == expected      # the same key, spelled the old way
    both = rules.standard_signature([NEW, "whsec_" + base64.b64encode(b"k" * 32).decode()], "whd-1", stamp, body)
    assert both.split(" ")[0] == expected and len(both.split(" ")) == 2


def test_an_old_secret_reads_as_its_key_and_spells_as_the_spec_does():
    assert "-" in OLD or "_" in OLD
    assert rules.secret_key(OLD) == rules.secret_key(NEW) == KEY
    assert rules.standard_secret(OLD) == NEW
    with pytest.raises(ValueError):
        rules.secret_key("whsec_not*base64")


def test_a_restore_record_is_a_restore_event_though_it_names_its_backup():
    assert events.record_kind({"RestoreId": "r-1", "BackupId": "b-1"}) == ("restore", "r-1")
    assert events.record_kind({"BackupId": "b-1"}) == ("backup", "b-1")
    event = events.final_record_event({"BackupId": "b-1", "Status": "Created"}, "si-1", "2026-01-01T00:00:00Z")
    assert event["id"] == events.final_record_event({"BackupId": "b-1", "Status": "Created"}, "si-1",
                                                    "2027-01-01T00:00:00Z")["id"]
    assert event["time"] == "2026-01-01T00:00:00Z" and event["type"] == "com.nestbackup.backup.final"


def test_a_final_records_event_carries_no_hook_output():
    """What a hook prints on a tenant's machine stays on the record: events carry each run without its Output."""
    record = {"BackupId": "b-1", "Status": "Created",
              "Hooks": [{"InstanceId": "i-1", "Hook": "Pre", "ExitCode": 0, "Output": "secret=hunter2"}]}
    event = events.final_record_event(record, "si-1", "2026-01-01T00:00:00Z")
    assert event["data"]["Hooks"] == [{"InstanceId": "i-1", "Hook": "Pre", "ExitCode": 0}]
    assert "hunter2" not in json.dumps(event) and record["Hooks"][0]["Output"] == "secret=hunter2"
