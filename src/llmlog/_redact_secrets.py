"""The cheap tier's rules: secrets (API keys, tokens, private keys, assigned passwords),
as stdlib ``re`` patterns with the gates that say where each can match. The search that
runs them is :mod:`llmlog._redact_secret_search`; the user's own patterns and deny terms
are :mod:`llmlog._redact_custom`.

Everything here is precompiled at import and costs microseconds per KB, so it
can run wherever it is needed (the writer thread for level ``secrets``, the
worker process for ``pii``/``ner``) without importing anything heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from llmlog._credential_names import (
    DOTTED_KEY_NAME,
    KEY_LIKE_NAME,
    PASSWORD_NAME,
    PHRASE_NAME,
    QUOTED_CREDENTIAL_WORDS,
    SECRET_NAME,
    name_regex,
)
from llmlog._redact_password_forms import (
    PASSWORD_BESIDE_NAME,
    PASSWORD_BESIDE_NAME_HINTS,
    closed_or_cut,
    deeply_escaped,
    hash_rocket,
    quoted,
)
from llmlog._redact_positional import POSITIONAL_RULES
from llmlog._redact_secret_checks import Reader, session_cookies
from llmlog._redact_secret_tools import TOOL_RULES, WORD_START, Gate
from llmlog._redact_sql_values import SQL_RULES
from llmlog._redact_value_shapes import (
    A_NAME,
    KEY_CHARS,
    NOT_DOTTED,
    key_like,
    upper_words,
)
from llmlog._redact_vendor_tokens import NOT_AFTER_WORD, VENDOR_RULES

# (start, end, ENTITY_TYPE): where a detector found something, never the value.
Span = tuple[int, int, str]
# A rule's group: see SECRET_RULES.
Group = str | Reader | None

API_KEY: Final = "API_KEY"
JWT: Final = "JWT"
BEARER_TOKEN: Final = "BEARER_TOKEN"
PRIVATE_KEY: Final = "PRIVATE_KEY"
SECRET: Final = "SECRET"
DENY_LIST: Final = "DENY_LIST"

# Not inside a word (of ASCII letters and digits: see llmlog._redact_vendor_tokens).
_NOT_AFTER_WORD: Final = NOT_AFTER_WORD
ASCII_ALNUM: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


# After a name: `name=`, `"name":`, `['name'] =` (the quote or bracket closing it, then
# the sign).
_NAME_CLOSED: Final = r"(?:\\?[\"']\]?|\])?\s*"
_ASSIGNED: Final = _NAME_CLOSED + r"[:=\uff1a]\s*"
# A literal: quoted, or a bare word holding a digit (so `token=settings.token`
# and `api_key=os.environ[...]` in code are not mistaken for secrets) that is not code
# either: called or indexed (`f(`, `x[`), a dotted path (`a.b.c2`) or a setting. A quoted one is
# taken whole, escapes and all, or up to the text's end if that cuts it off.
_ASSIGNED_VALUE: Final = (
    "(?:"
    + quoted("")
    + r"|(?P<bare>(?![A-Za-z_]\w*(?:\.[A-Za-z_]\w*){2,}(?![^\s\"'`,;()\[\]{}<>]))"
    r"(?![a-z][a-z0-9]*+(?:_[a-z0-9]++)++=[0-9])"  # a setting: `Password: min_length=12`
    r"(?=[^\s\"'`,;()\[\]{}<>]{0,255}\d)[^\s\"'`,;()\[\]{}<>]{6,}+(?![(\[])))"
)

# A password's whole line, in a .env or YAML file (`DB_PASSWORD=Xy9!a;Bc.7`,
# `  password: bluemoonrising`): at the start of a line (.env: not indented, as code's
# `    password=password` is), ending it; not a path (`PWD=/home/x`), a variable, a
# placeholder or a type (`password: SecretStr`).
_LINE_VALUE: Final = (
    r"(?![\"'`$%<*/~])(?!(?:none|null|nil|true|false|empty|string|secretstr|secretbytes"
    r"|required|optional|undefined|redacted|hidden|masked)[ \t]*\r?$)"
    r"[^\s(){}\[\]<>]{5,}[^\s(){}\[\]<>,;](?=[ \t]*\r?$)"
)
_LIST_ITEMS: Final = tuple(" " * n + "- " for n in range(0, 9, 2))  # docker-compose's `- X=y`
_ENV_STARTS: Final = ("", "export ", "$env:", *_LIST_ITEMS)  # `$env:`: PowerShell's
_YAML_INDENTS: Final = (*(" " * n for n in range(13)), "\t", "\t\t", "\t\t\t")
_YAML_STARTS: Final = (*_YAML_INDENTS, *_LIST_ITEMS)
# In a connection string (`...;Password=correct horse;...`) the value runs to the `;`
# (at most 128 characters: unbounded, a long line of names without one took quadratic time).
_CS_VALUE: Final = r"(?![\"'{$(])[^;\r\n\"'(){}\[\]]{4,128}?"


def _at_line_start(starts: Iterable[str]) -> str:
    return "(?:" + "|".join(f"(?<=^{re.escape(start)})" for start in starts) + ")"


# A file's line as a tool shows it: in a diff, after its `+` or `-` (`+DB_PASSWORD=...`,
# `+    password: ...`); in grep's output, after `path:12:` (`./.env:3:SMTP_PASSWORD=...`).
_GREP_LINE: Final = tuple(f"(?<=:[0-9]{{{digits}}}:)" for digits in range(1, 8))


def _file_line_start(starts: Iterable[str], diffed: Iterable[str]) -> str:
    """At a line's start, after one of ``starts``; or after a diff's mark and one of
    ``diffed``; or after grep's ``path:line:``."""
    marked = [f"(?<=^[+\\-]{re.escape(start)})" for start in diffed]
    return "(?:" + _at_line_start(starts) + "|" + "|".join((*marked, *_GREP_LINE)) + ")"


