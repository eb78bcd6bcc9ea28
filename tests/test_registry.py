"""Registries: names to builders, given as callables or as entry points imported on first use."""

import sys

import pytest

from reward_learning.errors import UserInputError
from reward_learning.registry import Registry


def test_an_entry_point_is_imported_when_first_used_not_when_registered():
    sys.modules.pop("colorsys", None)
    registry = Registry("colour space", "--space")
    registry.register("hsv", "colorsys:rgb_to_hsv", "hue, saturation, value")
    assert "colorsys" not in sys.modules
    assert registry.build("hsv", 1.0, 0.0, 0.0) == (0.0, 1.0, 1.0)
    assert "colorsys" in sys.modules


def test_names_keep_their_order_and_an_unknown_one_is_one_line_naming_the_flag():
    registry = Registry("colour space", "--space")
    registry.register("rgb", lambda: "rgb", "as stored")
    registry.register("hsv", "colorsys:rgb_to_hsv", "hue, saturation, value")
    assert registry.names() == ("rgb", "hsv")
    assert registry.describe() == "rgb (as stored), hsv (hue, saturation, value)"
    with pytest.raises(UserInputError, match=r"^--space 'lab': expected one of rgb, hsv$"):
        registry.get("lab")
    with pytest.raises(ValueError, match="registered already"):
        registry.register("rgb", lambda: "again", "twice")
    registry.unregister("rgb")
    assert registry.names() == ("hsv",)


def test_every_bundled_entry_point_names_a_callable():
    from reward_learning.learner import ALGORITHMS, ENCODERS
    from reward_learning.questions import ORACLES, QUERY_STRATEGIES
    from reward_learning.reward import REWARD_MODES
    from reward_learning.tasks import POLICY_INPUTS

    for registry in (ALGORITHMS, ENCODERS, ORACLES, QUERY_STRATEGIES, REWARD_MODES, POLICY_INPUTS):
        for name in registry.names():
            assert callable(registry.get(name)), (registry.kind, name)
