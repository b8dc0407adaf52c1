"""Message templates per trigger and channel: Jinja2 in a sandbox, Russian defaults.

A template has, per channel, parts: ``text`` (always; the notice's ``text`` for its first
channel), ``subject`` (e-mail subject, push title) and ``html`` (e-mail). A channel without
its own parts uses ``default``. Variables are strict: a template that needs a variable its
trigger does not provide fails when the templates are loaded, not when a message is sent.

Filters for marketers: ``number`` (1 990), ``money`` (1 990,00 ₽), ``bonuses`` (21 бонус),
``plural(one, few, many)``, ``greet(first_name)`` («Анна, …» or a capitalised sentence).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import concat
from markupsafe import Markup, escape

from smartcomms.config import CHANNELS, ConfigError
from triggers.scenarios.builtin import builtin_definitions
from triggers.scenarios.library import recipe_templates
from triggers.scenarios.model import ScenarioSpec
from triggers.scenarios.program import Program, compile_program, step_templates
from triggers.scenarios.vars import MAY_BE_EMPTY, sample_vars

NBSP = "\u00a0"
PARTS = ("subject", "text", "html")


def plural(n: float, one: str, few: str, many: str) -> str:
    """Russian plural form for n: 1 бонус, 2 бонуса, 5 бонусов, 1,5 бонуса."""
    if n != int(n):
        return few
    n = abs(int(n))
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def number(value: float) -> str:
    """Russian number format: 1 990 and 1 990,5 (non-breaking space between thousands)."""
    if value == int(value):
        return f"{int(value):,}".replace(",", NBSP)
    whole, frac = f"{value:,.2f}".split(".")
    return whole.replace(",", NBSP) + "," + frac.rstrip("0")


def money(value: float) -> str:
    """Roubles the Russian way: 1 990,00 ₽."""
    whole, frac = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', NBSP)},{frac}{NBSP}₽"


def bonuses(n: float) -> str:
    """«21 бонус», «1 003 бонуса»."""
    return f"{number(n)} {plural(n, 'бонус', 'бонуса', 'бонусов')}"


def greet_text(text: str, first_name: str | None) -> str:
    """«Анна, начислено …» with a name, «Начислено …» without."""
    text = text.strip()
    if first_name:
        return f"{first_name}, {text}"
    return text[:1].upper() + text[1:]


@pass_eval_context
def greet(eval_ctx: EvalContext, text: str, first_name: str | None) -> str:
    """The ``greet`` filter: in HTML the name is escaped like any other value."""
    if not eval_ctx.autoescape:
        return greet_text(text, first_name)
    return Markup(greet_text(escape(text), escape(first_name) if first_name else None))


_BONUS = (
    "{% filter greet(first_name) %}"
    "{% if earned %}начислено {{ earned|bonuses }}, {% endif %}"
    "{% if spent %}списано {{ spent|bonuses }}, {% endif %}"
    "на счёте {{ balance|number }}.{% endfilter %}"
)
_CART_ITEMS = (
    "{{ 'ждёт' if items|plural('1', '2', '5') == '1' else 'ждут' }} {{ items }} "
    "{{ items|plural('товар', 'товара', 'товаров') }} на {{ total|money }}"
)
_CART = (
    "{% filter greet(first_name) %}в корзине " + _CART_ITEMS + ". "
    "Оформите заказ, пока они в наличии.{% endfilter %}"
)
_WIN_BACK = "{% filter greet(first_name) %}давно не виделись! {{ offer }}.{% endfilter %}"

DEFAULT_TEMPLATES: dict[str, dict[str, dict[str, str]]] = {
    "bonus_earned": {
        "default": {"text": _BONUS},
        "push": {"subject": "Бонусы за покупку", "text": _BONUS},
        "email": {
            "subject": "{{ earned|bonuses }} за покупку",
            "text": _BONUS,
            "html": "<p>" + _BONUS + "</p><p>Чек {{ receipt_id }} на {{ total|money }}.</p>",
        },
    },
    "abandoned_cart": {
        "default": {"text": _CART},
        "push": {"subject": "Вы забыли корзину", "text": _CART},
        "sms": {"text": "В корзине " + _CART_ITEMS + ". Завершите заказ на сайте"},
        "email": {
            "subject": "Товары ждут вас в корзине",
            "text": _CART,
            "html": "<p>" + _CART + "</p><ul>{% for line in lines %}<li>{{ line.sku }} × "
            "{{ line.qty|number }} — {{ line.amount|money }}</li>{% endfor %}</ul>",
        },
    },
    "win_back": {
        "default": {"text": _WIN_BACK},
        "push": {"subject": "Мы скучаем", "text": _WIN_BACK},
        "sms": {"text": "Давно не виделись! {{ offer }}"},
        "email": {
            "subject": "Мы скучаем по вам",
            "text": _WIN_BACK,
            "html": "<p>" + _WIN_BACK + "</p>",
        },
    },
}


def _builtin_program() -> Program:
    specs = {sid: ScenarioSpec.model_validate(d) for sid, d in builtin_definitions().items()}
    return compile_program(specs, lambda _template: ())


SAMPLE_VARS: dict[str, dict[str, Any]] = {
    sid: sample_vars(scenario, scenario.steps[scenario.first])
    for sid, scenario in _builtin_program().scenarios.items()
}
"""What each built-in trigger puts in ``vars`` (a sample customer's)."""


def without_optional(vars: Mapping[str, Any]) -> dict[str, Any]:
    """``vars`` as a customer who has none of the optional ones would get them (no name,
    no purchase yet, no tier...): templates are checked so too, so that ``{{ first_name.
    upper() }}`` fails at load, not for the first nameless customer."""
    return {**vars, **{name: v for name, v in MAY_BE_EMPTY.items() if name in vars}}


class TemplateConfigError(ConfigError):
    """A template does not compile or needs a variable its trigger does not provide."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message for one channel."""

    text: str
    subject: str | None = None
    html: str | None = None


class _Part:
    """One compiled part of a template. It renders without the copy of the vars and the
    environment's globals that every `Template.render` makes (half its time for a short
    message) when it reads no global (``range``, ``dict``, ...): then its context is over
    the message's vars themselves. The compiled code is the same, sandbox checks included."""

    __slots__ = ("_reads_globals", "_template")

    def __init__(self, env: SandboxedEnvironment, source: str) -> None:
        self._template = env.from_string(source)
        names = {node.name for node in env.parse(source).find_all(nodes.Name)}
        self._reads_globals = bool(names & set(env.globals))

    def render(self, vars: Mapping[str, Any]) -> str:
        """``Template.render(vars).strip()``."""
        template = self._template
        if self._reads_globals:
            context = template.new_context(dict(vars))
        else:  # without the set of the globals' names a context makes (for imports only)
            env = template.environment
            context = env.context_class(env, vars, template.name, template.blocks)  # type: ignore[arg-type]
        return str(concat(template.root_render_func(context))).strip()


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False
    )
    env.filters.update(number=number, money=money, bonuses=bonuses, plural=plural, greet=greet)
    return env


