"""The console's words in English and Russian; ``?lang=ru`` or the browser's language."""

from __future__ import annotations

LANGUAGES = ("en", "ru")

STRINGS: dict[str, tuple[str, str]] = {
    # key: (English, Russian)
    "title": ("smartcomms console", "Консоль smartcomms"),
    "overview": ("Overview", "Обзор"),
    "scenarios": ("Scenarios", "Сценарии"),
    "delivery": ("Delivery", "Доставка"),
    "customer": ("Customer", "Клиент"),
    "configuration": ("Chains", "Цепочки"),
    "events": ("Events", "События"),
    "events_by_type": ("Events by type", "События по типам"),
    "type": ("Type", "Тип"),
    "total": ("Total", "Всего"),
    "per_second": ("per second", "в секунду"),
    "notices": ("Notices", "Сообщения"),
    "notices_by_scenario": ("Notices by scenario", "Сообщения по сценариям"),
    "notices_by_channel": ("Notices by first channel", "Сообщения по первому каналу"),
    "scenario": ("Scenario", "Сценарий"),
    "channel": ("Channel", "Канал"),
    "suppressions": ("Suppressed, by reason", "Подавлено, по причинам"),
    "reason": ("Reason", "Причина"),
    "dead_letters": ("Dead letters", "Отклонённые события"),
    "kind": ("Kind", "Вид"),
    "dropped_timers": ("timers dropped", "таймеров отброшено"),
    "duplicates": ("Duplicates skipped", "Пропущено повторов"),
    "held": ("Held for quiet hours", "Отложено до конца тихих часов"),
    "timers": ("Timers", "Таймеры"),
    "timers_fired": ("fired", "сработало"),
    "lateness": ("mean lateness", "среднее опоздание"),
    "overdue": ("due, not yet fired", "наступило, ещё не сработало"),
    "oldest_overdue": ("oldest waits", "старейший ждёт"),
    "lag": ("Behind the newest event", "Отставание от новейшего события"),
    "last_commit": ("last batch committed", "последний пакет записан"),
    "ago": ("ago", "назад"),
    "none_yet": ("nothing yet", "пока ничего"),
    "funnel": ("Funnel", "Воронка"),
    "entered": ("Entered", "Вошли"),
    "control": ("Control", "Контроль"),
    "sent": ("Sent", "Отправлено"),
    "skipped": ("Skipped", "Пропущено"),
    "suppressed": ("Suppressed", "Подавлено"),
    "converted": ("Converted", "Конверсии"),
    "revenue": ("Revenue", "Выручка"),
    "step": ("Step", "Шаг"),
    "variants": ("Variants", "Варианты"),
    "variant": ("Variant", "Вариант"),
    "rate": ("Rate", "Доля"),
    "uplift": ("Uplift over the control group", "Прирост относительно контрольной группы"),
    "ci95": ("95 % interval", "95 % интервал"),
    "treatment_rate": ("treated conversion", "конверсия получивших"),
    "control_rate": ("control conversion", "конверсия контроля"),
    "no_control": ("no control group", "нет контрольной группы"),
    "exited": ("Exited early", "Вышли досрочно"),
    "control_converted": ("Control converted", "Конверсии контроля"),
    "control_revenue": ("Control revenue", "Выручка контроля"),
    "cascade": ("Cascade outcomes", "Итоги каскада"),
    "delivered_on": ("delivered on channel", "доставлено на канале"),
    "unreachable": ("Unreachable (every channel failed)", "Недоступны (все каналы не сработали)"),
    "delivered": ("Delivered", "Доставлено"),
    "opened": ("Opened", "Открыто"),
    "sends": ("Sends", "Отправок"),
    "price": ("Price", "Цена"),
    "spend": ("Spend", "Расходы"),
    "cost_per_delivered": ("Cost per delivered message", "Стоимость доставленного сообщения"),
    "lookup": ("Look a customer up", "Найти клиента"),
    "customer_id": ("Customer id", "Идентификатор клиента"),
    "find": ("Find", "Найти"),
    "not_found": ("No such customer", "Клиент не найден"),
    "profile": ("Profile", "Профиль"),
    "contacts": ("Contacts (masked)", "Контакты (скрыты)"),
    "balance": ("Balance", "Баланс"),
    "segment": ("Segment", "Сегмент"),
    "tier": ("Tier", "Уровень"),
    "cart": ("Cart", "Корзина"),
    "purchases": ("Purchases", "Покупки"),
    "running": ("Scenario instances", "Экземпляры сценариев"),
    "decisions": ("Recent decisions", "Последние решения"),
    "outcome": ("Outcome", "Итог"),
    "at": ("At", "Когда"),
    "entry": ("Entry", "Вход"),
    "wait": ("Wait", "Ожидание"),
    "condition": ("Condition", "Условие"),
    "channels": ("Channels", "Каналы"),
    "template": ("Template", "Шаблон"),
    "exits": ("Exits on", "Выход по"),
    "attribution": ("Attribution window", "Окно атрибуции"),
    "days": ("days", "дн."),
    "restarts": ("restarts at each entry", "перезапускается при каждом входе"),
    "reentry": ("enters again after", "повторный вход через"),
    "disabled": ("disabled", "выключен"),
    "report_json": ("The report as JSON", "Отчёт в JSON"),
    "read_only": ("Read-only, live from Redis", "Только чтение, данные из Redis"),
    "refreshes": ("refreshes every", "обновляется каждые"),
    "seconds": ("s", "с"),
    "not_found_page": ("No such page", "Нет такой страницы"),
    "no_scenario": ("No such scenario", "Нет такого сценария"),
    "history": ("Events per second, recent", "События в секунду, последние"),
}


def words(language: str) -> dict[str, str]:
    """Every string in ``language`` (one of LANGUAGES)."""
    index = LANGUAGES.index(language)
    return {key: pair[index] for key, pair in STRINGS.items()}


def language_of(asked: str | None, accept_language: str | None) -> str:
    """``?lang=`` if known, else the first known language the browser accepts, else en."""
    if asked in LANGUAGES:
        return asked
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return LANGUAGES[0]


UNITS = {"en": ("d", "h", "min", "s"), "ru": ("д", "ч", "мин", "с")}


def span(seconds: float, language: str) -> str:
    """A length of time in the two largest units: ``11 d 8 h``, ``5 min 3 s``, ``0.4 s``."""
    day, hour, minute, second = UNITS[language]
    if seconds < 60:
        return f"{seconds:.1f} {second}"
    whole = int(seconds)
    for size, unit, next_size, next_unit in (
        (86_400, day, 3_600, hour),
        (3_600, hour, 60, minute),
        (60, minute, 1, second),
    ):
        if whole >= size:
            return f"{whole // size} {unit} {whole % size // next_size} {next_unit}"
    raise AssertionError("unreachable")
