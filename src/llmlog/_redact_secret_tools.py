"""Secrets of command lines and credential files, as a shell tool prints them or a user pastes
them: ``mysql -pS3cret``, ``sshpass -p``, ``docker login -p``, ``htpasswd -b``, any
command's ``--password hunter2``, and the lines of ``~/.pgpass``, ``.npmrc`` and ``.netrc``.

Kept apart from :mod:`llmlog._redact_secrets`, which runs these rules with its own (see
``SECRET_RULES`` there for what a rule and its gate are): none holds a credential's name,
each is known by its command's or its file's shape, and each is gated on that command's
name or that file's keyword (a ~/.pgpass line, which has none, on a colon and a line's
start), so a text without one pays a substring test or two.
"""

from __future__ import annotations

import re
from typing import Final

from llmlog._redact_password_forms import (
    BARE_CHARS,
    LIKE_A_PASSWORD,
    PROSE_SECRET,
    PROSE_SECRET_HINTS,
    closed_or_cut,
)

__all__ = ["TOOL_RULES", "WORD_START", "Gate"]

# (chars, hints, folded, reach): see `SECRET_RULES` in llmlog._redact_secrets.
Gate = tuple[str, tuple[str, ...], bool, int | None]
WORD_START: Final = -1
"""A gate's reach: a match starts where the identifier holding its hint starts."""

# Not inside a word or a path's name (`.htpasswd`, `my-mysql`): a command's own name.
_COMMAND_START: Final = r"(?<![A-Za-z0-9_.\-])"
_SPACES: Final = r"[ \t]{1,16}"  # between a command's words (bounded, as every run here)
# A command's word (quoted or bare), to step over.
_WORD: Final = r"(?:'[^'\r\n]{0,256}'|\"(?:[^\"\\\r\n]|\\[^\r\n]){0,256}\"|[^\s;&|<>'\"]{1,256}+)"


_BARE_CHAR: Final = r"[^\s;&|<>()`'\"]"
# In a JSON string (a tool call's `{"command": "..."}`): `\n`, `\t` and `\"` end a word.
_BARE_CHAR_IN_JSON: Final = r"(?:[^\s;&|<>()`'\"\\]|\\[^nrt\"\s])"


def _value(name: str, bare_char: str = _BARE_CHAR) -> str:
    """A password given in a command: quoted, or a bare word that is no variable
    (``$PW``, ``${PW}``, ``"$PW"``), placeholder (``<password>``, ``[pw]``) or mask
    (``****``). In groups named ``<name>`` and ``<name>_sq``, ``<name>_dq``."""
    return (
        rf"(?:'(?P<{name}_sq>[^'\r\n]{{1,256}})'"
        rf"|\"(?P<{name}_dq>(?![$`])(?:[^\"\\\r\n]|\\[^\r\n]){{1,256}})\""
        rf"|(?P<{name}>(?![$<*\[{{(`'\"]){bare_char}{{1,256}}+))"
    )


def _option(words: str, option: str) -> str:
    """``option`` anywhere in the command named by ``words``: at most 512 characters on,
    over ``\\``-continued lines, not past a ``;``, ``|``, ``&`` or the next such command
    (so each character is looked at for one command only: linear time)."""
    return (
        rf"{_COMMAND_START}(?:{words})(?=[ \t])"
        rf"(?:(?!(?:{words})[ \t])[^\r\n;&|]|\\\r?\n){{1,512}}?(?<=[ \t]){option}"
    )


# htpasswd's flags (`-b`, `-nb`, `-bc`, `-B -C 10`), at most four.
_HT_FLAG: Final = rf"{_SPACES}-[A-Za-z]{{1,8}}(?:{_SPACES}[0-9]{{1,3}})?"


def _ht_flags_holding(letter: str) -> str:
    return rf"(?:{_HT_FLAG}){{0,3}}{_SPACES}-[A-Za-z]{{0,7}}{letter}"


