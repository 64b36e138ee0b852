"""How a credential's value is written beside its name, for the rules of
:mod:`llmlog._redact_secrets`: quoted (closed, or cut off by the end of a partial output),
in JSON escaped three or more times, after Ruby's and Perl's ``=>``, and the forms with no
``=`` or ``:`` between them (an XML element, a tab-separated line), which are a rule of
their own (:data:`PASSWORD_BESIDE_NAME`).

A value cut off is the start of a secret: a cancelled stream, or a tool call's arguments
stopped by ``max_tokens``, ends inside one (``{"password": "Tr0ub4do``). So each quoted
form here also takes a value that runs, unclosed, to the end of the text.
"""

from __future__ import annotations

from typing import Final

from llmlog._credential_names import name_regex
from llmlog._redact_value_shapes import slug, words_name

__all__ = [
    "BARE_CHARS",
    "LIKE_A_PASSWORD",
    "PASSWORD_BESIDE_NAME",
    "PASSWORD_BESIDE_NAME_HINTS",
    "PROSE_SECRET",
    "PROSE_SECRET_HINTS",
    "closed_or_cut",
    "deeply_escaped",
    "hash_rocket",
    "quoted",
]

# The end of a text cut off inside a value; a `\` there began an escape the cut split.
_AT_CUT: Final = r"\\?\Z"
# A value cut off is at most this long: a longer run to the text's end after a quote is
# prose or code after a stray quote, no credential (and is read in bounded steps).
_LONGEST_CUT: Final = 1024


def closed_or_cut(
    group: str, char: str, least: int, close: str, most: int | None = None, cut_start: str = ""
) -> str:
    """A value of ``least`` or more ``char``s (a regex of one character or escape) then
    ``close``, in group ``group``; or one of 1 to 1024 (or ``most``) that the text's end
    cuts off, in ``group + "cut"``, where ``cut_start`` (a lookahead) allows. Possessive: no
    ``char`` can begin ``close``, so no shorter try could match."""
    bound = "" if most is None else str(most)
    cut_bound = min(most or _LONGEST_CUT, _LONGEST_CUT)
    return (
        rf"(?:(?P<{group}>{char}{{{least},{bound}}}+){close}"
        rf"|{cut_start}(?P<{group}cut>{char}{{1,{cut_bound}}}+){_AT_CUT})"
    )


_IN_DOUBLE: Final = r"(?:[^\"\\\n]|\\[^\n])"
_IN_SINGLE: Final = r"(?:[^'\\\n]|\\[^\n])"
_IN_ESCAPED: Final = r"(?:[^\"\\\n]|\\[^\"\n])"  # no `\"`: that closes it
# A "value" cut off that starts with a bracket or `,` closing code follows a string's
# closing quote, not an opening one: `input("Password: ")` at a text's end.
_NOT_CODE_AFTER: Final = r"(?![)\]},;])"
_DOUBLE: Final = '"'
_SINGLE: Final = "'"
_ESCAPED: Final = r'\\"'


def quoted(name: str) -> str:
    """A quoted literal of 4 or more characters, in groups named ``<name>dq``, ``<name>sq``
    and ``<name>eq`` (``...cut`` if the text ends inside it). A value may hold escapes
    (``"Tr0ub\\"horse"`` in JSON tool arguments): all of it is taken."""
    double = closed_or_cut(name + "dq", _IN_DOUBLE, 4, _DOUBLE, cut_start=_NOT_CODE_AFTER)
    single = closed_or_cut(name + "sq", _IN_SINGLE, 4, _SINGLE, cut_start=_NOT_CODE_AFTER)
    # JSON inside a JSON string (a tool's result): `{\"password\": \"...\"}`
    escaped = closed_or_cut(name + "eq", _IN_ESCAPED, 4, _ESCAPED)
    return rf"\"{double}|'{single}|\\\"{escaped}"


def deeply_escaped(name: str) -> str:
    """After a name: ``\\\\\\": \\\\\\"value\\\\\\"``, JSON in JSON in a JSON string (or deeper:
    each level doubles the backslashes and adds one), in group ``<name>deep``
    (``...cut`` if the text ends inside it). Only a value without quotes is known so."""
    run = f"{name}esc"  # the backslashes before each quote, the same throughout
    return (
        rf"(?P<{run}>\\{{3,15}})\"[ \t]*:[ \t]*(?P={run})\""
        rf"(?:(?P<{name}deep>[^\"\n]{{4,1024}}?)(?<!\\)(?P={run})\""
        rf"|(?P<{name}deepcut>[^\"\n]{{0,1023}}[^\"\\\n])\\*\Z)"
    )


