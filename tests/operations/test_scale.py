"""Many service instances scheduled for the same minute, under the clouds' API limits, in virtual time
(tests/support/scale.py says what is simulated; bench/scale_10k.py runs 10,000)."""
from collections import Counter

from tests.support.scale import LIMITS, UNPUBLISHED_PER_MINUTE, Simulation

INSTANCES = 700         # more creates than ECS takes in a minute (UNPUBLISHED_PER_MINUTE), fewer than 10,000 for speed


def test_a_minute_of_many_schedules_starts_within_the_create_apis_limits_and_every_backup_ends_created():
    assert INSTANCES > UNPUBLISHED_PER_MINUTE
    outcome = Simulation(INSTANCES).run()

    # every backup final and Created, exactly one per instance: none lost, none twice
    assert outcome.statuses == Counter({"Created": INSTANCES})
    assert outcome.backups_per_instance == Counter({1: INSTANCES})
    # no call the cloud would have throttled (the tick that started every due schedule at once sent 700
    # CreateSnapshotGroup/CreateSnapshot calls in its minute), and no execution count over CloudFlow's
    assert outcome.refused and not any(outcome.refused.values()), outcome.refused
    assert set(outcome.refused) <= set(LIMITS)
    assert outcome.running_peak <= 10_000
    # no invocation past its function's timeout
    assert all(0 < timeout and longest <= timeout for longest, timeout in outcome.longest.values()), \
        outcome.longest
    assert outcome.ticks > 1          # the schedules beyond a tick's budget fired on the following ticks