_COMMANDS: Final = (
    # MySQL's clients (`mysql`, `mysqldump`, `mysqladmin`...): `-p` glued to the password
    # (`-pS3cret`, `-p'a b'`); `-p` alone prompts for one (the next word is the database).
    # `--password=` is a password's `NAME=value`, found by llmlog._redact_secrets.
    _option(r"mysql[A-Za-z_\-]{0,16}", "-p" + _value("mysql")),
    # sshpass's `-p` comes before the command it runs (whose own `-p` is ssh's port)
    rf"{_COMMAND_START}sshpass(?:{_SPACES}-(?:[vVeh]|[fdP][ \t]{{0,16}}{_WORD})){{0,4}}"
    rf"{_SPACES}-p[ \t]{{0,16}}" + _value("sshpass"),
    # `docker login -u me -p secret registry` (`--password secret`, `--password=secret`;
    # not `--password-stdin`); `-p 8080:80` of `docker run` is a port
    _option(rf"docker{_SPACES}login", rf"(?:-p|--password)(?:{_SPACES}|=)" + _value("docker")),
    # `redis-cli -a secret` (`--pass secret`; `--askpass` prompts)
    _option("redis-cli", rf"(?:-a|--pass){_SPACES}" + _value("rediscli")),
    # redis.conf's `requirepass secret` / `masterauth secret` (a line's start), and
    # `CONFIG SET requirepass secret`; not prose's `the requirepass directive`
    r"(?:(?<![^\n])|(?<=[Ss][Ee][Tt] ))(?i:requirepass|masterauth)" + _SPACES + _value("redisconf"),
    # `htpasswd -b[flags] file user password`, `htpasswd -nb user password`: the password
    # is the command's last word
    rf"{_COMMAND_START}htpasswd(?={_ht_flags_holding('b')})"
    rf"(?:(?={_ht_flags_holding('n')})(?:{_HT_FLAG}){{1,4}}{_SPACES}{_WORD}"
    rf"|(?!{_ht_flags_holding('n')})(?:{_HT_FLAG}){{1,4}}(?:{_SPACES}{_WORD}){{2}})"
    # (its end: the command's, or the JSON string's holding it, `{"command": "htpasswd ..."}`,
    # or the quote closing `sh -c '...'`)
    rf"{_SPACES}(?:\\\"(?P<htpasswd_eq>(?![$`])[^\"\\\r\n]{{1,256}})\\\"|"
    + _value("htpasswd", _BARE_CHAR_IN_JSON)
    + r")(?=[ \t]{0,16}(?:[;&|<>\r\n\"'`)]|\\[nrt]|\Z))",
)

# Any command's option named for a password (in lower case, as options are), its value the
# next word: `--password hunter2horse` (mongosh's, influx's, rabbitmqadmin's...), `--db-password
# 'a b'`, `-passphrase ...`. Not `--password-file /path`, `--password $PW`, `--password --host
# db`, nor prose's `the --password flag` (a bare value needs a digit or a symbol).
# (`--password=...` is a password's `NAME=value`, found by llmlog._redact_secrets.)
_OPTION_SQ: Final = closed_or_cut("option_sq", r"[^'\r\n]", 4, "'", 256)
_OPTION_DQ: Final = closed_or_cut("option_dq", r"(?:[^\"\\\r\n]|\\[^\r\n])", 4, '"', 256)
_NOT_A_STAND_IN: Final = r"(?![$<*`{])"  # in quotes too: `"$PW"`, `'<password>'`
_PASSWORD_OPTION: Final = (
    r"(?<![A-Za-z0-9_\-])--?(?:[A-Za-z0-9]{1,32}[_\-]){0,8}(?:password|passwd|passphrase|pass)"
    rf"(?![A-Za-z0-9_\-])[ \t]{{1,16}}(?:'{_NOT_A_STAND_IN}{_OPTION_SQ}"
    rf"|\"{_NOT_A_STAND_IN}{_OPTION_DQ}"
    rf"|{LIKE_A_PASSWORD}(?P<option>{BARE_CHARS}{{6,256}}+)(?=[\s;|)]|\Z))"
)

# A line of ~/.pgpass, whole and not indented (so a line of code fails at its first
# character): `hostname:port:database:username:password` and nothing more. The host a
# hostname's or an address's letters, digits, dots and hyphens (or `*`), no number
# (`12:30:45:...`) and no path (`grep -n`'s `src/a.py:12:...`); the port a number of 1 to
# 65535 (or `*`); no field holds a space, the password neither (`INFO:12:server:main:Started
# server on port 8000`, `app.py:12:E501:line:too long` are a log's and a linter's lines);
# `\:` and `\\` escape in a field. Spaces after the password are not its, nor is a `"`: in
# JSON text, as a tool's result holds one, a line starts after a `"` or an escaped `\n` and
# ends with `\n` or `"` (`{"stdout": "db:5432:prod:app:Pw0rd!\n"}`).
_PORT: Final = (
    r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
    r"|[1-9][0-9]{0,3})"
)
_PGPASS_LINE: Final = (
    rf"(?![0-9]{{1,253}}:)(?:[A-Za-z0-9.\-]{{1,253}}+|\*):(?:{_PORT}|\*)"
    r"(?::(?:[^\s:\\]|\\[^\s]){1,64}){2}"
    r":(?P<pgpass>(?:[^\s:\\\"]|\\[^\snr]){1,256}+)[ \t]{0,16}"
    r"(?=\r?\n|\Z|\"|\\[rn])"
)
# In JSON, where a string holds a time (`"sat:10:00-sat:11:00"`) more often than a ~/.pgpass
# line, a port of 3 digits or more (or `*`).
_JSON_PGPASS_LINE: Final = r"(?=[A-Za-z0-9.\-*]{1,253}:(?:[0-9]{3,5}|\*):)" + _PGPASS_LINE

