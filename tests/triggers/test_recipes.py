"""Recipes: each loads as a scenario, and its Russian templates render for a sample
customer and one without the optional vars; an SMS fits one Cyrillic segment (70);
a step's own channels get a title (and an e-mail its HTML body)."""

from __future__ import annotations

import pytest

from channels.templates import TemplateSet
from smartcomms.config import Settings
from triggers.scenarios.library import recipe_names
from triggers.scenarios.program import compile_program, step_templates
from triggers.scenarios.vars import sample_vars

SMS_SEGMENT = 70
"""characters of one SMS segment in UCS-2 (any Cyrillic text)"""
TITLED = ("email", "push", "web_push")
"""channels whose message has a title (the e-mail subject, the push title)"""


@pytest.mark.parametrize("recipe", recipe_names())
def test_every_recipe_renders_per_channel_and_texts_fit_one_sms(recipe: str) -> None:
    settings = Settings.model_validate({"scenarios": {"r": {"recipe": recipe}}})
    templates = TemplateSet.with_overrides({})
    program = compile_program({"r": settings.scenarios["r"]}, templates.variables)
    templates.check_program(program)  # raises for a template a step cannot render
    scenario = program.scenarios["r"]
    for step in scenario.steps.values():
        for name in step_templates(step):
            assert "sms" in templates.channels_of(name), name
            for empty in (False, True):
                sms = templates.render(name, "sms", sample_vars(scenario, step, empty)).text
                assert len(sms) <= SMS_SEGMENT, (name, sms)
                assert any("а" <= ch.lower() <= "я" for ch in sms), sms  # Russian
            for channel in step.channels or ():
                shown = templates.render(name, channel, sample_vars(scenario, step))
                if channel in TITLED:
                    assert shown.subject, (name, channel)
                if channel == "email":
                    assert shown.html, name
