"""The report's parts: the feature table, the metric chart, the item cards."""

import pandas as pd

from recsearch.components.run_report import gather, plots, render


def test_item_content_is_described_from_the_catalog_split():
    train = pd.DataFrame(
        [
            {"feature": "user_id", "type": "string", "missing": 0.0, "summary": "3 unique"},
            {"feature": "item__title", "type": "string", "missing": 0.0, "summary": "empty"},
        ]
    )
    catalog = pd.DataFrame(
        [{"feature": "item__title", "type": "string", "missing": 0.25, "summary": "9 unique"}]
    )
    table = gather.with_catalog_content(train, catalog)
    assert table.loc[1, "summary"] == "9 unique (per item, from the catalog split)"
    assert table.loc[1, "missing"] == 0.25
    assert table.loc[0, "summary"] == "3 unique"  # not an item feature: as it was
    assert gather.with_catalog_content(train, None) is train


def test_metric_chart_has_a_bar_group_per_model_and_the_reference():
    import base64
    import io

    from PIL import Image

    def width(uri):
        data = base64.b64decode(uri.split(",", 1)[1])
        return Image.open(io.BytesIO(data)).size[0]

    metrics = {"recall@10": 0.3, "ndcg@10": 0.2}
    alone = plots.metric_bars(metrics, {})
    three = plots.metric_bars(metrics, {"recall@10": 0.25}, {"recall@10": 0.1}, "popularity")
    assert alone.startswith("data:image/png;base64,") and three != alone
    assert width(three) >= width(alone)  # the legend names three groups


def test_a_card_whose_title_is_its_id_shows_it_once():
    twice = render.card("Toy Story (1995)", "Toy Story (1995)", None, "score 1.0")
    assert twice.count("Toy Story (1995)") == 1
    both = render.card("i0001", "Red shoes", None)
    assert "i0001" in both and "Red shoes" in both