_NOT_DOTTED: Final = NOT_DOTTED
# A password mid-line (`docker run -e POSTGRES_PASSWORD=mysecretpassword`, `PGPASSWORD=
# correcthorse psql`, libpq's `'... password=correcthorse'`, `?password=abc&`): the value
# needs no digit, but ends at a space, a quote, `&` or the end, so a keyword argument
# (`f(password=pw)`, `password=pw,`) is not taken; nor a path, a variable, a placeholder.
_MID_VALUE: Final = (
    rf"(?![\"'`$%<*/~{{\[=]){_NOT_DOTTED}"  # `=`: not `password===x`
    r"(?!(?:none|null|nil|true|false|required|optional|undefined|redacted|hidden|masked)"
    r"(?:[\s\"'`&\\]|$))"
    r"[^\s\"'`,;()\[\]{}<>&|\\]{6,256}+(?=[\s\"'`&\\]|$)"
)
_ENV_LINE: Final = _file_line_start(_ENV_STARTS, ("", "export "))
_YAML_LINE: Final = _file_line_start(_YAML_STARTS, _YAML_INDENTS)
# A password's name then `=` or `:`: the line forms' first test, cheaper than their many
# lookbehinds (each name with a hint is tried here first, mostly in vain).
_PASSWORD_THEN_SIGN: Final = rf"(?={PASSWORD_NAME}[ \t]*[=:])"
_PASSWORD_ASSIGNED: Final = (
    rf"{_PASSWORD_THEN_SIGN}(?:{_ENV_LINE}{PASSWORD_NAME}=(?P<env>{_LINE_VALUE})"
    rf"|{_YAML_LINE}{PASSWORD_NAME}:[ \t]+(?P<yaml>{_LINE_VALUE})"
    # an INI file's `password = bluemoonrising` (not indented, as code is)
    rf"|{_file_line_start(('',), ('',))}{PASSWORD_NAME}[ \t]*=[ \t]*"
    rf"(?P<ini>{_NOT_DOTTED}{_LINE_VALUE}))"
    rf"|(?<=;){PASSWORD_NAME}=(?P<cs_last>{_CS_VALUE})(?=[;\"'\r\n]|$)"
    rf"|(?<!\.){PASSWORD_NAME}=(?P<cs>{_CS_VALUE})(?=;)"  # not `this.password=x;`
    # after a word and a space, a quote, `?` or `&`, or at a line's start; not indented (a
    # keyword argument's line), nor after `.` or `(` (`self.password=`, `f(password=`)
    # (or kubectl's `--from-literal=password=...`)
    rf"|(?:(?<=[^\s][ \t])|(?<=[\"'`?&])|(?<=^)|(?<=--from-literal=))"
    rf"{PASSWORD_NAME}=(?P<mid>{_MID_VALUE})"
)
# Any other UPPER_SNAKE `..._KEY` of a .env or YAML line (`OPENAI_KEY=`, `MAPS_KEY: `,
# printenv's `MY_SERVICE_KEY=`), but a record's or a lookup's (`IDEMPOTENCY_KEY`, `SORT_KEY`)
# or a public one (`PUBLIC_KEY`, a GPG key's fingerprint), when its value looks like a key
# (key_like), maybe quoted, ending the line.
_NOT_KEY_KINDS: Final = (
    *("CACHE", "IDEMPOTENCY", "SORT", "PARTITION", "PRIMARY", "FOREIGN", "ROUTING", "SHARD"),
    *("HASH", "RANGE", "LOOKUP", "GROUP", "DEDUP", "OBJECT", "PUBLIC", "PUBLISHABLE"),
    *("GPG", "PGP", "GNUPG", "FINGERPRINT"),
)
_ANY_KEY_NAME: Final = (
    rf"(?-i:-?(?!(?:{'|'.join(_NOT_KEY_KINDS)})_KEY[=:])[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_KEY"
    + "".join(f"(?<!_{kind}_KEY)" for kind in _NOT_KEY_KINDS)
    + ")"
)
_KEY_CHARS: Final = KEY_CHARS
_A_NAME: Final = A_NAME


