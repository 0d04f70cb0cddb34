"""The size presets the form offers."""

from __future__ import annotations

from generations.domain import PRESETS


def test_every_preset_has_a_name_of_its_own():
    names = [preset.name for preset in PRESETS]

    assert len(set(names)) == len(names)
