"""The scale benchmark's arithmetic and its shop (the runs themselves are benchmarks)."""

import math

from recsearch.apps.bench import scale_bench


def test_parse_size():
    assert scale_bench.parse_size("1m") == 1_000_000
    assert scale_bench.parse_size("300k") == 300_000
    assert scale_bench.parse_size("2.5M") == 2_500_000
    assert scale_bench.parse_size("5000") == 5000


def test_growth_exponent_is_the_log_log_slope():
    sizes = [1_000_000, 3_000_000, 10_000_000]
    assert math.isclose(scale_bench.growth_exponent(sizes, [60.0, 180.0, 600.0]), 1.0)
    assert math.isclose(scale_bench.growth_exponent(sizes, [10.0, 90.0, 1000.0]), 2.0)
    assert scale_bench.growth_exponent([1000], [1.0]) is None


def test_ids_only_shop_drops_every_side_table(tmp_path):
    full = scale_bench.shop_config(str(tmp_path), 2600, "full")
    ids = scale_bench.shop_config(str(tmp_path), 2600, "ids")
    assert full.items is not None and full.users is not None
    assert ids.items is None and ids.users is None and ids.features.crosses == ()
    assert ids.interactions == full.interactions
    with open(ids.resolve(ids.interactions.path)) as f:
        assert 1000 < sum(1 for _ in f) < 5000  # about the size asked
