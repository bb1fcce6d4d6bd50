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


LONG_BACKUPS = 400      # snapshots of 30 minutes: without the poll budget their rounds call DescribeSnapshots 1,000 a minute


def test_long_backups_poll_within_the_describe_apis_limit_and_every_backup_ends_created():
    outcome = Simulation(LONG_BACKUPS, snapshot_seconds=1800).run()

    assert outcome.statuses == Counter({"Created": LONG_BACKUPS})
    assert outcome.backups_per_instance == Counter({1: LONG_BACKUPS})
    peak, limit, _ = outcome.peaks["ecs:DescribeSnapshots"]
    assert peak <= limit == UNPUBLISHED_PER_MINUTE, outcome.peaks
    assert not any(outcome.refused.values()), outcome.refused


SWEPT = 1500            # more running operations than one sweep may describe within its time and CloudFlow's bucket


def test_the_sweeper_looks_at_what_fits_its_time_and_the_next_sweeps_go_on_until_every_record_was_looked_at():
    from nestbackup.operations.sweeper import SWEEP_SECONDS
    outcome = Simulation(SWEPT).run_sweeps()

    assert SWEEP_SECONDS <= outcome.timeout / 3
    assert outcome.looked_at == SWEPT                      # none left out
    assert outcome.sweeps > 1 and outcome.left[0] > 0      # one sweep could not do them all, the next went on
    assert outcome.longest <= SWEEP_SECONDS + 60 < outcome.timeout
    assert outcome.describe_refused == 0, outcome          # within CloudFlow's DescribeExecution bucket
