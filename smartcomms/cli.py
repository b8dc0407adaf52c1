"""The ``smartcomms`` command: up, run, simulate, replay, demo."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import math
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, NoReturn, TypeVar

import orjson

from smartcomms.config import CHANNELS, ConfigError, Settings, load_settings
from smartcomms.kafka import KafkaUnavailable
from smartcomms.localstack import kafka_broker, redis_server
from smartcomms.logs import configure as configure_logging
from smartcomms.signals import CTRL_C_ENDS_INPUTS, stop_on_signals
from state.connection import RedisUnavailable, one_shot, ping
from triggers.events import check_timestamp, epoch_of

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
"""128 + SIGINT, as a shell reports a command stopped by Ctrl-C"""
EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command whose reader left"""
T = TypeVar("T", int, float)

if TYPE_CHECKING:
    from channels.templates import Rendered, TemplateSet


def _settings(args: argparse.Namespace, quiet: bool = False) -> Settings:
    """The configuration file, the environment, then ``--brokers`` / ``--redis-url``
    (validated like the rest: ``--redis-url notaurl`` is a configuration error)."""
    options = {"kafka.brokers": getattr(args, "brokers", None)}
    options["redis.url"] = getattr(args, "redis_url", None)
    settings = load_settings(
        args.config, overrides={name: value for name, value in options.items() if value}
    )
    log = settings.log
    if quiet and log.level in ("debug", "info"):
        log = log.model_copy(update={"level": "warning"})
    configure_logging(log)
    return settings


def cmd_replay(args: argparse.Namespace) -> int:
    """Run the trigger logic over a JSONL file with event time as the clock."""
    # Bytewax loads only for the commands that run it
    from flows.replay import replay, replay_prefix
    from flows.wiring import admission_window

    settings = _settings(args, quiet=True)  # stderr is for dead letters and the summary
    events = Path(args.events)
    if not events.is_file():
        what = "a directory, not an events file" if events.is_dir() else "no such events file"
        raise ConfigError(f"{what}: {events}")
    try:
        events.open("rb").close()
    except OSError as exc:
        raise ConfigError(f"cannot read events file {events}: {exc.strerror}") from None
    _refuse_to_overwrite(events, args.out, args.report)
    until = None
    if args.until is not None:
        try:
            until = epoch_of(check_timestamp(args.until))
        except ValueError as exc:
            raise ConfigError(f"--until {args.until!r}: {exc}") from None
        # the engine's own window: the clock would fire every timer up to then (birthdays)
        refused = admission_window(settings, live=False).refuses(until, float("-inf"))
        if refused is not None:
            raise ConfigError(
                f"--until {args.until!r}: outside the event times accepted "
                f"({refused}; engine.event_time)"
            )
    err = sys.stderr.buffer
    counts: Counter[str] = Counter()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(_output_file(args.out)) if args.out else sys.stdout.buffer
        report = stack.enter_context(_output_file(args.report, "--report")) if args.report else None
        if settings.redis.url is not None:
            ping(settings.redis.url)
        stop = threading.Event()  # Ctrl-C ends the input; what was read is written out
        stop_on_signals(stop)
        stats = replay(settings, events, settings.redis.url, out, err, until, counts, stop)
        if stop.is_set():
            raise KeyboardInterrupt
        if report is not None:
            _write_report(settings, counts, report, err)
    if settings.redis.url is not None:
        kept = replay_prefix(settings)
        err.write(
            f"state: kept in Redis under {kept}:* (SMARTCOMMS_REDIS__PREFIX={kept})\n".encode()
        )
    err.write(b"summary: " + orjson.dumps(stats.summary()) + b"\n")
    return 0


def _refuse_to_overwrite(events: Path, out: str | None, report: str | None) -> None:
    """--out and --report must not name the events file or each other (it would be emptied
    before it is read, or the report would overwrite the notices)."""
    named = [(name, Path(path)) for name, path in (("--out", out), ("--report", report)) if path]
    for n, (name, path) in enumerate(named):
        if path.exists() and path.samefile(events):
            raise ConfigError(f"{name} {path} is the events file: it would be emptied")
        for other, earlier in named[:n]:
            if path.resolve() == earlier.resolve():
                raise ConfigError(f"{name} and {other} name the same file: {path}")


