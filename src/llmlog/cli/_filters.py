"""The filters every command shares, as a Python predicate and as SQL.

``--model gpt-4o*`` style globs (also ``--service``, ``--tool``), ``--since 24h`` /
``--since 2026-01-02``, ``--min-latency 2s``, ``--request-id req_...`` (exact ids). Both
forms must select exactly the same records: the DuckDB path of ``stats`` and the
pure-Python path are compared in the tests (what a record holds is read alike by
``_match``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeAlias

from llmlog._config import PROVIDERS
from llmlog._record import STATUS_CANCELLED, STATUS_ERROR, STATUS_OK
from llmlog.cli._logs import CliError
from llmlog.cli._match import (
    error_matches,
    error_sql,
    glob,
    glob_sql,
    service,
    tool_names,
    tool_sql,
)

__all__ = ["Filters", "Subcommands", "add_filter_args", "parse_duration_s", "parse_time"]

# What `add_subparsers()` returns (a string: the class is not subscriptable at run time).
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

STATUSES = (STATUS_OK, STATUS_ERROR, STATUS_CANCELLED)  # what --status takes, any case

_UNITS_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|m|h|d|w)?\s*$")


def parse_duration_s(text: str, option: str | None = None) -> float:
    """``"500ms"`` -> 0.5, ``"24h"`` -> 86400.0; a bare number is seconds. A bad value is a
    :class:`CliError` naming ``option`` (the command-line option it was given to)."""
    match = _DURATION.match(text)
    if not match:
        where = f"{option} " if option else ""
        raise CliError(f"{where}{text!r} is not a duration; use e.g. 500ms, 5s, 30m, 24h, 7d")
    return float(match.group(1)) * _UNITS_S[match.group(2) or "s"]


_BASIC_DATE = re.compile(r"^\s*\d{8}\s*$")  # 20260131: ISO's basic date, not 20 million hours


def parse_time(
    text: str, now: datetime | None = None, option: str = "--since", end_of_day: bool = False
) -> str:
    """A ``--since``/``--until`` value as a record-style ``ts`` string (UTC).

    Accepts a duration back from now with its unit (``24h``, ``7d``) or an ISO
    date/time; a time without a zone is taken as UTC. Anything else (a bare ``24``),
    or a time out of range (``99999999w``), is a :class:`CliError` naming ``option``.
    With ``end_of_day`` (``--until``), a date without a time is the end of that UTC day:
    ``--until 2026-01-31`` takes in the 31st, as people mean it (and as ``check``
    counts days whole), so ``--since D --until D`` is the day D, not nothing.
    """
    now = now or datetime.now(UTC)
    try:
        duration = None if _BASIC_DATE.match(text) else _DURATION.match(text)
        if duration is not None and duration.group(2) is None:
            raise ValueError("a bare number: hours? days? a year?")  # say which, with a unit
        if duration is not None:
            moment = now - timedelta(seconds=parse_duration_s(text))
        else:
            moment = datetime.fromisoformat(text.strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            if end_of_day and _date_only(text):
                moment += timedelta(days=1)
        utc = moment.astimezone(UTC)
        # Four-digit year even before 1000: ts strings are compared as text.
        return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"
    except (ValueError, OverflowError):
        raise CliError(
            f"{option} {text!r} is not a time llmlog can use; give a duration back from now "
            "(24h, 7d) or an ISO date/time (2026-01-31, 20260131, 2026-01-31T12:00)"
        ) from None


def _date_only(text: str) -> bool:
    """An ISO date without a time (``2026-01-31``, ``20260131``)."""
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def add_filter_args(parser: argparse.ArgumentParser, *, limit: bool = True) -> None:
    """Add the shared filter options to a subcommand (``--limit`` where it means something)."""
    group = parser.add_argument_group("filters")
    group.add_argument("--model", help="model or response model (glob: 'gpt-4o*')")
    group.add_argument(
        "--provider", type=_provider, metavar="{" + ",".join(PROVIDERS) + "}", help="whose SDK"
    )
    group.add_argument(
        "--status", type=_status, metavar="{" + ",".join(STATUSES) + "}", help="how the call ended"
    )
    group.add_argument("--session", help="session id")
    for option, field in _ID_OPTIONS:
        group.add_argument(option, metavar="ID", help=_ID_HELP[field])
    group.add_argument("--user", help="user id")
    group.add_argument("--template", help="prompt template name (glob)")
    group.add_argument("--service", help="the app that made the call: process.service (glob)")
    group.add_argument(
        "--tool",
        help="only calls whose answer asked for this tool: output.tool_calls[].name (glob)",
    )
    group.add_argument("--since", help="24h, 7d, or an ISO date/time (UTC)")
    group.add_argument(
        "--until",
        help="24h, 7d, or an ISO date/time (UTC), later than --since; a date counts whole: "
        "--until 2026-01-31 takes in the 31st",
    )
    group.add_argument(
        "--min-latency", help="only calls at least this slow: 500ms, 2s (bare number: seconds)"
    )
    group.add_argument(
        "--error",
        metavar="TEXT",
        help="only failed calls whose error matches: part of its type, message, code or of "
        "a cause's type or message (any case), or its HTTP status code: RateLimitError, "
        "429, 'context length', insufficient_quota, ConnectError",
    )
    if limit:
        group.add_argument(
            "--limit", type=_positive_int, help="at most N records (the most recent)"
        )


# The exact-id filters: option, and the record field it must equal.
_ID_OPTIONS = (
    ("--request-id", "request_id"),
    ("--response-id", "response_id"),
    ("--prompt-hash", "prompt_hash"),
)
_ID_HELP = {
    "request_id": "the provider's request id (its x-request-id / request-id header: req_...)",
    "response_id": "the provider's response id (chatcmpl-..., resp_..., msg_...)",
    "prompt_hash": "the prompt's hash (64 hex digits): the calls that sent the same prompt",
}


def _provider(text: str) -> str:
    """A record's ``provider`` (any case), refused like :func:`_status` when unknown."""
    provider = text.strip().lower()
    if provider not in PROVIDERS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a provider: use {', '.join(PROVIDERS)}")
    return provider


