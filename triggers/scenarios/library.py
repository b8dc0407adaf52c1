"""Recipes: ready scenarios (``recipes/*.yaml``), each with its Russian default templates.

A configured scenario ``{recipe: NAME, ...}`` is the recipe with the given keys replaced;
``steps`` are merged by id (a step of the recipe takes the fields given for its id, steps
with new ids come after the recipe's own). The built-in triggers work the same way: a
configured scenario with a built-in's id overrides it key by key.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml

RECIPE = "recipe"


@cache
def _recipes() -> dict[str, dict[str, Any]]:
    found = {}
    for entry in resources.files("triggers.scenarios").joinpath("recipes").iterdir():
        if entry.name.endswith(".yaml"):
            found[entry.name.removesuffix(".yaml")] = yaml.safe_load(entry.read_text("utf-8"))
    return found


def recipe_names() -> list[str]:
    """Every recipe's name."""
    return sorted(_recipes())


def recipe_templates() -> dict[str, dict[str, dict[str, str]]]:
    """The default templates of every recipe (template -> channel -> parts)."""
    merged: dict[str, dict[str, dict[str, str]]] = {}
    for recipe in _recipes().values():
        merged.update(recipe.get("templates", {}))
    return merged


def expand(definition: Mapping[str, Any], base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``definition`` with its ``recipe`` (or the given ``base``: a built-in) filled in;
    ValueError for a recipe that does not exist."""
    definition = dict(definition)
    name = definition.pop(RECIPE, None)
    if name is not None:
        recipes = _recipes()
        if not isinstance(name, str) or name not in recipes:
            raise ValueError(f"unknown recipe {name!r}; known: {recipe_names()}")
        base = recipes[name]["scenario"]
    if base is None:
        return definition
    return merge(base, definition)


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides``: keys replaced, steps merged by id."""
    merged = {**base, **overrides}
    if "steps" in overrides and "steps" in base and isinstance(overrides["steps"], list):
        steps = [dict(step) for step in base["steps"]]
        by_id = {step.get("id"): step for step in steps}
        for step in overrides["steps"]:
            if isinstance(step, Mapping) and step.get("id") in by_id:
                by_id[step["id"]].update(step)
            else:
                steps.append(step)
        merged["steps"] = steps
    return merged
