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

from llmlog._redact_password_forms import BARE_CHARS, LIKE_A_PASSWORD, closed_or_cut

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


def _value(name: str) -> str:
    """A password given in a command: quoted, or a bare word that is no variable
    (``$PW``, ``${PW}``, ``"$PW"``), placeholder (``<password>``, ``[pw]``) or mask
    (``****``). In groups named ``<name>`` and ``<name>_sq``, ``<name>_dq``."""
    return (
        rf"(?:'(?P<{name}_sq>[^'\r\n]{{1,256}})'"
        rf"|\"(?P<{name}_dq>(?![$`])(?:[^\"\\\r\n]|\\[^\r\n]){{1,256}})\""
        rf"|(?P<{name}>(?![$<*\[{{(`'\"])[^\s;&|<>()`'\"]{{1,256}}+))"
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
    # `htpasswd -b[flags] file user password`, `htpasswd -nb user password`: the password
    # is the command's last word
    rf"{_COMMAND_START}htpasswd(?={_ht_flags_holding('b')})"
    rf"(?:(?={_ht_flags_holding('n')})(?:{_HT_FLAG}){{1,4}}{_SPACES}{_WORD}"
    rf"|(?!{_ht_flags_holding('n')})(?:{_HT_FLAG}){{1,4}}(?:{_SPACES}{_WORD}){{2}})"
    rf"{_SPACES}" + _value("htpasswd") + r"(?=[ \t]{0,16}(?:[;&|<>\r\n]|\Z))",
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
# JSON text, as a tool's result holds one, a line ends with `\n` or `"`.
_PORT: Final = (
    r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}"
    r"|[1-9][0-9]{0,3})"
)
_PGPASS_LINE: Final = (
    rf"(?![0-9]{{1,253}}:)(?:[A-Za-z0-9.\-]{{1,253}}+|\*):(?:{_PORT}|\*)"
    r"(?::(?:[^\s:\\]|\\[^\s]){1,64}){2}"
    r":(?P<pgpass>(?:[^\s:\\\"]|\\[^\s]){1,256}+)[ \t]{0,16}"
    r"(?=\r?\n|\Z|\")"
)

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

TOOL_RULES: Final[tuple[tuple[re.Pattern[str], str | None, Gate], ...]] = (
    (
        # every command's password comes after an option (`-p`, `-b`): a "-". Each match
        # starts where its command's name or its option's does: "pass" is in `sshpass`,
        # `htpasswd` and every password option (one search for the three)
        re.compile("|".join((*_COMMANDS, _PASSWORD_OPTION))),
        "",
        ("-", ("mysql", "pass", "docker"), False, WORD_START),
    ),
    # A ~/.pgpass line starts a line: after a "\n" (the regex's first character, so the
    # regex engine skips to each), or the text.
    (re.compile(r"\n" + _PGPASS_LINE), "pgpass", (":", ("\n",), False, None)),
    (re.compile(r"\A" + _PGPASS_LINE), "pgpass", (":", (":",), False, None)),
    (re.compile(_NPMRC), "", ("=", ("_auth",), False, 0)),
    (re.compile(_NETRC), "", (" \t\r\n", ("machine",), False, 0)),
)
"""The rules of this module: each finds a ``SECRET``, in the group named (``""``: the last
group that matched)."""
