"""``llmlog check``: thresholds for cron and CI; exit 1 with one message per breach."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from llmlog.cli._aggregate import aggregate
from llmlog.cli._filters import Filters, Subcommands, add_filter_args, parse_duration_s
from llmlog.cli._format import cost, counted, duration_ms, visible
from llmlog.cli._logs import CliError, is_rotated, locate, warn
from llmlog.cli._select import call_records

__all__ = ["HEDGES", "register"]

# Phrases of an answer that is unsure of itself or declines; lower case.
HEDGES = (
    "i'm not sure",
    "i am not sure",
    "i'm not certain",
    "i am not certain",
    "as an ai",
    "as a language model",
    "i don't know",
    "i do not know",
    "i cannot be sure",
    "i can't be sure",
    "i'm unable to",
    "i am unable to",
    "i cannot help",
    "i can't help",
    "i don't have access",
    "i do not have access",
)
_HEDGE_PATTERN = re.compile("|".join(re.escape(h) for h in HEDGES))
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def register(commands: Subcommands, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``check``."""
    parser = commands.add_parser(
        "check",
        parents=parents,
        help="exit 1 when a threshold is breached (for cron and CI)",
        description="Check the calls in the window against thresholds; print one FAIL line "
        "per breach and exit 1, or exit 0 when none is breached. A threshold the window "
        "gives nothing to judge by (no calls, or no log yet; no latencies; every call of a "
        "day unpriced, or some: the cost is then a lower bound; no text answers) is not a "
        "breach: it gets a NOT CHECKED line saying why, and the exit status is 0 unless "
        "another threshold failed (with --fail-on-no-data: 1). When no threshold had anything "
        "to judge by, the last line says 'nothing checked'. Calls llmlog could not log (its "
        "queue was full: an llmlog.dropped notice in the window) fail the check whatever "
        "thresholds are given, unless --max-dropped allows them. Exit 2: a usage error.",
    )
    parser.add_argument("--max-error-rate", type=_rate, help="e.g. 1%% or 0.01")
    parser.add_argument("--max-p95-latency", help="e.g. 5s or 800ms")
    parser.add_argument("--max-cost-per-day", type=_dollars, help="USD per UTC day, e.g. 50")
    parser.add_argument(
        "--max-uncertain-rate",
        type=_rate,
        help='share of answers that hedge ("I\'m not sure", "as an AI"), e.g. 5%%',
    )
    parser.add_argument(
        "--pii", action="store_true", help="fail if logged text still holds PII or secrets"
    )
    parser.add_argument(
        "--max-dropped",
        type=_count,
        metavar="N",
        help="calls in the window that llmlog could not log (its queue was full) before "
        "the check fails; default 0: any dropped call fails it, as the other thresholds "
        "then judge only the calls that were logged",
    )
    parser.add_argument(
        "--fail-on-no-data",
        action="store_true",
        help="exit 1, not 0, when a threshold could not be checked (NOT CHECKED: no log, no "
        "calls in the window, unpriced calls...)",
    )
    add_filter_args(parser, limit=False)
    parser.set_defaults(func=run)