def _status(text: str) -> str:
    """A record's ``status`` (any case): a value no record can have would select nothing
    and look like an answer ("0 calls")."""
    status = text.strip().lower()
    if status not in STATUSES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a status: use {', '.join(STATUSES)}")
    return status


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def template_name(record: dict[str, Any]) -> str | None:
    """The prompt template's name, whether logged as an object or a plain string."""
    template = record.get("template")
    if isinstance(template, dict):
        name = template.get("name")
        return name if isinstance(name, str) else None
    return template if isinstance(template, str) else None


@dataclass(frozen=True)
class Filters:
    """Resolved filter values; ``None`` means "no filter"."""

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    session: str | None = None
    user: str | None = None
    request_id: str | None = None
    response_id: str | None = None
    prompt_hash: str | None = None
    template: str | None = None
    service: str | None = None
    tool: str | None = None
    since: str | None = None
    until: str | None = None
    min_latency_ms: float | None = None
    error: str | None = None  # lower case
    limit: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Filters:
        """Parse the filter options of a command line; bad values raise :class:`CliError`."""
        min_latency = getattr(args, "min_latency", None)
        since = parse_time(args.since, option="--since") if args.since else None
        until = parse_time(args.until, option="--until", end_of_day=True) if args.until else None
        if since is not None and until is not None and since >= until:
            # Nothing can be in the window: say so rather than answer "0 calls".
            raise CliError(
                f"--since {args.since} ({since}) is not before --until {args.until} ({until}): "
                "no call can be in that window"
            )
        return cls(
            model=args.model,
            provider=args.provider,
            status=args.status,
            session=args.session,
            user=args.user,
            request_id=_exact(getattr(args, "request_id", None)),
            response_id=_exact(getattr(args, "response_id", None)),
            prompt_hash=_exact(getattr(args, "prompt_hash", None)),
            template=args.template,
            service=getattr(args, "service", None),
            tool=getattr(args, "tool", None),
            since=since,
            until=until,
            min_latency_ms=(
                parse_duration_s(min_latency, "--min-latency") * 1000 if min_latency else None
            ),
            error=args.error.strip().lower() if getattr(args, "error", None) else None,
            limit=getattr(args, "limit", None),
        )

    def needle(self) -> bytes | None:
        """Bytes every line of a selected record holds (an exact id's, as JSON writes it):
        lines without them are skipped unparsed. None when no such filter is given."""
        for wanted in self._ids():
            if wanted is not None and _plain(wanted):
                return f'"{wanted}"'.encode()
        return None

    def _ids(self) -> tuple[str | None, ...]:
        return (self.request_id, self.response_id, self.prompt_hash)

    def window(self) -> Filters:
        """Only the time filters: what applies to events that are not calls."""
        return Filters(since=self.since, until=self.until)

    def predicate(self) -> Callable[[dict[str, Any]], bool]:
        """A function telling whether one record passes every filter."""
        checks: list[Callable[[dict[str, Any]], bool]] = []
        if self.model is not None:
            match_model = glob(self.model)
            checks.append(
                lambda r: match_model(r.get("model")) or match_model(r.get("response_model"))
            )
        for field, wanted in self._equalities():
            if wanted is not None:
                checks.append(_equals(field, wanted))
        if self.template is not None:
            match_template = glob(self.template)
            checks.append(lambda r: match_template(template_name(r)))
        if self.service is not None:
            match_service = glob(self.service)
            checks.append(lambda r: match_service(service(r)))
        if self.tool is not None:
            match_tool = glob(self.tool)
            checks.append(lambda r: any(match_tool(name) for name in tool_names(r)))
        if self.since is not None:
            since = self.since
            checks.append(lambda r: isinstance(r.get("ts"), str) and r["ts"] >= since)
        if self.until is not None:
            until = self.until
            checks.append(lambda r: isinstance(r.get("ts"), str) and r["ts"] < until)
        if self.min_latency_ms is not None:
            floor = self.min_latency_ms
            checks.append(lambda r: _number(r.get("latency_ms")) >= floor)
        if self.error is not None:
            checks.append(error_matches(self.error))
        return lambda record: all(check(record) for check in checks)

    def _equalities(self) -> tuple[tuple[str, str | None], ...]:
        """The fields a record must have equal to a value given (column names alike)."""
        ids = tuple(zip((field for _, field in _ID_OPTIONS), self._ids(), strict=True))
        return (
            ("provider", self.provider),
            ("status", self.status),
            ("session_id", self.session),
            ("user_id", self.user),
            *ids,
        )

    def sql_where(self) -> tuple[str, list[Any]]:
        """The same selection as :meth:`predicate`, as a SQL condition and its parameters.

        Column names are those of the ``calls`` relation built in ``_duck``.
        """
        clauses: list[str] = []
        params: list[Any] = []
        if self.model is not None:
            op = glob_sql(self.model)
            clauses.append(f"(model {op} ? OR response_model {op} ?)")
            params += [self.model, self.model]
        for column, wanted in self._equalities():
            if wanted is not None:
                clauses.append(f"{column} = ?")
                params.append(wanted)
        for column, pattern in (("template_name", self.template), ("service", self.service)):
            if pattern is not None:
                clauses.append(f"{column} {glob_sql(pattern)} ?")
                params.append(pattern)
        if self.tool is not None:
            clauses.append(tool_sql().format(op=glob_sql(self.tool)))
            params.append(self.tool)
        if self.since is not None:
            clauses.append("ts >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("ts < ?")
            params.append(self.until)
        if self.min_latency_ms is not None:
            clauses.append("coalesce(latency_ms, -1) >= ?")
            params.append(self.min_latency_ms)
        if self.error is not None:
            # Typed in ``_duck`` as the Python reader reads them: text, or a whole number.
            condition, error_params = error_sql(self.error)
            clauses.append(condition)
            params += error_params
        return (" AND ".join(clauses) or "TRUE"), params


def _exact(text: str | None) -> str | None:
    """An id as given, without the blanks a copy and paste brings along."""
    return None if text is None else text.strip()


def _plain(text: str) -> bool:
    """``text`` is written by JSON as itself (printable ASCII, no quote, no backslash), so
    a line holding the value holds its bytes."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def _equals(field: str, wanted: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: record.get(field) == wanted


def _number(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return -1.0
