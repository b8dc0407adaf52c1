"""`smartcomms scenarios check` on a configuration with many scenarios: the wall time of
the command as a user runs it (a new process: interpreter start, imports, validation,
templates checked against every step's vars), against `smartcomms --help` in the same run
(the start-up alone).

    python bench/scenarios_check.py [--scenarios 50] [--runs 5]

The configuration mixes every recipe (several times each, with overrides) and scenarios
written out by hand with conditions, `where` filters, exits and their own templates.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from common import ROOT

from triggers.scenarios.library import recipe_names


def written_out(n: int) -> dict[str, Any]:
    """A hand-written three-step chain with its own template."""
    return {
        "entry": {"on": "purchase", "where": {"total": {"gte": 100 + n}}},
        "restart": True,
        "reentry_days": 0,
        "exit_on": ["return", {"on": "cart_changed", "where": {"category": f"c{n}"}}],
        "steps": [
            {"id": "d1", "after": "1d", "template": f"custom_{n}"},
            {
                "id": "d3",
                "after": "3d",
                "at_local": "10:00",
                "if": {"any": [{"opened": "d1"}, {"spend_30d": {"lt": 5000}}]},
                "channels": ["email", "sms"],
                "template": f"custom_{n}",
            },
            {
                "id": "d7",
                "after": "7d",
                "if": {"not": {"purchases_since_entry": {"gt": 0}}},
                "template": f"custom_{n}",
                "vars": {"offer": "10 %"},
            },
        ],
    }


def configuration(count: int) -> dict[str, Any]:
    """``count`` scenarios: half from recipes, half written out, plus their templates."""
    recipes = recipe_names()
    scenarios: dict[str, Any] = {}
    templates: dict[str, Any] = {}
    for n in range(count):
        if n % 2 == 0:
            scenarios[f"recipe_{n}"] = {"recipe": recipes[n // 2 % len(recipes)]}
        else:
            scenarios[f"chain_{n}"] = written_out(n)
            templates[f"custom_{n}"] = {
                "default": {"text": "{{ first_name or 'Здравствуйте' }}, баланс {{ balance }}"},
                "email": {
                    "subject": "Для вас",
                    "text": "{{ total }}",
                    "html": "<p>{{ total }}</p>",
                },
            }
    return {"scenarios": scenarios, "templates": templates}


def wall(command: list[str], runs: int) -> float:
    """The best wall time of ``runs`` runs of ``command`` (which must exit 0)."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenarios", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = [str(Path(sys.executable).with_name("smartcomms"))]  # the installed command
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "scenarios.yaml"
        config.write_text(yaml.safe_dump(configuration(args.scenarios), allow_unicode=True))
        check = wall([*cli, "scenarios", "check", "--config", str(config)], args.runs)
        start = wall([*cli, "--help"], args.runs)
    print(
        f"scenarios check, {args.scenarios} scenarios: {check * 1000:,.0f} ms (best of {args.runs})"
    )
    print(f"baseline  smartcomms --help (start-up):  {start * 1000:,.0f} ms")
    print(f"validation itself: {(check - start) * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