def hash_rocket(name: str) -> str:
    """After a name and the quote closing it: Ruby's, Perl's and PHP's ``=> 'value'``
    (``{ password => '...' }``, ``:password => "..."``, ``'password' => '...'``), quoted
    only (``=> $password`` and ``=> ENV['PW']`` are code), in the groups of :func:`quoted`."""
    return rf"=>[ \t]*(?:{quoted(name)})"


# A password's name in the forms below: every one holds "pass" (the rule's one hint).
_PASSWORD_WORD: Final = name_regex(("password", "passwd", "passphrase", "[_\\-]pass"), ())
# A bare value that looks like a password: 6 or more characters, a digit or a symbol in
# them (a schema's `password<TAB>varchar`, prose's `--password flag` hold none); not a
# variable, a placeholder, a mask, a path or the next option.
LIKE_A_PASSWORD: Final = r"(?![\-$<*\[{(`%~/])(?=[^\s]{0,255}?[0-9!@#$%^&*+=~])"
BARE_CHARS: Final = r"[^\s\"'`;|<>(){}\[\]]"

_XML_VALUE: Final = closed_or_cut("xml", r"[^\s<>]", 4, "(?=</)", 256)
_NOT_A_PLACEHOLDER: Final = r"(?![$%{*'\"`])"  # `${env.PW}`, `***`, `{{ pw }}`
_XML_ELEMENT: Final = (
    # `<password>hunter2horse</password>` (Maven's settings.xml), also with attributes
    # (`<password encrypted="false">`); not `<password/>`, `<password>${env.PW}</password>`,
    # `<password>***</password>`, nor a tag in prose (`<password> tags`, `'<password>'`)
    rf"(?<=<){_PASSWORD_WORD}(?:[ \t\r\n][^<>]{{0,256}}?)?>{_NOT_A_PLACEHOLDER}{_XML_VALUE}"
)
_XML_ATTRIBUTE_VALUE: Final = closed_or_cut("xmlattr", r"[^\"'<>\n]", 4, "[\"']", 256)
_XML_TEXT: Final = closed_or_cut("xmltext", r"[^\s<>]", 4, "(?=</)", 256)
_NAMED_BY_ATTRIBUTE: Final = (
    # the name is an attribute's value and the password the next attribute's (.NET's
    # `<add key="DbPassword" value="..."/>`, Spring's `<property name="password" value=...>`)
    # or the element's text (`<entry key="db.password">...</entry>`); not
    # `<label for="password">Password:</label>`, `<input type="password" value="">`
    rf"{_PASSWORD_WORD}[\"'](?:[ \t\r\n]+value[ \t]*=[ \t]*[\"']{_NOT_A_PLACEHOLDER}"
    rf"{LIKE_A_PASSWORD}{_XML_ATTRIBUTE_VALUE}"
    rf"|[^<>]{{0,256}}?>{_NOT_A_PLACEHOLDER}{LIKE_A_PASSWORD}{_XML_TEXT})"
)
_TAB_SEPARATED: Final = (
    # `password<TAB>hunter2horse`, a line of two columns (pasted from a table); not a
    # schema's `password<TAB>varchar(255)<TAB>NO`
    rf"(?<![^\n]){_PASSWORD_WORD}[ \t]*\t[ \t]*{LIKE_A_PASSWORD}"
    rf"(?P<tsv>{BARE_CHARS}{{6,256}}+)(?=[ \t]*(?:\r?\n|\Z))"
)
PASSWORD_BESIDE_NAME: Final = rf"(?i){_XML_ELEMENT}|{_NAMED_BY_ATTRIBUTE}|{_TAB_SEPARATED}"
"""A password's value beside its name with no ``=`` or ``:`` between: an XML element's (the
name its tag or an attribute's value) or a tab-separated line's (a command's ``--password``
flag's is in :mod:`llmlog._redact_secret_tools`). Each match starts where the name does."""
PASSWORD_BESIDE_NAME_HINTS: Final = ("pass",)
"""Every match of :data:`PASSWORD_BESIDE_NAME` holds one of these, lower-cased."""