# .npmrc's `_auth=` (base64 of `user:password`) and `_authToken=`, of a registry
# (`//registry.npmjs.org/:_authToken=...`) or of all; not `${NPM_TOKEN}`. Unscoped, only at
# a line's start (or a JSON string's, or after its escaped `\n`) and glued to its `=` (not
# code's `self._auth = ...` nor a keyword argument's `f(url, _auth=handler)`). The value runs
# to a space, and never past a `)`, `,` or `;`.
_NPMRC: Final = (
    r"(?:(?<=/:)_auth(?:Token)?[ \t]{0,16}=[ \t]{0,16}"
    r"|(?:(?<![^\n])|(?<=\\n)|(?<=\"))_auth(?:Token)?=)"
    r"(?:\"(?P<npmrc_dq>[^\"\r\n$]{4,512})\""
    r"|(?P<npmrc>(?![$\"'])[^\s\"';&|),]{4,512}+))(?=[\s;&|\"),]|\Z)"
)

# .netrc / _netrc: `machine host login me password secret`, on one line or several; the
# host a hostname's (dotted, or `localhost`) or an address, then a `login` (or `account`,
# `port`), each its own word with a value, so prose's `machine room password reset` and
# `machine learning login portal password policy` stay.
_NETRC_HOST: Final = (
    r"(?:localhost|[A-Za-z0-9_\-]{0,63}(?:\.[A-Za-z0-9_\-]{1,63}){1,16}\.?)(?=[ \t\r\n])"
)
_NETRC: Final = (
    rf"(?<![A-Za-z0-9_\-])machine[ \t\r\n]{{1,64}}{_NETRC_HOST}"
    r"(?:[ \t\r\n]{1,64}(?:login|account|port)[ \t\r\n]{1,64}[^\s]{1,256}){1,3}"
    r"[ \t\r\n]{1,64}password[ \t\r\n]{1,64}"
    r"(?:\"(?P<netrc_dq>[^\"\r\n]{1,256})\"|'(?P<netrc_sq>[^'\r\n]{1,256})'"
    r"|(?P<netrc>(?!\$)[^\s\"']{1,256}))"
)

# SQL that sets a password: MySQL's `CREATE USER 'app'@'%' IDENTIFIED BY 'S3cr3t!'` (in a
# GRANT too; `IDENTIFIED BY PASSWORD '*hash'`, `IDENTIFIED WITH plugin BY '...'`), Oracle's
# bare `IDENTIFIED BY S3cr3t9`, PostgreSQL's `CREATE ROLE app WITH LOGIN PASSWORD '...'` and
# `ALTER ROLE app ENCRYPTED PASSWORD '...'`, `SET PASSWORD FOR u = '...'` and `PASSWORD('...')`.
# (`WITH PASSWORD = '...'` is a password's `NAME = value`, found by llmlog._redact_secrets.)
# Each match starts at one of `_SQL_HINTS`. Not a driver's placeholder (`'%s'`, `'{pw}'`).
_SQL_HINTS: Final = ("identified", "create", "alter", "password")
_SQL_GAP: Final = r"[ \t\r\n]{1,16}"
_SQL_NAME: Final = (
    r"(?:'[^'\r\n]{0,64}'|\"[^\"\r\n]{0,64}\"|`[^`\r\n]{0,64}`|[A-Za-z0-9_$.%\-]{1,64})"
)
_SQL_USER: Final = rf"{_SQL_NAME}(?:@{_SQL_NAME})?"


def _sql_quoted(name: str) -> str:
    """A SQL string literal (`''` and `\\'` escape a quote), or one quoted in JSON, in
    group ``name`` + ``_sq``, ``_dq`` or ``_eq``."""
    return (
        rf"(?:'(?![%{{$<?:]|\*\*)(?P<{name}_sq>(?:[^'\\\r\n]|''|\\[^\r\n]){{1,256}}+)'"
        rf"|\"(?![%{{$<?:]|\*\*)(?P<{name}_dq>[^\"\\\r\n]{{1,256}})\""
        rf"|\\\"(?![%{{$<?:]|\*\*)(?P<{name}_eq>[^\"\\\r\n]{{1,256}})\\\")"
    )


