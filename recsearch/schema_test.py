"""The curated sample schema: it accepts the sample shop and bounds what it should."""

import os

import tensorflow_data_validation as tfdv

from recsearch import testing
from recsearch.config import load_config
from recsearch.data import sample

SCHEMA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "schemas", "shop.pbtxt")


def test_curated_schema_accepts_the_sample_and_bounds_ratings(tmp_path):
    schema = tfdv.load_schema_text(SCHEMA)
    rating = tfdv.get_feature(schema, "rating")
    assert (rating.float_domain.min, rating.float_domain.max) == (1.0, 5.0)
    config = load_config(sample.write(str(tmp_path), sample.SampleSpec(users=60, items=40)))
    testing.write_raw_examples(config, str(tmp_path / "raw"))
    stats = tfdv.generate_statistics_from_tfrecord(str(tmp_path / "raw" / "Split-train" / "*"))
    anomalies = tfdv.validate_statistics(stats, schema)
    assert dict(anomalies.anomaly_info) == {}