# Passwords and keys written as prose, as a support email or a chat gives them: `my password
# is Tr0ub4dor&3x`, `Password is: X`, `pw: X`, `user jdoe pass X`, `API Key: X`, `| API Key |
# X |`, `Passwort: X`, `mot de passe : X`, `密码: X`. Each match starts at one of
# PROSE_SECRET_HINTS (`mot de passe` at its `passe`, `API key` at its `key`).
_NOT_IN_NAME: Final = r"(?<![A-Za-z0-9_\-])"
_NOT_NAME_ON: Final = r"(?![A-Za-z0-9_\-])"
_PROSE_PASSWORD_LABEL: Final = (
    rf"{_NOT_IN_NAME}(?:pass(?:word|wd|phrase|code|wort)|(?<=mot de )passe|kennwort"
    rf"|contraseña|senha|wachtwoord|пароль){_NOT_NAME_ON}"
)
_PROSE_CJK_LABEL: Final = r"(?:密码|口令|パスワード|비밀번호)"
_PROSE_KEY_LABEL: Final = (
    r"(?:(?<=(?<![A-Za-z0-9])(?:api|app) )|(?<=(?<![A-Za-z0-9])(?:api|app)-)"
    r"|(?<=(?<![A-Za-z0-9])secret[ \-])|(?<=(?<![A-Za-z0-9])access[ \-])"
    r"|(?<=(?<![A-Za-z0-9])private[ \-])|(?<=(?<![A-Za-z0-9])license[ \-]))key"
    rf"{_NOT_NAME_ON}"
)
# Between a name and its value: up to three of `is`, `was`, `will be`, `now`, `:`, `-`, `=`,
# `|` (`Password is: X`, `| API Key | X |`), in the languages above too, each maybe closing
# Markdown's bold (`**Password:** X`, `**Password**: X`); then maybe a line break
# (`Password:\nX`). A glued `password=` is an assignment's, a URL's or a command's, and the
# rules of llmlog._redact_secrets know where its value ends.
_BOLD: Final = r"\*{0,2}"
_PROSE_SEPARATOR: Final = (
    r"(?:[ \t]{0,4}[:|\-\uff1a]|[ \t]{1,4}(?:=|is|was|are|will[ \t]be|now|ist|lautet|est|es"
    rf"|era|é)(?![A-Za-z])){_BOLD}"
)
_PROSE_SEPARATORS: Final = (
    rf"{_BOLD}(?:{_PROSE_SEPARATOR}){{1,3}}[ \t]{{0,4}}(?:\r?\n[ \t]{{0,16}})?"
)
# Whose or what's password between its name and the separator, in up to four words: `the
# password for the staging database is X`, `Passwort für den Server lautet X`, `contraseña
# del servidor es X`, `mot de passe du serveur est X`. Each word is read once (possessive).
_PROSE_QUALIFIER: Final = (
    r"[ \t]{1,4}(?:for|of|to|on|für|del|de|du)(?:[ \t]{1,4}[^\s:|=*\uff1a]{1,64}+){1,4}"
)
_BEFORE_A_KEY: Final = rf"(?:(?:{_PROSE_QUALIFIER})?{_PROSE_SEPARATORS}|[ \t]{{1,4}})"
# An HTML table's row: `<td>Password</td><td>X</td>` (`<th>` too), over a line break.
_HTML_CELL_LABEL: Final = r"(?<=<t[dh]>)"
_HTML_NEXT_CELL: Final = r"</t[dh]>[ \t]{0,16}(?:\r?\n[ \t]{0,16})?<td(?:[ \t][^<>\n]{0,128})?>"
# A password's characters in prose: printable ASCII but quotes and brackets, so the sentence
# around it (a full-width comma, `"}`) is not its.
_PROSE_CHAR: Final = r"(?:(?![\"'`;|<>(){}\[\]])[!-~])"
# Not code's (a dotted path, `hashlib.sha256`), nor a count (`12-characters`, `256-bit`), nor
# a word that merely ends in a symbol (`wrong!`): a digit, or a symbol with more after it.
_DOTTED: Final = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"
_A_COUNT: Final = (
    r"[0-9]{1,4}[\-+]?(?:char(?:acter)?s?|digits?|letters?|bits?|bytes?|days?|hours?"
    r"|min(?:ute)?s?|months?|weeks?|years?|times?|attempts?|steps?|clicks?|factor|fa|[kmg]b|%)"
)
# nor a word describing it (`base64url-encoded`, `v2-compatible`, `14-chars-long`)
_PROSE_NOT_A_VALUE: Final = (
    rf"(?![\-$<*\[{{(`%~/])(?!(?:{_DOTTED}|{_A_COUNT}"
    rf"|{_PROSE_CHAR}{{0,127}}-(?:[A-Za-z]+(?:ed|ing|ible|able)|long))(?!{_PROSE_CHAR}))"
)
# A password's, not its hash's (`SHA-256 hashed`, `argon2id$v=19...`), nor a YAML tag
# (`password: !vault |`) or a rule's setting (`Password: min_length=12`).
_NOT_A_HASH_OR_SETTING: Final = (
    r"(?!(?:sha-?[0-9]{1,3}|md5|bcrypt|scrypt|argon2(?:id|i|d)?|pbkdf2|hmac)(?![A-Za-z0-9])"
    r"|![A-Za-z]++(?![!-~])|[a-z][a-z0-9]*+(?:_[a-z0-9]++)++=[0-9])"
)
# `pw` is as often a width: not arithmetic (`2*np.pi*r`), a size (`1920px`) nor `1.5e-3`.
_NOT_A_WIDTH: Final = (
    r"(?!(?:[\w.]++[*/])++[\w.]++(?![!-~])"
    r"|[0-9]++(?:\.[0-9]++)?(?:e[\-+]?[0-9]++|px|em|rem|pt|vh|vw|ms|s|%|mm|cm|dp|sp)(?![!-~]))"
)
_PROSE_LIKE_A_PASSWORD: Final = (
    rf"(?={_PROSE_CHAR}{{0,127}}?(?:[0-9]|[!@#$%^&*+=~](?={_PROSE_CHAR}{{0,127}}?[A-Za-z0-9])))"
)