def _any_key_value(group: str) -> str:
    return rf"[\"']?{key_like(group)}[\"']?(?=[ \t]*\r?$)"


# A name of KEY_LIKE_NAME_KINDS (`SERVICE_KEY`, `"admin_key":`), with a value like a key:
# quoted, closed right after it, or bare.
_KEY_LIKE_ASSIGNED: Final = (
    rf"{KEY_LIKE_NAME}{_NAME_CLOSED}[:=\uff1a][ \t]*(?P<keyq>\\?[\"']|){key_like('keylike')}"
    rf"(?P=keyq)(?!{_KEY_CHARS})"
)
_ANY_KEY_ASSIGNED: Final = (
    rf"(?=(?-i:-?[A-Z0-9_]++(?<=_KEY))[=:])(?:{_ENV_LINE}{_ANY_KEY_NAME}={_any_key_value('env_key')}"
    rf"|{_YAML_LINE}{_ANY_KEY_NAME}:[ \t]+{_any_key_value('yaml_key')})"
)
# A wallet's recovery words, bare or quoted: 12 to 24 lower-case words of BIP-39's list (3
# to 8 letters), the whole value (a memory aid's words run on: `Mnemonic: never eat soggy
# waffles when you are hungry because they taste really bad at night`).
_PHRASE_ASSIGNED: Final = (
    rf"{PHRASE_NAME}{_NAME_CLOSED}[:=\uff1a][ \t]*(?P<phraseq>\\?[\"']|)"
    r"(?P<phrase>(?-i:[a-z]{3,8}(?:[ \t]+[a-z]{3,8}){11,23}))(?![A-Za-z])(?P=phraseq)"
    r"(?:(?<=[\"'])|[ \t]*\r?$)"
)
_PHRASE_HINTS: Final = ("mnemonic", "phrase")
# Query parameters whose value is a credential, whatever its format (`?api_key=`, `?token=`:
# their names are credentials' anywhere).
_URL_CREDENTIALS: Final = ("key=", "appid=", "auth=", "jwt=", "session=", "sid=", "code=")
# The generic ones (not `key=`, `appid=`) as often hold a name: `?session=2024-spring-cohort-A`,
# `?code=python3_solution_v2`, `?code=SUMMER2024SALE50OFF`.
_A_URL_NAME: Final = rf"{_A_NAME}|{upper_words()}"
# A Java properties file's dotted name ending in a password's or a secret's (`spring.mail.
# password = ...`), first on its line (at most 96 characters before it), not code's `self.`.
# Code's too is first on its line at top level (`user.password = hashed_password`): a
# properties file's has two dots or more (`spring.mail.password = x`), or no space before
# its sign (`app.password=changeme`); else a value that is a word with no digit is code's
# variable (`hunter2` is a password's).
_PROPERTIES_REACH: Final = 96
_PROPERTIES_NAME: Final = r"[a-z][a-z0-9_.\-]{0,94}\.(?:password|passwd|passphrase|pass|pwd|secret)"
_PROPERTIES_PASSWORD: Final = (
    r"(?im)(?<=^)(?!(?:self|this|cls)\.)"
    rf"(?:(?=[a-z0-9_\-]*\.[a-z0-9_\-]*\.){_PROPERTIES_NAME}[ \t]*[=:]"
    rf"|{_PROPERTIES_NAME}(?:[=:]|[ \t]+[=:](?![ \t]*[a-z_]+[ \t]*\r?$)))"
    rf"[ \t]*(?P<v>{_NOT_DOTTED}{_LINE_VALUE})"
)
# A glued `...Secret` is prose's or code's (`isSecret`, `showSecret`), but a JSON key so
# named holds one (`{"clientSecret": "..."}` in a tool call's arguments), as the same key of
# a dict does, and so does a JavaScript object's unquoted key (`{ clientSecret: '...' }`, not
# a type's `clientSecret: string`); unless its value says yes or no.
_NOT_YES_OR_NO: Final = r"(?!\\?[\"'](?:true|false|null|none|yes|no)\\?[\"'])"
_JSON_SECRET_KEY: Final = (
    r"(?<![A-Za-z0-9_\-$.])[A-Za-z0-9_\-]++(?<=secret)(?:\\?[\"'])?\s*:\s*"
    + _NOT_YES_OR_NO
    + "(?:"
    + quoted("key")
    + ")"
)
# `pass` alone names no password (`PASS: test_x`, `{"pass": 12}`), but an object's key `pass`
# does, with a quoted value: nodemailer's and mongoose's options in JavaScript (`auth: {
# user: 'me', pass: '...' }`), after a `{` or `,`, or first on its line (lower case only).
# Only a value that looks like a password: 6 or more characters, no space, no count
# (`{"pass": "41/42", "fail": "1/42"}`) and no word of a test's result (`pass: "all 12 tests"`).
_PASS_NOT_A_RESULT: Final = (
    r"(?!(?:(?i:(?:pass|fail)(?:ed|es|ing)?|true|false|yes|no|null|none|ok|skipped|success)"
    r"|[0-9]{1,9}/[0-9]{1,9})\\?[\"'])"
)
_PASS_KEY: Final = (
    r"(?:(?<=[,{])|(?<=[,{][ \t])|(?<=[,{][\"'])|(?<=[,{][ \t][\"'])|"
    + _at_line_start(_YAML_STARTS)
    + r")(?-i:pass)[\"']?[ \t]{0,16}:[ \t]{0,16}"
    + rf"(?:\"{_PASS_NOT_A_RESULT}"
    + closed_or_cut("passdq", r"(?:[^\s\"\\]|\\\S)", 6, '"', 1024)
    + rf"|'{_PASS_NOT_A_RESULT}"
    + closed_or_cut("passsq", r"(?:[^\s'\\]|\\\S)", 6, "'", 1024)
    # JSON inside a JSON string (a tool's result): `{\"pass\": \"...\"}`
    + rf"|\\\"{_PASS_NOT_A_RESULT}"
    + closed_or_cut("passeq", r"(?:[^\s\"\\]|\\[^\s\"])", 6, r"\\\"", 1024)
    + ")"
)
# A `Cookie:` or `Set-Cookie:` header: each of its cookies is looked at on its own
# (`_redact_secret_checks.session_cookies`): a session cookie first, a `csrftoken` after.
_COOKIE_HEADER: Final = rf"(?i){_NOT_AFTER_WORD}(?:set-)?cookie:[ \t]*"

