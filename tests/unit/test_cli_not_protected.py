"""`backup show`, `backup describe` and `plan` print what a backup does not protect."""
from click.testing import CliRunner

from nestbackup.cli import backup as backup_cli
from nestbackup.cli import plan as plan_cli

NOT_PROTECTED = [{"ResourceId": "app-assets", "ResourceType": "oss:bucket",
                  "Reason": "nestbackup does not back up oss resources"}]
RECORD = {"BackupId": "backup-1", "ServiceInstanceId": "si-1", "Status": "Created", "StartTime": "t0", "EndTime": "t1",
          "StatusDetail": "1 resource not protected (oss:bucket app-assets)", "NotProtected": NOT_PROTECTED,
          "Resources": []}
PLAN = {"ServiceInstanceId": "si-1", "Resources": [], "NotProtected": NOT_PROTECTED,
        "Warnings": ["1 resource not protected (oss:bucket app-assets): a backup does not include them"],
        "Estimate": {"FlowTransitions": 10, "FunctionSeconds": 5, "TotalUSD": 0.01}}


def _answers(monkeypatch, module, routes):
    monkeypatch.setattr(module.ApiClient, "call",
                        lambda self, method, path, body=None: routes[path])


def test_backup_show_and_describe_name_what_is_not_protected(monkeypatch):
    _answers(monkeypatch, backup_cli, {"/backups/backup-1": RECORD, "/backups/backup-1/events": {"Events": []}})
    for command in (["show", "backup-1"], ["describe", "backup-1"]):
        out = CliRunner().invoke(backup_cli.backup, [*command, "--endpoint", "http://127.0.0.1:1"])
        assert out.exit_code == 0, out.output
        assert "not protected: oss:bucket app-assets (nestbackup does not back up oss resources)" in out.output


def test_plan_warns_and_lists_what_is_not_protected(monkeypatch):
    _answers(monkeypatch, plan_cli, {"/service-instances/si-1/plan": PLAN})
    out = CliRunner().invoke(plan_cli.plan, ["--instance", "si-1", "--endpoint", "http://127.0.0.1:1"])
    assert out.exit_code == 0, out.output
    assert "warning: 1 resource not protected" in out.output and "not protected: oss:bucket app-assets" in out.output