def _prose_password(name: str, not_this: str = "") -> str:
    """A password after its name in prose, in group ``name`` (bare: 6 to 128 characters, not
    called or indexed, nor one ``not_this`` refuses) or ``name`` + ``sq``/``dq``/``bq``/``eq``
    (quoted; spaces allowed)."""
    quoted_forms = (("sq", "'", "'"), ("dq", '"', '"'), ("bq", "`", "`"), ("eq", r'\\"', r'\\"'))
    forms = [
        rf"{opening}(?![$<*{{%\[])(?=[^\"'`\n]{{0,127}}?[0-9!@#$%^&*+=~])"
        rf"(?P<{name}{suffix}>[^\"'`\\\n]{{4,128}}){closing}"
        for suffix, opening, closing in quoted_forms
    ]
    bare = (
        rf"{_PROSE_NOT_A_VALUE}{_NOT_A_HASH_OR_SETTING}{not_this}{_PROSE_LIKE_A_PASSWORD}"
        rf"(?P<{name}>"
    )
    bare += rf"{_PROSE_CHAR}{{6,128}}+)"
    return "(?:" + "|".join([*forms, bare + r"(?![(\[])"]) + ")"


# A password of letters alone (`the password is correcthorsebatterystaple`, `login: admin
# pass: letmein`), after an English cue only: the clause's last word (a line's, a sentence's
# or a table cell's end after it), not a word prose or a schema puts there (`the password is
# wrong`, `password is required`, `| password | string |`), nor a short one ending as a
# participle, an adverb or an adjective does (`stored`, `missing`, `securely`, `optional`),
# nor a title's capitalised word (`Password - Overview`, `Password: REQUIRED`).
_NOT_PASSWORDS: Final = (
    *("is", "was", "are", "be", "been", "the", "a", "an", "your", "my", "our", "their", "its"),
    *("this", "that", "it", "not", "no", "none", "null", "nil", "empty", "blank", "wrong"),
    *("incorrect", "correct", "invalid", "valid", "right", "ok", "okay", "fine", "good", "bad"),
    *("weak", "strong", "long", "short", "too", "very", "also", "still", "only", "just", "now"),
    *("then", "here", "there", "below", "above", "same", "new", "old", "default", "temporary"),
    *("temp", "set", "unset", "reset", "hidden", "visible", "shown", "unknown", "known"),
    *("forgotten", "lost", "sent", "random", "unique", "plain", "plaintext", "cleartext"),
    *("case", "secure", "insecure", "safe", "unsafe", "simple", "complex", "easy", "hard"),
    *("common", "obvious", "in", "on", "at", "to", "for", "of", "with", "from", "by", "as"),
    *("always", "never", "usually", "often", "available", "unavailable", "active", "inactive"),
    *("given", "mandatory", "unencrypted", "encrypted", "compromised", "autogenerated"),
    *("password", "passwd", "passphrase", "pass", "pwd", "string", "str", "text", "varchar"),
    *("char", "int", "integer", "bool", "boolean", "number", "bytes", "hash", "field", "input"),
    *("type", "value", "column", "parameter", "param", "argument", "option", "attribute"),
    *("property", "object", "undefined", "true", "false", "yes", "required", "optional"),
    *("secretstr", "secretbytes"),
)
_WORD_ENDINGS: Final = r"(?:ed|ing|ly|able|ible|ive|ous|ful|less|ent|ant|ory|ary|al|ic)"
_CLAUSE_END: Final = r"(?=[.!?,;:]?[ \t]*(?:\r?\n|\Z)|[ \t]*\||[.!?,;][ \t]|\*\*)"