# After a scheme: a token68 (RFC 7235). A digit in short ones ("Bearer authentication");
# random ones of 32+ have one anyway.
_TOKEN68: Final = r"(?=[A-Za-z0-9._~+/\-]*\d)[A-Za-z0-9._~+/\-]{16,}=*|[A-Za-z0-9._~+/\-]{32,}=*"
# A header's whole value, with no scheme: 16 or more characters, a digit and a letter among
# them, not a name (`Authorization: see-section-4-2-of-the-docs`).
_SCHEMELESS_TOKEN: Final = (
    rf"(?!{_A_NAME})(?=[A-Za-z0-9._~+/\-]{{0,511}}[0-9])(?=[A-Za-z0-9._~+/\-]{{0,511}}[A-Za-z])"
    r"[A-Za-z0-9._~+/\-]{16,512}+=*(?=[ \t]*(?:[\r\n\\\"'`,;)}\]]|$))"
)

# A rule: (entity, regex, name of the group that holds the secret, gate). The group: None
# for the whole match; "" for the last group that matched; a reader (`_redact_secret_checks.
# Reader`) for the values the match leads to (the session cookies of a Cookie header); one in
# `_redact_secret_checks.CHECKS` only if its check agrees. The regex runs only where its gate
# allows, and every gate is a necessary condition of its regex matching, so gating never loses
# a match: a regex pass over a whole text costs ~25 ns a character, substring tests ~1 ns,
# one-character tests less.
#
# A gate is (chars, hints, folded, reach):
# - one of ``chars`` must occur in the text (a one-character `in` is a memchr scan);
# - one of ``hints`` must occur in the text, lower-cased first if ``folded`` (only for
#   the case-insensitive regexes; a folded hint another gate's hints hold is looked for
#   once, see `_redact_secret_search._rooted`); the empty hint always does;
# - ``reach``: every match starts at most this many characters before a hint it
#   contains, so the regex is tried only at those few positions, never over the
#   whole text. None: the match may start anywhere, the regex scans the text. A reach
#   above 0 is only given to a regex whose lookbehind rejects a start right after an
#   ASCII letter or digit (:data:`_NOT_AFTER_WORD`), so such starts are not even tried.
#   :data:`WORD_START`: the one start is where the identifier (letters, digits, ``_``,
#   ``-``) holding the hint begins.
IDENTIFIER_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
)
SECRET_RULES: Final[tuple[tuple[str, re.Pattern[str], Group, Gate], ...]] = (
    (
        PRIVATE_KEY,
        re.compile(
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            # (an END within 16 KB: a 4096-bit key is ~3.3 KB; unbounded, a list of BEGIN
            # lines without their keys, `grep -rn` output, took quadratic time)
            r"(?:[\s\S]{0,16384}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
            # a key pasted without its END line: its base64 lines (prose words are shorter)
            r"|(?:\s*[A-Za-z0-9+/=]{20,})*)"
        ),
        None,
        ("-", ("-----BEGIN ",), False, 0),
    ),
    (
        PRIVATE_KEY,  # the same, base64-encoded: a Kubernetes Secret's `tls.key: LS0tLS1C...`
        # (`-----BEGIN`), kubeconfig's `client-key-data:`. `base64` wraps it at 76 characters:
        # after a full line, the next goes too if it is all base64.
        re.compile(
            r"(?<![A-Za-z0-9+/])(?P<pem64>LS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2}"
            r"(?:(?<=[A-Za-z0-9+/]{60})[ \t]*\r?\n[ \t]*[A-Za-z0-9+/]+={0,2}"
            r"(?=[ \t]*(?:[\r\n\"']|$)))*)"
        ),
        "pem64",  # a private key's, not a certificate's: _is_encoded_private_key
        ("L", ("LS0tLS1CRUdJTi",), False, 0),
    ),
    (
        SECRET,  # a Docker config's `"auth": "<base64 of user:password>"` (`cat
        # ~/.docker/config.json` in an agent's shell), also JSON-escaped: checked as Basic's
        re.compile(r'\\*"auth\\*"\s*:\s*\\*"(?P<basic>[A-Za-z0-9+/]{8,1024}={0,2})\\*"'),
        "basic",
        ('"', ('"auth', '\\"auth'), False, 0),
    ),
    *((API_KEY, *rule) for rule in VENDOR_RULES),
    (
        JWT,
        re.compile(
            # (a header of at most 1 KB: unbounded, a run of `-eyJ` was read to its end per hint)
            rf"{_NOT_AFTER_WORD}eyJ[A-Za-z0-9_\-]{{8,1024}}+\.eyJ[A-Za-z0-9_\-]{{8,}}\."
            r"[A-Za-z0-9_\-]{8,}"
        ),
        None,
        ("J", ("eyJ",), False, 0),
    ),
    (
        BEARER_TOKEN,  # one regex for every scheme: one pass for the four
        re.compile(
            rf"(?i){_NOT_AFTER_WORD}(?:"
            rf"(?:bearer|authorization:\s*token)\s+(?P<v>{_TOKEN68})"
            # a short user and password in a header (`bob:hunter2`)
            r"|authorization:\s*basic\s+(?P<header_basic>[A-Za-z0-9+/]{8,}={0,2})"
            # other schemes: `ApiKey` (Elastic), `SSWS` (Okta), `Bot` (Discord)... Not Digest's
            # `username="..."` parameters, nor AWS4's `Credential=...`
            r"|authorization:[ \t]*(?!(?:bearer|basic|token|digest)(?![A-Za-z0-9_\-]))"
            rf"[a-z][a-z0-9_\-]*[ \t]+(?P<scheme>{_TOKEN68})(?![A-Za-z0-9._~+/=\-])"
            # no scheme: the token alone is the header's value (`Authorization: 9f8e...`)
            rf"|authorization:[ \t]*(?P<schemeless>{_SCHEMELESS_TOKEN})"
            # `basic` and base64 of `user:password` (checked), not prose's (`a basic HTTP/1.1`)
            r"|basic\s+(?P<basic>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=._~\-])"
            ")"
        ),
        "",
        ("bBzZ", ("bearer", "basic", "authorization"), True, 0),
    ),
    (
        SECRET,  # `curl -u user:password` (`--user`), on the command's line or continued,
        # up to the next `curl` (each character is looked at for one command: linear time)
        re.compile(
            rf"(?i){_NOT_AFTER_WORD}curl\s(?:(?!curl\s)[^\r\n]|\\\r?\n){{0,1024}}?"
            r"(?<=\s)(?:-u|--user)(?:[ \t]*|=)[\"']?[^\s:\"'$]*:(?P<v>(?!\$)[^\s\"']{1,256})"
        ),
        "v",
        ("-", ("curl",), True, 0),
    ),
    (
        SECRET,
        re.compile(
            # A password's own forms first (their values are the longer), then
            # `name=`, `"name":`, `['name'] =`
            # (a wallet's words first: a password's forms would take only the first)
            rf"(?im){_PHRASE_ASSIGNED}|{_PASSWORD_ASSIGNED}"
            # (or Ruby's `name => '...'`; or in JSON escaped three times or more). The
            # name is matched once, for every form (each try costs the more where it fails)
            rf"|(?:{SECRET_NAME}|{DOTTED_KEY_NAME})(?:{_NAME_CLOSED}(?:[:=\uff1a]\s*{_ASSIGNED_VALUE}"
            rf"|{hash_rocket('rocket')})|{deeply_escaped('')})"
            # a key glued to `Secret`, an object's `pass` (their hints are this rule's)
            rf"|{_JSON_SECRET_KEY}|{_PASS_KEY}"
            # a key's of a kind named so, when it looks like one; any `..._KEY=` of a file's line
            rf"|{_KEY_LIKE_ASSIGNED}|{_ANY_KEY_ASSIGNED}"
        ),
        "",
        # A match starts where the identifier holding its hint starts (WORD_START).
        (
            ":=\uff1a",
            (*("pass", "pwd", "secret", "key", "token", "sig"), *_PHRASE_HINTS),
            True,
            WORD_START,
        ),
    ),
    (
        SECRET,  # the names whose value is a secret only when quoted (a quote: its gate)
        re.compile(rf"(?i){name_regex((), QUOTED_CREDENTIAL_WORDS)}{_ASSIGNED}(?:{quoted('')})"),
        "",
        ("\"'", ("authorization", "credential", "cookie"), True, WORD_START),
    ),
    (
        SECRET,  # a Java properties file's `spring.datasource.password=...`, `app.jwt.secret`
        re.compile(_PROPERTIES_PASSWORD),
        "v",
        (".", (".pass", ".pwd", ".secret"), True, _PROPERTIES_REACH),
    ),
    (
        SECRET,  # a Dockerfile's `ENV DB_PASSWORD value` (its other form, `ENV X=y`, is above)
        re.compile(rf"(?im)(?<=^)(?-i:ENV)[ \t]+{PASSWORD_NAME}[ \t]+(?P<v>{_LINE_VALUE})"),
        "v",
        ("V", ("ENV ",), False, 0),
    ),
    # every cookie holds a "=", prose seldom does
    (SECRET, re.compile(_COOKIE_HEADER), session_cookies, ("=", ("cookie:",), True, 4)),
    (
        SECRET,  # `?key=` in a URL: an API key, of any format; OpenWeatherMap's `?appid=`, a
        # session's or a signed link's `?auth=`, `?jwt=`, `?session=`, `?sid=`, OAuth's `?code=`
        re.compile(
            rf"(?<=[?&])(?:key=|appid=|(?:auth|jwt|session|sid|code)=(?!{_A_URL_NAME}))"
            r"(?=[^&#\s\"'<>]{0,255}\d)(?P<v>[^&#\s\"'<>]{16,})"  # a digit
        ),
        "v",
        ("=", _URL_CREDENTIALS, False, 0),
    ),
    (
        SECRET,
        # user:password@host. The password may hold "@" and "/" (people paste them
        # unescaped: "P@ssw0rd"): it runs to the "@" after which only the host follows.
        # Not a port ("host:8080/a?to=x@y"); at most 256 characters.
        re.compile(
            # (a scheme of at most 32 characters: unbounded, a long kebab-case run was read
            # to its end from every start)
            rf"(?i){_NOT_AFTER_WORD}[a-z][a-z0-9+.\-]{{0,31}}://[^\s/:@]*:"
            r"(?P<v>(?!\d*(?:[/?#]|$))\S{1,256}?)"
            r"@(?=[^\s@/?#]*(?:[/?#\s]|$))"
        ),
        "v",
        ("@", ("://",), False, None),
    ),
    (
        API_KEY,
        # incoming webhooks (`services/T../B../<secret>`), workflows' and triggers' too
        re.compile(
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/"
            r"(?P<v>T[A-Z0-9]+(?:/[A-Za-z0-9]+){2,3})"
        ),
        "v",
        ("/", ("https://hooks.slack.com/",), False, 0),
    ),
    (
        API_KEY,  # Discord webhooks (`discord.com/api/webhooks/<id>/<token>`, discordapp.com,
        # `ptb.`, `canary.`): the token, not the webhook's id
        # (a match starts at most 22 characters before its "/webhooks/", a longer hint and so
        # a quicker search than "discord")
        re.compile(
            r"(?<![A-Za-z0-9_\-])discord(?:app)?\.com/api/(?:v[0-9]{1,2}/)?webhooks/[0-9]{17,20}/"
            r"(?P<v>[A-Za-z0-9_\-]{60,100})(?![A-Za-z0-9_\-])"
        ),
        "v",
        ("/", ("/webhooks/",), False, 22),
    ),
    (
        SECRET,  # `<password>...</password>`, `key="password" value="..."`, `password<TAB>...`
        re.compile(PASSWORD_BESIDE_NAME, re.ASCII),
        "",
        ("<\t\"'", PASSWORD_BESIDE_NAME_HINTS, True, WORD_START),
    ),
    # command lines' and credential files' (llmlog._redact_secret_tools)
    *((SECRET, *rule) for rule in TOOL_RULES),
    # SQL's and by their place (llmlog._redact_sql_values, llmlog._redact_positional)
    *((SECRET, *rule) for rule in (*SQL_RULES, *POSITIONAL_RULES)),
)
