"""Each check names the argument and the value it refused, and lets good values through."""

import pytest

from recsearch.modules.models import arguments


def test_each_check_names_the_argument_and_value():
    arguments.positive(dim=1, temperature=0.1)
    arguments.non_negative(beta=0.0)
    arguments.fraction(dropout=0.0)
    arguments.one_of(("a", "b"), loss="b")
    with pytest.raises(ValueError, match=r"^temperature must be positive, got 0$"):
        arguments.positive(dim=4, temperature=0)
    with pytest.raises(ValueError, match=r"^beta must be non-negative, got -0.5$"):
        arguments.non_negative(beta=-0.5)
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 1\), got 1.0$"):
        arguments.fraction(dropout=1.0)
    with pytest.raises(ValueError, match=r"^loss must be one of \('a', 'b'\), got 'c'$"):
        arguments.one_of(("a", "b"), loss="c")
    with pytest.raises(ValueError, match="must be positive, got nan"):
        arguments.positive(rate=float("nan"))