def _letters_password(name: str) -> str:
    """A password of 4 to 64 letters ending its clause, in group ``name`` (the clause's end
    is looked at first: prose's word after `password is` seldom ends it, and the list of
    words not to take costs a try of each)."""
    return (
        rf"(?=[A-Za-z]{{4,64}}+{_CLAUSE_END})(?!(?-i:[A-Z][a-z]*+|[A-Z]++)(?![A-Za-z]))"
        rf"(?![A-Za-z]{{0,7}}{_WORD_ENDINGS}(?![A-Za-z]))"
        rf"(?!(?:{'|'.join(_NOT_PASSWORDS)})(?![A-Za-z]))(?P<{name}>[A-Za-z]{{4,64}}+)"
    )


_ENGLISH_PASSWORD_LABEL: Final = rf"{_NOT_IN_NAME}pass(?:word|wd|phrase){_NOT_NAME_ON}"
# Prose's separators, not code's `=` (`app.password = changeme` assigns a variable).
_ENGLISH_SEPARATORS: Final = (
    rf"{_BOLD}(?:(?:[ \t]{{0,4}}[:|\-\uff1a]|[ \t]{{1,4}}(?:is|was|are|will[ \t]be|now)"
    rf"(?![A-Za-z])){_BOLD}){{1,3}}[ \t]{{0,4}}(?:\r?\n[ \t]{{0,16}})?"
)


# A key or token after its name: 16 or more characters of a key's (hex, base64, `-`, `_`),
# a digit and a letter among them, a sentence's full stop after it not its; not a dotted
# path nor a snake_case name, nor a file's path (a `/` and a `-`, `_` or `.` that base64
# holds none of: `docs/aws/iam-setup-v2.md`), nor a model's name or an API's id (`The model
# token is gpt-4o-2024-08-06`).
_KEY_CHAR: Final = r"[A-Za-z0-9_\-+/=.]"
_KEY_RUN_CHAR: Final = r"(?:[A-Za-z0-9_\-+/=]|\.(?=[A-Za-z0-9_\-+/=]))"
_A_PATH: Final = rf"(?=(?={_KEY_CHAR}{{0,511}}?/)(?={_KEY_CHAR}{{0,511}}?(?:[\-_]|\.[A-Za-z0-9])))"
_A_MODEL_OR_ID: Final = (
    r"(?:(?:chat)?gpt|claude|o[1-9]|gemini|text-embedding|llama|mistral|chatcmpl)-|msg_"
)
# Nor a name or a word describing the key (`32-hex-characters`, `AGPL-3.0-or-later`,
# `Bearer-JWT-RS256-signed`), nor a contract's public address (`0x` and 40 hex digits).
_KEY_ENDS: Final = r"(?![A-Za-z0-9_\-+/=~]|\.[A-Za-z0-9_\-+/=~])"
_A_NAME_OR_ADDRESS: Final = (
    rf"{slug(_KEY_ENDS)}|{words_name(_KEY_ENDS)}|0x[0-9a-f]{{40}}+(?![A-Za-z0-9])"
)
_LIKE_A_KEY: Final = (
    rf"(?![\-$<*\[{{(`%~/.])(?!(?:{_DOTTED}|[a-z][a-z0-9]*+(?:_[a-z0-9]+)+)(?!{_KEY_CHAR}))"
    rf"{_PROSE_NOT_A_VALUE}(?!{_A_PATH}|{_A_MODEL_OR_ID}|{_A_NAME_OR_ADDRESS})"
    rf"(?={_KEY_CHAR}{{0,511}}?[0-9])(?={_KEY_CHAR}{{0,511}}?[A-Za-z])"
)
# A token named in prose is, as often, a request's or a record's UUID: left (an API key
# that is one, Heroku's, is still taken).
_A_UUID: Final = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![\w\-])"


