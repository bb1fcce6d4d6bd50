"""10,000 service instances scheduled for the same minute, in virtual time, under the clouds' API limits.

Runs the real timer handler every virtual minute and the real flows in the local CloudFlow interpreter on the
in-memory ports (tests/support/scale.py says what is simulated: disk-only instances of one tiny disk whose snapshot
is accomplished at its first describe, a fixed cost per cloud and Tablestore call, virtual time). Prints the virtual
time until every backup is final, each API's peak calls in its limit's window against the limit (CloudFlow's as
published; ECS and RDS at one UNCONFIRMED figure), the most executions running at once, and the longest invocation
of each function against its s.yaml timeout. The wall time of the simulation is context only.

Then the sweeper over as many running backups (`--sweep-records`, default: --instances): the timer's sweep job every
10 virtual minutes until it has looked at every one; prints the sweeps it took, the longest sweep against the timer
function's timeout and DescribeExecution against CloudFlow's bucket.

Usage: .venv/bin/python bench/scale_10k.py [--instances 10000] [--starts-per-tick 200] [--snapshot-seconds 0]
       [--poll-calls-per-minute 400] [--sweep-records N]
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "shared")]
os.environ.setdefault("NESTBACKUP_LOG_LEVEL", "WARNING")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--starts-per-tick", type=int, default=None,
                        help="NESTBACKUP_SCHEDULE_STARTS_PER_TICK (default: the setting's default, 200)")
    parser.add_argument("--snapshot-seconds", type=float, default=0,
                        help="how long each snapshot takes (default 0: accomplished at its first describe)")
    parser.add_argument("--poll-calls-per-minute", type=int, default=None,
                        help="NESTBACKUP_POLL_CALLS_PER_MINUTE (default: the setting's, 400; 0: no poll budget)")
    parser.add_argument("--sweep-records", type=int, default=None,
                        help="running backups the sweeper looks at (default: --instances; 0: no sweeper run)")
    args = parser.parse_args()
    import logging
    logging.disable(logging.WARNING)
    from tests.support.scale import LIMITS, MAX_RUNNING_EXECUTIONS, Simulation, all_final

    settings = {} if args.starts_per_tick is None else {"schedule_starts_per_tick": args.starts_per_tick}
    if args.poll_calls_per_minute is not None:
        settings["poll_calls_per_minute"] = args.poll_calls_per_minute
    outcome = Simulation(args.instances, args.snapshot_seconds, **settings).run()
    ok = all_final(outcome) and outcome.within_limits
    print(f"{outcome.instances} instances scheduled at 03:00: every backup final after "
          f"{outcome.seconds_until_final:.0f} s of virtual time ({outcome.ticks} timer ticks); statuses "
          f"{dict(outcome.statuses)}; backups per instance "
          f"{dict(outcome.backups_per_instance)} (none lost, none twice: {all_final(outcome)})")
    print(f"{'API':<28} {'peak':>6}  limit")
    for api, (peak, _size, described) in outcome.peaks.items():
        refused = outcome.refused[api]
        print(f"{api:<28} {peak:>6}  {described}{'' if not refused else f'  -> {refused} calls over it'}"
              f"  [{LIMITS[api].source.split(',')[0]}]")
    print(f"executions running at once: peak {outcome.running_peak} (limit {MAX_RUNNING_EXECUTIONS})")
    for function, (longest, timeout) in outcome.longest.items():
        print(f"longest invocation of {function}: {longest:.1f} s (timeout {timeout} s)")
    print(f"within every limit: {outcome.within_limits}; simulation wall time {outcome.wall_seconds:.0f} s")
    records = args.instances if args.sweep_records is None else args.sweep_records
    if records:
        swept = Simulation(records).run_sweeps()
        limit = LIMITS["fnf:DescribeExecution"]
        print(f"sweeper over {swept.records} running backups: every one looked at ({swept.looked_at}) after "
              f"{swept.sweeps} sweeps, 10 minutes apart; longest sweep {swept.longest:.1f} s (timeout "
              f"{swept.timeout} s); DescribeExecution {swept.describes} calls, peak {swept.describe_peak} in a second "
              f"({limit.describe()}), {swept.describe_refused} over it; wall time {swept.wall_seconds:.0f} s")
        ok = ok and swept.looked_at == swept.records and swept.longest <= swept.timeout and not swept.describe_refused
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