def _write_report(
    settings: Settings, counts: Mapping[str, int], out: BinaryIO, err: BinaryIO
) -> None:
    """The scenario report as JSON to ``out``, its uplift lines to ``err``."""
    from triggers.scenarios.report import build_report, uplift_lines

    report = build_report(counts, settings.scenarios)
    out.write(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    for line in uplift_lines(report):
        err.write(f"{line}\n".encode())


def cmd_report(args: argparse.Namespace) -> int:
    """The scenario report, live from Redis."""
    from state.report import ReportCounters

    settings = _settings(args, quiet=True)
    if not settings.redis.url:
        raise ConfigError("report needs a Redis URL (--redis-url or SMARTCOMMS_REDIS__URL)")
    prefix = settings.redis.prefix
    with one_shot(settings.redis.url) as client:
        counts = ReportCounters(client, prefix).totals()
    if not counts:  # the wrong prefix reads as a report of zeros: say so
        print(f"note: nothing counted under prefix {prefix!r} yet", file=sys.stderr)
    _write_report(settings, counts, sys.stdout.buffer, sys.stderr.buffer)
    return 0


def _output_file(path: str, option: str = "--out") -> BinaryIO:
    """``--out`` or ``--report``, opened now so that a bad path fails before anything runs
    (unbuffered: a failing write fails once, not again when the file is closed)."""
    try:
        return open(path, "wb", buffering=0)
    except OSError as exc:
        raise ConfigError(f"{option} {path}: {exc.strerror}") from None


def cmd_up(args: argparse.Namespace) -> int:
    """Start a local Redis and Kafka-protocol broker with the topics; wait for Ctrl-C."""
    settings = _settings(args)
    with redis_server() as redis_url, kafka_broker() as brokers:
        _create_topics(settings, brokers, args.partitions)
        print(f"SMARTCOMMS_REDIS__URL={redis_url}")
        print(f"SMARTCOMMS_KAFKA__BROKERS={brokers}", flush=True)
        _until_stopped(3600)
    return 0


def _create_topics(settings: Settings, brokers: str, partitions: int) -> None:
    from smartcomms.topics import ensure_topics

    topics = settings.kafka.topics
    names = [*topics.inputs(), topics.notices, topics.dead_letters]
    ensure_topics(brokers, names, partitions, settings.kafka.client_config)


def _until_stopped(every_s: float, work: Callable[[], object] = lambda: None) -> None:
    """Do ``work`` every ``every_s`` until SIGTERM or Ctrl-C (smartcomms.signals)."""
    stop = threading.Event()
    stop_on_signals(stop)
    while not stop.is_set():
        work()
        stop.wait(every_s)


def cmd_run(args: argparse.Namespace) -> int:
    """Run the live flow with Bytewax's runner; extra arguments go to bytewax.run."""
    return _run_flow(args, "flows.live:build_flow()")


def cmd_dispatch(args: argparse.Namespace) -> int:
    """Run the dispatcher flow with Bytewax's runner; extra arguments go to bytewax.run."""
    return _run_flow(args, "flows.dispatch:build_flow()")


def _run_flow(args: argparse.Namespace, flow: str) -> int:
    from smartcomms.cluster import statefulset_env

    settings = _settings(args)
    if not settings.redis.url:
        raise ConfigError(
            f"{args.command} needs a Redis URL (--redis-url or SMARTCOMMS_REDIS__URL)"
        )
    env = dict(os.environ)
    env.update(statefulset_env(env))
    env["SMARTCOMMS_KAFKA__BROKERS"] = settings.kafka.brokers
    env["SMARTCOMMS_REDIS__URL"] = settings.redis.url
    if args.config:
        env["SMARTCOMMS_CONFIG"] = str(Path(args.config).resolve())
    env[CTRL_C_ENDS_INPUTS] = "1"
    argv = [sys.executable, "-m", "bytewax.run", flow, *args.bytewax_args]
    os.execvpe(sys.executable, argv, env)


def cmd_send(args: argparse.Namespace) -> int:
    """Run a sender replica until SIGTERM."""
    from smartcomms.sender_service import run_sender

    run_sender(_settings(args))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Produce synthetic traffic to Kafka at a rate, or as fast as possible."""
    from smartcomms.simulate import produce

    settings = _settings(args)
    sent = produce(settings, args.count, args.rate, args.customers, args.seed, args.bad_rate)
    print(f"produced {sent} events", file=sys.stderr)
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    """Print what the engine knows of one customer."""
    from smartcomms.standing_settings import loyalty_of
    from state.activity import state_time
    from state.customers import CustomerStore
    from state.inspect import describe_customer

    settings = _settings(args)
    if not settings.redis.url:
        raise ConfigError("profile needs a Redis URL (--redis-url or SMARTCOMMS_REDIS__URL)")
    loyalty = loyalty_of(settings.segments, settings.loyalty)
    with one_shot(settings.redis.url) as client:
        store = CustomerStore(client, settings.redis.prefix, 0)
        now = state_time(client, settings.redis.prefix, time.time())
        view = describe_customer(store, args.customer_id, now, loyalty)
    if view is None:
        print(f"no customer {args.customer_id!r} in {settings.redis.prefix}:*", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(orjson.dumps(view, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """A notice's way down its cascade, or a customer's recent decisions."""
    from state.customers import CustomerStore
    from state.dispatches import DispatchStore
    from triggers.decisions import recent

    settings = _settings(args)
    if not settings.redis.url:
        raise ConfigError("trace needs a Redis URL (--redis-url or SMARTCOMMS_REDIS__URL)")
    if (args.notice_id is None) == (args.customer is None):
        raise ConfigError("trace takes a NOTICE_ID or --customer ID")
    with one_shot(settings.redis.url) as client:
        prefix = settings.redis.prefix
        if args.customer is not None:
            subject = "c:" + args.customer
            customers = CustomerStore(client, prefix, 0)
            if not customers.exists(subject):
                print(f"no customer {args.customer!r} in {prefix}:*", file=sys.stderr)
                return 1
            lines = recent(customers.load([subject])[subject])[: args.limit]
            missing = f"no decisions recorded for customer {args.customer!r}"
        else:
            store = DispatchStore(client, prefix)
            customer_id = store.customer_of(args.notice_id)
            found = store.load([(customer_id, args.notice_id)]) if customer_id else {}
            lines = [dataclasses.asdict(dispatch) for dispatch in found.values()]
            missing = f"notice {args.notice_id!r} was not dispatched (or has expired)"
    for line in lines:
        print(orjson.dumps(line).decode())
    if not lines:
        print(missing, file=sys.stderr)
        return 1 if args.notice_id else 0
    return 0


def _sample(settings: Settings, template: str) -> tuple[TemplateSet, dict[str, Any]]:
    """The checked templates, and sample vars of a step that uses ``template``."""
    from flows.wiring import configured
    from triggers.scenarios.vars import template_sample

    rules, policy = configured(settings)
    templates = policy.templates
    if template not in templates.names():
        raise ConfigError(f"no template {template!r}; known: {sorted(templates.names())}")
    sample = template_sample(rules.program, template)
    if sample is None:
        raise ConfigError(f"template {template!r} is used by no scenario: no sample data")
    return templates, sample


def _render(
    templates: TemplateSet, template: str, channel: str, sample: dict[str, Any]
) -> Rendered:
    from jinja2 import TemplateError

    try:
        return templates.render(template, channel, sample)
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise ConfigError(f"template {template}.{channel}: {type(exc).__name__}: {exc}") from None


def cmd_templates_preview(args: argparse.Namespace) -> int:
    """Render a template with sample data for one channel or all."""
    settings = _settings(args)
    templates, sample = _sample(settings, args.template)
    channels = [args.channel] if args.channel else list(settings.channels.order)
    for channel in channels:
        message = _render(templates, args.template, channel, sample)
        print(f"── {channel}")
        if message.subject:
            print(f"subject: {message.subject}")
        print(message.text)
        if message.html:
            print(f"html: {message.html}")
    return 0


def cmd_gateways_test(args: argparse.Namespace) -> int:
    """Send a sample message through the configured gateway of a channel."""
    import uuid

    from channels.gateways.base import Message
    from channels.gateways.factory import build_gateway

    settings = _settings(args)
    gateway_settings = settings.gateways.get(args.channel)
    if gateway_settings is None:
        raise ConfigError(f"no gateway configured for channel {args.channel!r} (gateways:)")
    templates, sample = _sample(settings, args.template)
    content = _render(templates, args.template, args.channel, sample)
    message = Message(f"test-{uuid.uuid4()}", "test", args.channel, args.address, content)
    result, attempts = build_gateway(args.channel, gateway_settings, settings.kafka).deliver(
        message
    )
    report = {
        "notice_id": message.notice_id,
        "channel": args.channel,
        "outcome": result.outcome,
        "attempts": attempts,
        "provider_id": result.provider_id,
        "error": result.error,
    }
    print(orjson.dumps(report).decode())
    return 0 if result.outcome == "sent" else 1


def cmd_scenarios_check(args: argparse.Namespace) -> int:
    """Validate the configuration's scenarios, templates included; start nothing."""
    from flows.wiring import configured

    settings = _settings(args)
    rules, _policy = configured(settings)
    running = sorted(rules.program.scenarios)
    off = sorted(set(settings.scenarios) - set(running))
    print(
        f"{len(running)} scenarios ok: {', '.join(running)}"
        + (f"; off: {', '.join(off)}" if off else "")
    )
    for gap in settings.standing_gaps():
        print(f"warning: {gap}", file=sys.stderr)
    return 0


def cmd_scenarios_show(args: argparse.Namespace) -> int:
    """One scenario as the engine runs it (built-ins and recipes expanded), as YAML."""
    import yaml

    settings = _settings(args)
    spec = settings.scenarios.get(args.name)
    if spec is None:
        raise ConfigError(f"no scenario {args.name!r}; known: {sorted(settings.scenarios)}")
    shown = {args.name: spec.model_dump(mode="json", by_alias=True)}
    sys.stdout.write(yaml.safe_dump(shown, allow_unicode=True, sort_keys=False))
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    """The marketers' web console, live from Redis, until Ctrl-C."""
    import redis

    from smartcomms.console.readings import Readings
    from smartcomms.console.server import Console, check_binding, serve
    from state.connection import connect

    settings = _settings(args)
    if not settings.redis.url:
        raise ConfigError("console needs a Redis URL (--redis-url or SMARTCOMMS_REDIS__URL)")
    config = settings.console
    host = args.host or config.host
    port = config.port if args.port is None else args.port
    check_binding(config, host)
    ping(settings.redis.url)
    readings = Readings(connect(settings.redis.url, retry_for_s=0), settings)
    shown = f"[{host}]" if ":" in host else host
    try:
        server = serve(Console(readings), host, port)
    except OSError as exc:  # the port taken, a host that is not this machine's
        raise ConfigError(f"cannot listen on {shown}:{port}: {exc.strerror}") from None
    print(f"console: http://{shown}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)

    def sample() -> None:  # for the rates, whether or not a page is open
        with contextlib.suppress(redis.RedisError):
            readings.sample()

    _until_stopped(config.refresh_s or 5.0, sample)
    server.shutdown()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Local stack + synthetic traffic through the live flow, with a live display."""
    from smartcomms.demo import run_demo

    return run_demo(_settings(args), args.config, args.rate, args.customers, args.workers)


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (not the usage block): exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (--help shows the usage)\n")


def _bounded(kind: Callable[[str], T], low: T, high: T | None = None) -> Callable[[str], T]:
    """An argparse type: ``kind`` from ``low`` to ``high`` (inclusive), else its error."""

    def parse(text: str) -> T:
        try:
            value = kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        if value < low or (high is not None and value > high):
            upto = f" and at most {high}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"must be at least {low}{upto}, not {text}")
        return value

    return parse


def _version() -> str:
    """The installed package's version (SREs compare it across pods)."""
    try:
        return importlib.metadata.version("smartcomms")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="smartcomms",
        description="Real-time trigger processor for retail loyalty communications.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: object, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", metavar="FILE", help="YAML configuration (env overrides it)")
        p.set_defaults(func=func)
        return p

    p = add(
        "replay",
        cmd_replay,
        "Replay a JSONL file of events through the trigger logic (event-time clock); "
        "notices to stdout, dead letters and a summary to stderr.",
    )
    p.add_argument("events", metavar="EVENTS.jsonl")
    p.add_argument("--out", metavar="FILE", help="write notices here instead of stdout")
    p.add_argument(
        "--until",
        metavar="TS",
        help="RFC 3339 time the clock moves on to at the end (default: last event)",
    )
    p.add_argument(
        "--redis-url",
        help="keep the state in this Redis, under <prefix>-replay (default: in memory)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="write the scenario report (JSON) here at the end; uplift lines to stderr",
    )

    p = add(
        "report",
        cmd_report,
        "The scenario report, live from Redis: entered, steps sent/skipped/suppressed/"
        "control, conversions and revenue per scenario, step and variant (JSON to stdout), "
        "uplift over the control group with its 95 percent confidence interval (stderr).",
    )
    p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")

    p = add(
        "up",
        cmd_up,
        "Start a local Redis and Kafka-protocol broker, create the topics, "
        "print their addresses and wait for Ctrl-C.",
    )
    p.add_argument("--partitions", type=_bounded(int, 1), default=4)

    for name, func, text in (
        ("run", cmd_run, "Run the live flow (Kafka -> Redis -> notices) with Bytewax."),
        (
            "dispatch",
            cmd_dispatch,
            "Run the dispatcher (notices -> gateways, down each "
            "cascade; receipts -> deliveries) with Bytewax.",
        ),
    ):
        p = add(name, func, text + " Arguments after -- go to bytewax.run, e.g. -- -w 2.")
        p.add_argument("--brokers", help="Kafka bootstrap servers (host:port[,host:port])")
        p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")
        p.add_argument("bytewax_args", nargs=argparse.REMAINDER)

    p = add(
        "send",
        cmd_send,
        "Send the messages the dispatcher queued on per-channel topics (sender.topics) "
        "through the real gateways; run as many replicas as needed (one consumer group).",
    )
    p.add_argument("--brokers", help="Kafka bootstrap servers (host:port[,host:port])")
    p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")

    p = add(
        "simulate",
        cmd_simulate,
        "Produce realistic synthetic POS, web and profile traffic to Kafka.",
    )
    p.add_argument("--brokers", help="Kafka bootstrap servers")
    p.add_argument(
        "--count", type=_bounded(int, 0), default=100_000, help="events to produce (0: endless)"
    )
    p.add_argument(
        "--rate", type=_bounded(float, 0.0), default=0, help="events per second (0: max)"
    )
    p.add_argument("--customers", type=_bounded(int, 1), default=5_000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--bad-rate",
        type=_bounded(float, 0.0, 1.0),
        default=0.001,
        help="share of malformed messages (dead letters)",
    )

    p = add(
        "profile",
        cmd_profile,
        "Show a customer's profile, balance, rolling purchase "
        "aggregates, pending timers and cap window.",
    )
    p.add_argument("customer_id", metavar="CUSTOMER_ID")
    p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")

    p = add(
        "trace",
        cmd_trace,
        "Why was (or wasn't) this sent: NOTICE_ID shows the notice's cascade (every channel "
        "tried, its outcome and time); --customer shows the engine's recent decisions for a "
        "customer, newest first — emitted, held for quiet hours, suppressed with the reason.",
    )
    p.add_argument("notice_id", nargs="?", metavar="NOTICE_ID")
    p.add_argument("--customer", metavar="CUSTOMER_ID")
    p.add_argument("--limit", type=_bounded(int, 1), default=20)
    p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")

    scenarios = sub.add_parser(
        "scenarios",
        help="Scenarios: chains of messages defined in the configuration.",
        description="Scenarios: chains of messages defined in the configuration.",
    )
    scenarios_sub = scenarios.add_subparsers(
        dest="scenarios_command", required=True, metavar="COMMAND"
    )
    for name, func, text in (
        (
            "check",
            cmd_scenarios_check,
            "Validate the scenarios and their templates (exit 2 naming scenario, step and "
            "field); start nothing.",
        ),
        (
            "show",
            cmd_scenarios_show,
            "Print one scenario as the engine runs it (recipe and built-in expanded), as YAML.",
        ),
    ):
        p = scenarios_sub.add_parser(name, help=text, description=text)
        p.add_argument("--config", metavar="FILE", help="YAML configuration (env overrides it)")
        p.set_defaults(func=func)
        if name == "show":
            p.add_argument("name", metavar="NAME")

    templates = sub.add_parser(
        "templates", help="Message templates.", description="Message templates."
    )
    templates_sub = templates.add_subparsers(
        dest="templates_command", required=True, metavar="COMMAND"
    )
    p = templates_sub.add_parser(
        "preview",
        help="Render a template with sample data, per channel, as a customer sees it.",
        description="Render a template with sample data, per channel, as a customer sees it.",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration (env overrides it)")
    p.set_defaults(func=cmd_templates_preview)
    p.add_argument("template", metavar="TEMPLATE")
    p.add_argument("--channel", choices=CHANNELS, help="one channel (default: all, in order)")

    gateways = sub.add_parser("gateways", help="Channel gateways.", description="Channel gateways.")
    gateways_sub = gateways.add_subparsers(
        dest="gateways_command", required=True, metavar="COMMAND"
    )
    p = gateways_sub.add_parser(
        "test",
        help="Send a sample message through a channel's configured gateway "
        "(checks credentials and wiring); exit 0 when it was sent.",
        description="Send a sample message through a channel's configured gateway.",
    )
    p.add_argument("--config", metavar="FILE", help="YAML configuration (env overrides it)")
    p.set_defaults(func=cmd_gateways_test)
    p.add_argument("channel", choices=CHANNELS)
    p.add_argument("address", help="the contact to send to: chat id, phone, token, e-mail")
    p.add_argument("--template", default="bonus_earned", help="template to render")

    p = add(
        "console",
        cmd_console,
        "The marketers' web console, read-only and live from Redis: events, notices, "
        "suppressions and dead letters; each scenario's funnel, variants and uplift over "
        "its control group; cascade outcomes and cost by channel; a customer's profile and "
        "decisions; the scenarios as chains. English and Russian.",
    )
    p.add_argument(
        "--port",
        type=_bounded(int, 0, 65535),
        help="port (default: console.port, 8080; 0: any free)",
    )
    p.add_argument("--host", help="address to bind (default: console.host, 127.0.0.1)")
    p.add_argument("--redis-url", help="Redis URL (redis://host:port/db)")

    p = add(
        "demo",
        cmd_demo,
        "Start everything locally and stream live traffic through the "
        "flow, showing notices and a running summary. Ctrl-C stops.",
    )
    p.add_argument("--rate", type=_bounded(float, 1.0), default=2_000, help="events per second")
    p.add_argument("--customers", type=_bounded(int, 1), default=20_000)
    p.add_argument("--workers", type=_bounded(int, 1), default=1, help="Bytewax worker processes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    empty = [name for name, value in vars(args).items() if value == ""]
    if empty:  # `--out ""` wrote to stdout, `--redis-url ""` ran in memory: say so instead
        name = empty[0]
        shown = "EVENTS.jsonl" if name == "events" else "--" + name.replace("_", "-")
        parser.error(f"argument {shown}: must not be empty")
    if getattr(args, "bytewax_args", None) and args.bytewax_args[0] == "--":
        args.bytewax_args = args.bytewax_args[1:]
    try:
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C in a command that does not wait for one
        print(f"smartcomms {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if not _reader_left(exc):
            print(f"smartcomms {args.command}: {one_line(str(exc))}", file=sys.stderr)
            return EXIT_USAGE
        # `smartcomms replay ... | head`: the reader has what it wanted; end quietly, as a
        # process killed by SIGPIPE would (SIGPIPE itself stays ignored: a Redis server
        # that hangs up must be an error the command reports, not a silent death)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except (ConfigError, RedisUnavailable, KafkaUnavailable) as exc:
        print(f"smartcomms {args.command}: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # nobody is shown a traceback, unless they ask for it
        if os.environ.get("SMARTCOMMS_TRACEBACK"):
            raise
        print(
            f"smartcomms {args.command}: failed: {one_line(f'{type(exc).__name__}: {exc}')} "
            "(SMARTCOMMS_TRACEBACK=1 shows where)",
            file=sys.stderr,
        )
        return EXIT_USAGE


def _reader_left(exc: OSError) -> bool:
    """Whether ``exc`` is, or was caused by, a write to a closed pipe (flows.replay's
    OutputFailed keeps the write's error as its cause)."""
    return isinstance(exc, BrokenPipeError) or isinstance(exc.__cause__, BrokenPipeError)


def one_line(text: str) -> str:
    """``text`` on one line."""
    return " ".join(text.split())


if __name__ == "__main__":
    sys.exit(main())
