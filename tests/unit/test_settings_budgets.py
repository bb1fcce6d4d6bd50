"""Time budgets in the settings that must fit the functions' timeouts in s.yaml."""
import re
from pathlib import Path

from nestbackup.settings import Settings


def test_a_cancel_waits_for_rds_jobs_well_inside_the_api_functions_timeout():
    """Cancel runs in the API function; FC stops it at s.yaml's timeout, with the cancel half done."""
    text = (Path(__file__).resolve().parents[2] / "s.yaml").read_text()
    api = text[text.index("functionName: nestbackup-api"):]
    timeout = int(re.search(r"timeout: (\d+)", api).group(1))
    assert Settings.cancel_rds_wait_seconds <= timeout / 2, (Settings.cancel_rds_wait_seconds, timeout)