# Oracle's unquoted password is an identifier; one that holds no digit nor `$`/`#` only
# before a `;` (prose's `identified by name` is left). And only after an upper-case `BY`
# (`AS`, `PASSWORD`) or before a `;`: prose's `The bug was identified by sha256`, `each
# record is identified by id2` is left too.
_SQL_BARE: Final = (
    r"(?:(?<=(?-i:[A-Z]{2})[ \t])(?=[A-Za-z0-9_$#]{0,127}[0-9$#])"
    r"(?P<sql_bare>[A-Za-z][A-Za-z0-9_$#]{0,127}+)(?=[\s;\"]|\Z)"
    r"|(?P<sql_bare_end>[A-Za-z][A-Za-z0-9_$#]{0,127}+)(?=[ \t]*;))"
)
# Not prose's `a library identified by 'name'.`: the keyword before the value in upper case
# (`BY`, `AS`, `PASSWORD`), or the value holds a digit or a symbol, or ends the statement
# (`... identified by 'dragonfruit';`).
_SQL_NOT_PROSE: Final = (
    r"(?:(?<=(?-i:[A-Z]{2})[ \t])"
    r"|(?=[\"'`]?[^\"'`\s]{0,255}[0-9!@#$%^&*+=~])"
    r"|(?=(?:'[^'\r\n]{0,256}'|\"[^\"\r\n]{0,256}\"|[A-Za-z0-9_$#]{1,128})"
    r"[ \t]{0,16}(?:;|\r?\n|\\n|\Z)))"
)
_SQL_PASSWORD: Final = (
    r"(?i)(?<![A-Za-z0-9_])(?:"
    rf"identified(?:{_SQL_GAP}with{_SQL_GAP}{_SQL_NAME})?{_SQL_GAP}(?:by|as)"
    rf"(?:{_SQL_GAP}(?:password|values))?{_SQL_GAP}{_SQL_NOT_PROSE}"
    rf"(?:{_sql_quoted('sql_by')}|{_SQL_BARE})"
    # PostgreSQL's options before PASSWORD: `WITH`, `LOGIN`, `VALID UNTIL '...'`, `CONNECTION
    # LIMIT 5`...
    rf"|(?:create|alter){_SQL_GAP}(?:role|user|group){_SQL_GAP}"
    rf"(?:if{_SQL_GAP}not{_SQL_GAP}exists{_SQL_GAP})?{_SQL_NAME}"
    rf"(?:{_SQL_GAP}(?:[A-Za-z_]{{1,32}}|-?[0-9]{{1,10}}|'[^'\r\n]{{0,64}}')){{0,12}}?"
    rf"{_SQL_GAP}password{_SQL_GAP}{_sql_quoted('sql_role')}"
    rf"|(?<=(?<![A-Za-z0-9_])set[ \t])password(?:{_SQL_GAP}for{_SQL_GAP}{_SQL_USER})?"
    rf"[ \t]{{0,16}}=[ \t]{{0,16}}(?:(?:old_)?password[ \t]{{0,16}}\([ \t]{{0,16}})?"
    rf"{_sql_quoted('sql_set')}"
    rf"|(?<![.\-])password[ \t]{{0,16}}\([ \t]{{0,16}}{_sql_quoted('sql_fn')}[ \t]{{0,16}}\)"
    ")"
)

TOOL_RULES: Final[tuple[tuple[re.Pattern[str], str | None, Gate], ...]] = (
    (
        # every command's password comes after an option (`-p`, `-b`): a "-". Each match
        # starts where its command's name or its option's does: "pass" is in `sshpass`,
        # `htpasswd` and every password option (one search for the three)
        re.compile("|".join((*_COMMANDS, _PASSWORD_OPTION))),
        "",
        ("- \t", ("mysql", "pass", "docker", "redis", "masterauth"), False, WORD_START),
    ),
    # A ~/.pgpass line starts a line: after a "\n" (the regex's first character, so the
    # regex engine skips to each), or the text.
    (re.compile(r"\n" + _PGPASS_LINE), "pgpass", (":", ("\n",), False, None)),
    (re.compile(r"\A" + _PGPASS_LINE), "pgpass", (":", (":",), False, None)),
    # ...or a JSON string's line: after its opening `"`, or an escaped `\n` (each the
    # regex's first characters, as above: a search in C, no try per quote in Python)
    (re.compile('"' + _JSON_PGPASS_LINE), "pgpass", (":", ('"',), False, None)),
    (re.compile(r"\\n" + _JSON_PGPASS_LINE), "pgpass", (":", ("\\n",), False, None)),
    (re.compile(_NPMRC), "", ("=", ("_auth",), False, 0)),
    (re.compile(_NETRC), "", (" \t\r\n", ("machine",), False, 0)),
    (re.compile(_SQL_PASSWORD), "", (" \t\r\n(", _SQL_HINTS, True, 0)),
    # passwords and keys in prose (llmlog._redact_password_forms)
    # (`>`: an HTML table's `<td>Password</td><td>X</td>` holds no other)
    (re.compile(PROSE_SECRET), "", (" \t:=|>\uff1a是为は는", PROSE_SECRET_HINTS, True, 0)),
)
"""The rules of this module: each finds a ``SECRET``, in the group named (``""``: the last
group that matched)."""
