"""The console in a real headless Chromium over a Redis a replay filled: every page loads
without console errors (with and without JavaScript), its numbers equal `smartcomms
report` and the replay's summary, the lookup finds a customer with contacts masked.
Screenshots of every page go to test-artifacts/console/."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.browser import Page, headless_chromium
from tests.console.conftest import Replayed

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
PAGES = {
    "overview": "/",
    "scenarios": "/scenarios",
    "scenario-retention": "/scenarios/retention",
    "delivery": "/delivery",
    "customer": "/customers?id=C0000007",
    "chains": "/chains",
    "overview-ru": "/?lang=ru",
    "scenario-welcome-ru": "/scenarios/welcome?lang=ru",
}
FIGURES = """
Object.fromEntries([...document.querySelectorAll('%s')].map(row => [row.dataset.%s,
  Object.fromEntries([...row.querySelectorAll('[data-figure]')].map(
    cell => [cell.dataset.figure, Number(cell.dataset.value)]))]))
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Page]:
    with headless_chromium() as page:
        yield page


def smartcomms_report(replayed: Replayed) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartcomms.cli",
            "report",
            "--config",
            str(replayed.config),
            "--redis-url",
            replayed.redis_url,
        ],
        env=replayed.env,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return dict(orjson.loads(done.stdout))


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_every_page_loads_without_console_errors(
    browser: Page, console_url: str, scripts: bool
) -> None:
    browser.scripts(scripts)
    try:
        for name, path in PAGES.items():
            browser.errors.clear()
            browser.open(console_url + path)
            assert browser.errors == [], (path, browser.errors)
            assert browser.evaluate("document.querySelector('h1').textContent.trim()") != ""
            if scripts:
                browser.screenshot(ARTIFACTS / f"{name}.png")
    finally:
        browser.scripts(True)
    assert browser.evaluate("document.documentElement.lang") == "ru"  # the last page


@pytest.mark.parametrize("scripts", [True, False], ids=["javascript", "no-javascript"])
def test_funnel_numbers_equal_smartcomms_report(
    browser: Page, console_url: str, replayed: Replayed, scripts: bool
) -> None:
    report = smartcomms_report(replayed)["scenarios"]
    assert report == replayed.report["scenarios"]  # live report = the replay's own
    assert report["retention"]["entered"] > 0 and report["retention"]["control"] > 0
    assert sum(figures["converted"] for figures in report.values()) > 0
    browser.scripts(scripts)
    try:
        for sid, figures in report.items():
            browser.open(f"{console_url}/scenarios/{sid}")
            rows = browser.evaluate(FIGURES % ("tr[data-step]", "step"))
            assert rows[""] == {"entered": figures["entered"], "control": figures["control"]}
            assert rows["*"] == {"converted": figures["converted"]}
            for step, counted in figures["steps"].items():
                assert rows[step] == {
                    "sent": counted["sent"],
                    "skipped": counted["skipped"],
                    "suppressed": sum(counted["suppressed"].values()),
                    "control": counted["control"],
                    "converted": counted["converted"],
                }, (sid, step)
            variants = browser.evaluate(FIGURES % ("tr[data-variant]", "variant"))
            assert variants == {
                vid: {key: v[key] for key in ("entered", "sent", "converted", "revenue")}
                for vid, v in figures["variants"].items()
            }
            shown = browser.evaluate(
                "Object.fromEntries([...document.querySelectorAll('dl.facts [data-figure]')]"
                ".map(e => [e.dataset.figure, Number(e.dataset.value)]))"
            )
            for key in ("revenue", "control_converted", "control_revenue"):
                assert shown[key] == pytest.approx(figures[key]), (sid, key)
            if "uplift" in figures:
                uplift = browser.evaluate(
                    "Number(document.querySelector('[data-figure=uplift]').dataset.value)"
                )
                assert uplift == pytest.approx(figures["uplift"]["uplift"])
    finally:
        browser.scripts(True)


def test_overview_counts_equal_the_replay(
    browser: Page, console_url: str, replayed: Replayed
) -> None:
    browser.open(console_url + "/")
    tiles = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('.tile [data-figure]')]"
        ".map(e => [e.dataset.figure, Number(e.dataset.value)]))"
    )
    summary = replayed.summary
    assert tiles["events"] == summary["events"]
    assert tiles["notices"] == summary["notices"] > 0
    assert tiles["dead_letters"] == summary["dead_letters"] > 0
    assert tiles["timers_fired"] == summary["timers_fired"] > 0  # replay counts them too
    tables = browser.evaluate(
        "Object.fromEntries([...document.querySelectorAll('section')].filter(s => s.id)"
        ".map(s => [s.id, Object.fromEntries([...s.querySelectorAll('tbody tr')]"
        ".filter(r => r.querySelector('[data-value]')).map(r => [r.querySelector('th')"
        ".textContent.trim(), Number(r.querySelector('[data-value]').dataset.value)])) ]))"
    )
    assert tables["events"] == summary["events_by_type"]
    assert tables["notices"] == summary["notices_by_trigger"]
    assert tables["suppressed"] == summary["suppressed"]
    assert tables["channels"] == by_first_channel(replayed)
    assert (
        browser.evaluate("Number(document.querySelector('[data-figure=duplicates]').dataset.value)")
        == summary["duplicates"]
        == 50
    )


def by_first_channel(replayed: Replayed) -> dict[str, int]:
    """Notices by the first channel of their cascade, counted from the notices."""
    counts: dict[str, int] = {}
    for line in replayed.notices.read_bytes().splitlines():
        channel = orjson.loads(line)["channels"][0]
        counts[channel] = counts.get(channel, 0) + 1
    return counts


def test_customer_lookup_finds_a_customer_with_contacts_masked(
    browser: Page, console_url: str, replayed: Replayed
) -> None:
    profiles = [orjson.loads(line) for line in replayed.events.read_bytes().splitlines()[:300]]
    customer = next(
        p for p in profiles if p.get("type") == "customer" and "phone" in (p.get("contacts") or {})
    )
    browser.open(console_url + "/customers")
    browser.submit(
        f"document.querySelector('#id').value = {orjson.dumps(customer['customer_id']).decode()};"
        "document.querySelector('form[role=search]').submit()"
    )
    assert browser.errors == []
    assert (
        browser.evaluate("document.querySelector('[data-customer]').dataset.customer")
        == (customer["customer_id"])
    )
    text = browser.evaluate("document.body.innerText")
    phone = customer["contacts"]["phone"]
    assert phone not in text and phone[:2] + "***" in text
    assert not {"None", "True", "False"} & set(text.split()), text  # read, not Python's
    browser.screenshot(ARTIFACTS / "customer-lookup.png")
    browser.submit(
        "document.querySelector('#id').value = 'nobody-here';"
        "document.querySelector('form[role=search]').submit()"
    )
    assert browser.evaluate("document.querySelector('[data-customer]')") is None
    assert "No such customer" in browser.evaluate("document.body.innerText")
