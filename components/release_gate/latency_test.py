"""The gate's latency measure: a slow model fails, a busy machine or a spike does not flip
a fast one. Real processes burn the CPU; no figure is mocked."""

import subprocess
import sys
import time

import numpy as np
import pytest

from recsearch.components.release_gate import latency

USERS = [f"u{i}" for i in range(5)]


def _compute(ms: float):
    """A call that computes (not sleeps) for about `ms` on a quiet core: CPU contention slows it."""
    a = np.random.default_rng(0).random((64, 64))

    def call(user):
        ended = time.perf_counter() + ms / 1000.0
        while time.perf_counter() < ended:
            a @ a

    return call


@pytest.fixture
def busy_machine():
    """Two processes that spin every core of this 2-core machine, each for at most 60 s."""
    spin = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(2)]
    time.sleep(0.3)
    yield
    for burner in burners:
        burner.kill()
        burner.wait()


def test_rounds_cycle_over_users_after_a_warm_up():
    asked = []
    timed = latency.time_calls(asked.append, USERS, calls=10, warmup=3)
    assert asked == [USERS[i % 5] for i in range(3)] + [USERS[i % 5] for i in range(10)]
    assert timed.calls == 10 and 0 <= timed.p50 <= timed.p99
    with pytest.raises(ValueError, match="at least one user"):
        latency.time_calls(asked.append, [])


def test_a_model_slower_than_the_budget_fails_in_both_rounds():
    timed = latency.measure(lambda user: time.sleep(0.012), USERS, 5.0, calls=30, pause=0)
    assert timed["p99"] > 5.0
    assert len(timed["rounds"]) == 2
    assert all(r["p99"] > 5.0 for r in timed["rounds"])


def test_a_fast_model_on_a_busy_machine_stays_under_budget(busy_machine):
    timed = latency.measure(_compute(2.0), USERS, 50.0, calls=100)
    assert timed["p99"] < 50.0, timed


def test_a_slow_model_on_a_busy_machine_still_fails(busy_machine):
    timed = latency.measure(_compute(30.0), USERS, 20.0, calls=20, pause=0)
    assert timed["p99"] > 20.0 and len(timed["rounds"]) == 2


def test_a_spike_in_one_round_is_measured_again():
    calls = {"n": 0}

    def spiky(user):
        calls["n"] += 1
        # Three 60 ms stalls among the first round's calls (the machine, not the model).
        if calls["n"] in (40, 80, 120):
            time.sleep(0.06)

    timed = latency.measure(spiky, USERS, 20.0, calls=100, warmup=5, pause=0)
    first, second = timed["rounds"]
    assert first["p99"] > 20.0 and second["p99"] < 20.0
    assert timed["p99"] == second["p99"]
    # Under budget, one round is enough.
    assert len(latency.measure(lambda u: None, USERS, 20.0, calls=20)["rounds"]) == 1
