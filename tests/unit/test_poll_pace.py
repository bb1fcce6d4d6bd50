"""Adaptive polling (issue 14): the next poll round is timed from each resource's progress, so a record ends within
max(5 s, 5 % of the elapsed time) after its last resource, without more rounds than the doubling schedule."""
from nestbackup.decisions.backup import Pace, next_poll_wait, next_wait


def simulate(durations: list[float], schedule: str, start_lag: float = 1.0) -> tuple[int, float, float]:
    """Poll rounds until every resource (linear progress over its duration, integer percent as the clouds report
    it) is done, with the given schedule: (rounds, latency after the last resource finished, elapsed)."""
    t, rounds = start_lag, 0
    last_end = max(durations)
    while True:
        rounds += 1
        running = [d for d in durations if t < d]
        if not running:
            return rounds, t - last_end, t
        if schedule == "doubling":
            wait = next_wait(rounds - 1)
        else:
            wait = next_poll_wait(t, 0.0, [Pace(0.0, int(100 * t / d)) for d in running], rounds - 1)
        t += wait


def test_near_the_end_the_record_is_final_within_five_percent_of_the_elapsed_time():
    for durations in ([60], [20, 300], [90, 600, 1200], [3600], [45, 46, 47], [7 * 3600]):
        rounds, latency, elapsed = simulate(durations, "adaptive")
        assert latency <= max(5, 0.05 * elapsed) + 1, (durations, latency, elapsed)


def test_adaptive_polling_makes_no_more_rounds_than_doubling():
    for durations in ([60], [20, 300], [90, 600, 1200], [3600], [7 * 3600]):
        adaptive, _, _ = simulate(durations, "adaptive")
        doubling, _, _ = simulate(durations, "doubling")
        assert adaptive <= doubling, (durations, adaptive, doubling)


def test_doubling_misses_the_prompt_goal_on_a_twenty_minute_snapshot():
    _, latency, elapsed = simulate([1200], "doubling")
    assert latency > 0.05 * elapsed          # what issue 14 measured: minutes after the snapshot finished


def test_without_progress_yet_the_doubling_schedule_is_kept():
    assert next_poll_wait(10, 0, [Pace(5, 0)], 3) == next_wait(3)
    assert next_poll_wait(10, 0, [], 0) == next_wait(0)


def test_the_cloud_estimate_of_the_time_left_is_used_when_given():
    assert next_poll_wait(100, 0, [Pace(0, 50, remain_seconds=1000)], 3) == 300     # capped at CloudFlow's Wait
    assert next_poll_wait(100, 0, [Pace(0, 50, remain_seconds=20)], 3) == 16
    assert next_poll_wait(100, 0, [Pace(0, 99, remain_seconds=2)], 3) == 5


def test_a_progress_that_misleads_never_costs_more_rounds_than_doubling():
    """A task that reports 95 % for an hour: the straight line keeps promising an end in seconds."""
    t, rounds = 1.0, 0
    while t < 3600:
        rounds += 1
        t += next_poll_wait(t, 0.0, [Pace(0.0, 95 if t > 10 else 5)], rounds - 1)
    doubling, _, _ = simulate([3600], "doubling")
    assert rounds <= doubling
