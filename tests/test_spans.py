"""Three days of data, retrained with warm start: rows carried over exactly, new ids fresh."""

import os

import pytest

from recsearch import bundle, testing
from recsearch.apps import demo
from recsearch.config import load_config
from recsearch.data import sample, spans

pytestmark = pytest.mark.slow

TINY = sample.SampleSpec(users=150, items=80, days=30, mean_sessions=4.0, seed=11)


def test_spans_are_found_and_windowed(tmp_path):
    demo.write_spans(str(tmp_path), sample.SampleSpec(users=20, items=15, days=6))
    path = str(tmp_path / "interactions" / "span-{SPAN}" / "events.csv")
    assert spans.available(path) == [1, 2, 3]
    assert spans.select(path, None, 1) == (3, [path.replace("{SPAN}", "3")])
    assert spans.select(path, 3, 2)[1] == [path.replace("{SPAN}", s) for s in ("2", "3")]
    with pytest.raises(Exception, match="span 7 does not exist"):
        spans.select(path, 7)


def test_three_spans_retrain_with_warm_start(tmp_path):
    output = str(tmp_path / "out")
    summaries = demo.spans(output, TINY, quiet=True, settings={"model": testing.LIGHT_MODEL})
    assert len(summaries) == 3
    assert summaries[0].baseline_metrics == {}
    written = load_config(os.path.join(output, "data", "config.yaml"))
    assert written.model.epochs == 3 and "{SPAN}" in written.interactions.path
    assert demo.warm_start_report(summaries[0]) == {}
    pushed = [s.pushed_to for s in summaries if s.pushed_to]
    assert len(bundle.versions(os.path.join(output, "serving", "shop"))) == len(pushed) >= 1
    for summary in summaries[1:]:
        # Each later day is judged against the newest blessed model.
        assert summary.baseline_metrics, summary.reasons
        assert bool(summary.pushed_to) == summary.blessed
        report = demo.warm_start_report(summary)
        items = report["tables"]["item_tower/embeddings/item_id/embeddings"]
        users = report["tables"]["user_tower/embeddings/user_id/embeddings"]
        # The vocabularies changed: some ids carried over, some new.
        assert items["carried"] > 0 and users["carried"] > 0
        assert items["new"] + users["new"] > 0
        assert items["carried_max_abs_difference"] == 0.0
        assert users["carried_max_abs_difference"] == 0.0
