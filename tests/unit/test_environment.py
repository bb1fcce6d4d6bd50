"""The settings are the one reader (and writer) of the environment: no other module of the product touches
`os.environ`, `os.getenv` and their kin, so every variable the product depends on is found in `settings.py`."""
import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "shared" / "nestbackup", ROOT / "functions"]
THE_READER = ROOT / "shared" / "nestbackup" / "settings.py"
ENVIRONMENT = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_uses(path: Path) -> list[str]:
    """Each place `path` touches the environment, as "file:line os.<name>"."""
    tree = ast.parse(path.read_text(), str(path))
    os_names = {alias.asname or "os" for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names if alias.name == "os"}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT and \
                isinstance(node.value, ast.Name) and node.value.id in os_names:
            found.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found.extend((node.lineno, alias.name) for alias in node.names if alias.name in ENVIRONMENT)
    return [f"{path}:{line} os.{name}" for line, name in sorted(found)]


def environment_readers(roots: list[Path], reader: Path) -> list[str]:
    return [use for root in roots for path in sorted(root.rglob("*.py")) if path != reader
            for use in environment_uses(path)]


def test_only_the_settings_touch_the_environment():
    assert environment_readers(PRODUCT, THE_READER) == []


def test_a_module_reading_the_environment_is_found(tmp_path):
    (tmp_path / "settings.py").write_text("import os\nTOKEN = os.environ.get('A')\n")
    (tmp_path / "direct.py").write_text("import os\n\nTOKEN = os.environ.get('A')\n")
    (tmp_path / "aliased.py").write_text("import os as system\nsystem.environ.pop('HTTP_PROXY', None)\n")
    (tmp_path / "imported.py").write_text("from os import getenv\nTOKEN = getenv('A')\n")
    found = environment_readers([tmp_path], tmp_path / "settings.py")
    assert found == [f"{tmp_path}/aliased.py:2 os.environ", f"{tmp_path}/direct.py:3 os.environ",
                     f"{tmp_path}/imported.py:1 os.getenv"]


def test_a_loopback_endpoint_clears_the_proxy_variables_and_others_keep_them(monkeypatch):
    from nestbackup.settings import no_proxy_to
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    no_proxy_to("https://ecs.cn-hangzhou.aliyuncs.com")
    no_proxy_to("rds.aliyuncs.com")
    assert os.environ.get("HTTPS_PROXY") == "http://proxy:3128"
    no_proxy_to("http://127.0.0.1:8900")
    assert "HTTPS_PROXY" not in os.environ


def test_the_settings_name_the_secrets_and_carry_no_secret_value():
    """Database accounts and the admin token live in KMS secrets: the settings hold their names; a value left in the
    environment (the variables of before) is read by nothing."""
    from nestbackup.settings import Settings
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "ak", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sk",
           "NESTBACKUP_OTS_ENDPOINT": "https://i.cn-hangzhou.ots.aliyuncs.com",
           "NESTBACKUP_ADMIN_TOKEN": "s3cret-admin", "NESTBACKUP_DB_ACCOUNTS": '{"MySQL": {"Password": "pw-in-env"}}',
           "NESTBACKUP_ADMIN_TOKEN_SECRET": "adm", "NESTBACKUP_DB_ACCOUNTS_SECRET": "dba"}
    settings = Settings.from_env(env)
    assert (settings.admin_token_secret, settings.db_accounts_secret) == ("adm", "dba")
    assert settings.kms_endpoint == "kms.cn-hangzhou.aliyuncs.com" and settings.secret_ttl_seconds == 300
    assert "s3cret-admin" not in repr(settings) and "pw-in-env" not in repr(settings)