def _prose_key(name: str, not_this: str = "") -> str:
    """A key after its name, bare or quoted, in group ``name`` or ``name`` + ``_q``; not
    one that ``not_this`` (a regex) matches at its start."""
    refused = f"(?!{not_this})" if not_this else ""
    value = rf"{_LIKE_A_KEY}{refused}{_KEY_RUN_CHAR}{{16,512}}+"
    return rf"(?:(?P<{name}>{value})(?![(\[])|[\"'`](?P<{name}_q>{value})[\"'`])"


PROSE_SECRET: Final = (
    rf"(?i){_PROSE_PASSWORD_LABEL}(?:{_PROSE_QUALIFIER})?{_PROSE_SEPARATORS}"
    rf"{_prose_password('prose')}"
    rf"|{_ENGLISH_PASSWORD_LABEL}(?:{_PROSE_QUALIFIER})?{_ENGLISH_SEPARATORS}"
    rf"{_letters_password('proseword')}"
    rf"|{_HTML_CELL_LABEL}{_PROSE_PASSWORD_LABEL}{_HTML_NEXT_CELL}{_prose_password('prosecell')}"
    rf"|{_PROSE_CJK_LABEL}[ \t]*(?:[:\uff1a=]|是|为|は|는)[ \t]*{_prose_password('prosecjk')}"
    rf"|{_NOT_IN_NAME}pw(?:[ \t]*[:\uff1a]|[ \t]{{1,4}}(?:=|is(?![A-Za-z])))[ \t]*"
    rf"{_prose_password('prosepw', _NOT_A_WIDTH)}"
    # `user jdoe pass X`, `login: jdoe / pass: X`
    rf"|{_NOT_IN_NAME}(?:user(?:name)?|login)[ \t]{{0,4}}[:=]?[ \t]{{1,4}}[^\s]{{1,64}}"
    rf"[ \t]{{1,4}}(?:[,;/][ \t]{{0,4}})?pass(?:word)?[ \t]{{0,4}}[:=]?[ \t]{{1,4}}"
    rf"(?:{_prose_password('proseuser')}|{_letters_password('proseuserword')})"
    # `creds are admin / hunter`, `credentials: admin/letmein`
    rf"|{_NOT_IN_NAME}cred(?:s|entials)(?:[ \t]{{1,4}}(?:are|is|were|was)|[ \t]{{0,4}}[:=])"
    rf"[ \t]{{1,4}}[^\s/]{{1,64}}[ \t]{{0,4}}/[ \t]{{0,4}}"
    rf"(?:{_prose_password('prosepair')}|{_letters_password('prosepairword')})"
    # `API key 9f8e...` needs no separator: a key's value is long and unmistakable
    # (after a qualifier, `the token for prod is X`, only with a separator)
    rf"|{_PROSE_KEY_LABEL}{_BEFORE_A_KEY}{_prose_key('prosekey')}"
    rf"|{_NOT_IN_NAME}token{_NOT_NAME_ON}{_BEFORE_A_KEY}{_prose_key('prosetoken', _A_UUID)}"
)
"""A password or key named in prose (see above); every match starts at one of
:data:`PROSE_SECRET_HINTS`, lower-cased."""
PROSE_SECRET_HINTS: Final = (
    *("pass", "pw", "key", "token", "user", "login", "cred", "kennwort", "contraseña"),
    *("senha", "wachtwoord", "пароль", "密码", "口令", "パスワード", "비밀번호"),
)