class TemplateSet:
    """Compiled templates: ``render(template, channel, vars)``."""

    def __init__(self, sources: Mapping[str, Mapping[str, Mapping[str, str]]]) -> None:
        text_env, html_env = _environment(False), _environment(True)
        self._text_env, self._html_env = text_env, html_env
        self._compiled: dict[tuple[str, str], dict[str, _Part]] = {}
        self._sources = {
            (name, channel): parts
            for name, channels in sources.items()
            for channel, parts in channels.items()
        }
        for name, channels in sources.items():
            unknown_channels = set(channels) - {"default", *CHANNELS}
            if unknown_channels:
                raise TemplateConfigError(
                    f"template {name!r}: no channel {sorted(unknown_channels)}; "
                    f"known: default, {', '.join(CHANNELS)}"
                )
            if "default" not in channels:
                raise TemplateConfigError(f"template {name!r} has no 'default' channel")
            for channel, parts in channels.items():
                if "text" not in parts:
                    raise TemplateConfigError(f"template {name}.{channel} has no 'text'")
                unknown = set(parts) - set(PARTS)
                if unknown:
                    raise TemplateConfigError(
                        f"template {name}.{channel}: unknown part(s) {sorted(unknown)}"
                    )
                try:
                    self._compiled[(name, channel)] = {
                        part: _Part(html_env if part == "html" else text_env, source)
                        for part, source in parts.items()
                    }
                except TemplateError as exc:
                    raise TemplateConfigError(f"template {name}.{channel}: {exc}") from exc

    @classmethod
    def checked(
        cls,
        overrides: Mapping[str, Mapping[str, Mapping[str, str]]],
        used_by: Mapping[str, str],
    ) -> TemplateSet:
        """Defaults plus ``overrides``, each template in ``used_by`` (template -> built-in
        trigger) rendered with its trigger's sample variables: errors now, not at send
        time."""
        templates = cls.with_overrides(overrides)
        for template, trigger in used_by.items():
            templates.check(template, SAMPLE_VARS[trigger])
            templates.check(template, without_optional(SAMPLE_VARS[trigger]))
        return templates

    @classmethod
    def with_overrides(
        cls, overrides: Mapping[str, Mapping[str, Mapping[str, str]]]
    ) -> TemplateSet:
        """The defaults (the built-ins' and the recipes'), with templates (or single
        channels of them) replaced or added."""
        merged: dict[str, dict[str, Mapping[str, str]]] = {
            name: dict(channels)
            for name, channels in {**DEFAULT_TEMPLATES, **recipe_templates()}.items()
        }
        for name, channels in overrides.items():
            merged.setdefault(name, {}).update(channels)
        return cls(merged)

    def names(self) -> set[str]:
        """Template names."""
        return {name for name, _channel in self._compiled}

    def channels_of(self, template: str) -> list[str]:
        """Channels with parts of their own (plus ``default``)."""
        return [channel for name, channel in self._compiled if name == template]

    def check(self, template: str, vars: Mapping[str, Any]) -> None:
        """Render every channel of ``template`` with ``vars``; TemplateConfigError if any fails."""
        if template not in self.names():
            raise TemplateConfigError(f"no template named {template!r}")
        for channel in self.channels_of(template):
            try:
                self.render(template, channel, vars)
            except Exception as exc:  # a template may raise anything: 1 // 0, None.upper()
                missing = sorted(n for n in MAY_BE_EMPTY if n in vars and not vars[n])
                without = f" (for a customer without {', '.join(missing)})" if missing else ""
                raise TemplateConfigError(
                    f"template {template}.{channel}{without}: {type(exc).__name__}: {exc}"
                ) from None

    def variables(self, template: str) -> set[str]:
        """The vars ``template`` uses, in any of its channels and parts."""
        found: set[str] = set()
        for (name, _channel), parts in self._sources.items():
            if name == template:
                for part, source in parts.items():
                    env = self._html_env if part == "html" else self._text_env
                    found |= meta.find_undeclared_variables(env.parse(source))
        return found

    def check_program(self, program: Program) -> None:
        """Every step's template exists and renders for a sample customer and for one
        without the optional vars; TemplateConfigError naming scenario, step and field."""
        for scenario in program.scenarios.values():
            for step in scenario.steps.values():
                where = f"scenarios.{scenario.id}.steps.{step.id}.template"
                for name in step_templates(step):
                    try:
                        self.check(name, sample_vars(scenario, step))
                        self.check(name, sample_vars(scenario, step, empty=True))
                    except TemplateConfigError as exc:
                        raise TemplateConfigError(f"{where}: {exc}") from None

    def render(self, template: str, channel: str, vars: Mapping[str, Any]) -> Rendered:
        """The message of ``template`` for ``channel`` (its own parts, else ``default``)."""
        out = {
            part: compiled.render(vars) for part, compiled in self._parts(template, channel).items()
        }
        return Rendered(out["text"], out.get("subject"), out.get("html"))

    def text(self, template: str, channel: str, vars: Mapping[str, Any]) -> str:
        """Only the text of `render` (the notice's ``text``; the dispatcher renders the
        rest for the channel it sends on)."""
        return self._parts(template, channel)["text"].render(vars)

    def _parts(self, template: str, channel: str) -> Mapping[str, _Part]:
        return self._compiled.get((template, channel)) or self._compiled[(template, "default")]