def _rate(text: str) -> float:
    cleaned = text.strip()
    try:
        value = float(cleaned[:-1]) / 100 if cleaned.endswith("%") else float(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate; use e.g. 1% or 0.01") from None
    if value >= 1 and not cleaned.endswith("%") and math.isfinite(value):
        # A bare 1 would be a fraction, 100% (never breached), not the 1% it likely means.
        raise argparse.ArgumentTypeError(
            f"{text!r} is ambiguous: a rate without % is a fraction of calls (0.01 is 1%); "
            f"write {cleaned}% for that percentage, or 100% for all calls"
        )
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0% and 100%")
    return value


def _count(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of calls; use e.g. 0") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of calls of 0 or more")
    return value


def _dollars(text: str) -> float:
    try:
        value = float(text.strip().lstrip("$"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount; use e.g. 50") from None
    if not math.isfinite(value) or value < 0:  # nan would never be exceeded: no check at all
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount of 0 or more; use e.g. 50")
    return value


@dataclass
class _TextFindings:
    answers: int = 0
    hedging: int = 0
    pii: Counter[str] | None = None
    pii_records: int = 0
    first_pii_id: str | None = None


def _scan_texts(files: list[Path], filters: Filters, hedges: bool, pii: bool) -> _TextFindings:
    found = _TextFindings(pii=Counter())
    scanner = None
    if pii:
        from llmlog.cli._pii import PiiScanner  # loads the redaction engine: only when asked

        scanner = PiiScanner()
    for record in call_records(files, filters):
        if hedges and record.get("status") == "ok":
            output = record.get("output")
            text = output.get("text") if isinstance(output, dict) else None
            if isinstance(text, str) and text.strip():
                found.answers += 1
                if _HEDGE_PATTERN.search(text.lower().translate(_APOSTROPHES)):
                    found.hedging += 1
        if scanner is not None:
            entities = scanner.scan(record)
            if entities:
                assert found.pii is not None
                found.pii.update(entities)
                found.pii_records += 1
                found.first_pii_id = found.first_pii_id or str(record.get("id"))
    return found


_MIDNIGHT = "T00:00:00.000000Z"


def _next_midnight(until: str) -> str:
    """The end of ``until``'s UTC day (itself if it is a midnight): a day counts whole."""
    if until.endswith(_MIDNIGHT):
        return until
    day = datetime.fromisoformat(until[:10]) + timedelta(days=1)
    return f"{day:%Y-%m-%d}{_MIDNIGHT}"


def run(args: argparse.Namespace) -> int:
    """Compare the window against each threshold given; exit 1 on any breach."""
    p95_limit = args.max_p95_latency
    max_p95 = parse_duration_s(p95_limit, "--max-p95-latency") * 1000 if p95_limit else None
    wanted = (args.max_error_rate, max_p95, args.max_cost_per_day, args.max_uncertain_rate)
    if all(value is None for value in wanted) and not args.pii and args.max_dropped is None:
        raise CliError(
            "nothing to check; give at least one of --max-error-rate, --max-p95-latency, "
            "--max-cost-per-day, --max-uncertain-rate, --pii, --max-dropped"
        )
    location = locate(args.log)
    files = location.files_so_far()
    beside = location.logs_beside() if args.log is not None and not files else []
    if beside:  # `--log llm_logs/llmlg.jsonl` beside llmlog.jsonl: a typo, or an idle worker
        beside = [p for p in beside if not is_rotated(p)] or beside  # active ones, if any
        names = ", ".join(p.name for p in beside[:3]) + (", ..." if len(beside) > 3 else "")
        warn(
            f"--log {args.log}: no such log file, but {location.path.parent} holds other "
            f"llmlog logs ({names}): a typo? checking 0 calls (--fail-on-no-data makes "
            "this a failure)"
        )
    elif not files:  # an app that made no call yet writes no log: nothing to judge, no error
        warn(f"no log at {location.path} yet (nothing logged?); checking 0 calls")
    filters = Filters.from_args(args)
    totals = aggregate(files, filters, by=None)
    overall = totals.groups[0]
    breaches: list[str] = []
    max_dropped = 0 if args.max_dropped is None else args.max_dropped
    if totals.dropped > max_dropped:
        breaches.append(
            f"{counted(totals.dropped, 'call')} in the window not logged (llmlog's queue was "
            f"full) > --max-dropped {max_dropped}; the other thresholds judge only the "
            f"{counted(overall.calls, 'call')} logged"
        )
    unchecked: list[str] = []
    blind: set[str] = set()  # thresholds with nothing at all to judge them by
    none = "no calls in the window" if not overall.calls else ""
    if args.max_error_rate is not None and none:
        unchecked.append(f"error rate: {none}")
        blind.add("error rate")
    elif args.max_error_rate is not None and overall.error_rate > args.max_error_rate:
        breaches.append(
            f"error rate {overall.error_rate:.2%} > {args.max_error_rate:.2%} "
            f"({overall.errors} of {overall.calls} calls)"
        )
    p95 = overall.latency_ms[1]
    if max_p95 is not None and p95 is None:
        unchecked.append(f"p95 latency: {none or 'no call has a latency'}")
        blind.add("p95")
    elif max_p95 is not None and p95 is not None and p95 > max_p95:
        shown, limit = _distinct(p95, max_p95)
        breaches.append(f"p95 latency {shown} > {limit}")
    if args.max_cost_per_day is not None:
        # Whole UTC days: `--since 1h` run hourly asks whether today is over, not the hour.
        whole_days = replace(
            filters,
            since=filters.since and f"{filters.since[:10]}{_MIDNIGHT}",
            until=filters.until and _next_midnight(filters.until),
        )
        per_day = [d for d in aggregate(files, whole_days, by="day").groups if d.calls]
        over = [d for d in per_day if d.cost_usd is not None and d.cost_usd > args.max_cost_per_day]
        # No call priced: the day's cost is unknown, unless none was billed (only failed
        # calls without usage, which ``aggregate`` does not count as unpriced): then it is $0.
        unpriced = [d for d in per_day if d.cost_usd is None and d.unpriced]
        # Some calls priced, some not: the day's cost is a lower bound. Over the limit even
        # so, it is a breach (below); under it, the day is not known to hold.
        partial = [
            (d, d.unpriced)
            for d in per_day
            if d.cost_usd is not None and d not in over and d.unpriced
        ]
        if not per_day:
            unchecked.append("cost per day: no calls in the window")
            blind.add("cost")
        elif unpriced:
            partly = len(unpriced) < len(per_day)
            where = f" on {len(unpriced)} of {len(per_day)} days" if partly else ""
            calls = sum(d.unpriced for d in unpriced)
            unchecked.append(f"cost per day{where}: {counted(calls, 'call')} unpriced")
            if not partly:
                blind.add("cost")
        if partial:
            first = partial[0][0]
            where = (
                f"on {first.key} ({cost(first.cost_usd)} priced)"
                if len(partial) == 1
                else f"on {len(partial)} of {len(per_day)} days"
            )
            missing, calls = sum(n for _, n in partial), sum(d.calls for d, _ in partial)
            unchecked.append(
                f"cost per day {where}: {missing} of {counted(calls, 'call')} unpriced; "
                "cost is a lower bound"
            )
        if over:
            worst = max(over, key=lambda day: day.cost_usd or 0.0)
            days = f"on {len(over)} days, highest " if len(over) > 1 else "on "
            breaches.append(
                f"cost per day over {cost(args.max_cost_per_day)} {days}"
                f"{worst.key}: {cost(worst.cost_usd)}"
            )
    if args.max_uncertain_rate is not None or args.pii:
        texts = _scan_texts(files, filters, args.max_uncertain_rate is not None, args.pii)
        if args.max_uncertain_rate is not None and not texts.answers:
            unchecked.append(f"uncertain answers: {none or 'no successful call has a text answer'}")
            blind.add("uncertain")
        elif args.max_uncertain_rate is not None:
            rate = texts.hedging / texts.answers
            if rate > args.max_uncertain_rate:
                breaches.append(
                    f"uncertain answers {rate:.2%} > {args.max_uncertain_rate:.2%} "
                    f"({texts.hedging} of {texts.answers} answers hedge)"
                )
        if texts.pii:
            kinds = ", ".join(f"{kind} x{count}" for kind, count in sorted(texts.pii.items()))
            breaches.append(
                f"unredacted PII in {counted(texts.pii_records, 'call')} ({kinds}); "
                f"first: llmlog show {texts.first_pii_id}"
            )
    if args.pii and none:
        unchecked.append(f"PII: {none}")
        blind.add("pii")
    for breach in breaches:
        sys.stdout.write(f"FAIL {visible(breach)}\n")
    for reason in unchecked:
        sys.stdout.write(f"NOT CHECKED {visible(reason)}\n")
    if breaches:
        return 1
    failing = 1 if args.fail_on_no_data else 0
    given = sum(value is not None for value in wanted) + args.pii
    if args.max_dropped is not None:  # asked for, and a count always has something to judge
        given += 1
    if len(blind) == given:
        sys.stdout.write(
            f"nothing checked: {counted(overall.calls, 'call')} in the window, and no "
            f"threshold had anything to judge it by\n"
        )
        return failing
    if unchecked:
        sys.stdout.write(
            f"ok: {counted(overall.calls, 'call')} checked, no threshold breached; "
            f"{len(unchecked)} could not be checked\n"
        )
        return failing
    sys.stdout.write(f"ok: {counted(overall.calls, 'call')} checked, every threshold holds\n")
    return 0


def _distinct(value_ms: float, limit_ms: float) -> tuple[str, str]:
    """Both durations, with as many digits as it takes to show they differ (4.74s > 4.74s)."""
    shown, limit = duration_ms(value_ms), duration_ms(limit_ms)
    digits = 0
    while shown == limit and digits < 6:
        shown, limit = f"{value_ms:.{digits}f}ms", f"{limit_ms:.{digits}f}ms"
        digits += 1
    return shown, limit
