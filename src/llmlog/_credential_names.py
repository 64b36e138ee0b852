"""The names whose value is a credential, one list for both rules that know them: the
text rules of :mod:`llmlog._redact_secrets` (``ENCRYPTION_KEY=...``, ``{"master_key": "..."}``
in a tool call's JSON arguments) and the dict-key rule of :mod:`llmlog._redact_walk` (whose
value is replaced whole, whatever it looks like)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

# How a name whose value is a secret ends. Each is a fixed width, for a lookbehind; `_` and
# `-` between words are one character, or none. Unmistakable ones may end any identifier,
# glued or prefixed (`DB_PASSWORD`, `dbPassword`, `SECRET_KEY`, `SessionToken`); the
# common words only a whole name or its last `_`/`-` part (`token`, `client_secret`, not
# `NextToken`, `isSecret`, `funcsig`, `OLDPWD`).
_SEP: Final = ("[_\\-]", "")


def spelled(*words: str) -> list[str]:
    """Regexes for every spelling of ``words``: joined by ``_``, ``-`` or nothing."""
    spellings = [words[0]]
    for word in words[1:]:
        spellings = [f"{head}{sep}{word}" for head in spellings for sep in _SEP]
    return spellings


# Names of several words, spelled any way, that may end any identifier:
_TOKEN_KINDS: Final = (
    *("access", "auth", "refresh", "session", "id", "security", "api", "secret"),
    *("bearer", "bot", "csrf", "xsrf", "oauth", "personal", "private"),
)
_KEY_KINDS: Final = (
    *("api", "access", "secret", "private", "account", "subscription", "functions", "auth"),
    *("master", "signing", "encryption", "app", "license"),
    # a cipher's or a signature's key (`FERNET_KEY`, `HMAC_KEY`, `JWT_KEY`). Not `cache`,
    # `idempotency`, `sort`, `partition`, `primary`: a record's.
    *("fernet", "hmac", "jwt", "aes"),
)
# A vendor's server-side kinds (`SERVICE_KEY`, `ALGOLIA_ADMIN_KEY`, `DD_APPLICATION_KEY`,
# OAuth 1's `CONSUMER_KEY`) and a cipher's or a webhook's: named so, a key only if its value
# looks like one (`{"service_key": "payments-service"}` is a service's name, `"admin_key":
# "Ctrl+Shift+A"` a shortcut, `"cipher_key": "AES-256-GCM"` a cipher's). Not credential names
# then: as a dict key they would replace any value whole.
KEY_LIKE_NAME_KINDS: Final = ("service", "admin", "application", "consumer", "cipher", "webhook")
CREDENTIAL_NAMES: Final[tuple[tuple[str, ...], ...]] = (
    *(("password",), ("passwd",), ("passphrase",)),
    *((kind, "key") for kind in _KEY_KINDS),
    ("secret", "key", "base"),  # Rails
    ("shared", "access", "key"),  # Azure Service Bus / IoT Hub connection strings
    ("service", "role", "key"),  # Supabase
    *((kind, "token") for kind in _TOKEN_KINDS),
)
# Common words: in text only a whole name or its last `_`/`-` part; a dict key may end in
# them glued (`nextPageToken` is a key named for its value, not prose).
CREDENTIAL_WORDS: Final = ("secret", "token")
# Alike, but in text only with a quoted value (`{"cookie": "sid=..."}`, `{'authorization':
# '...'}`): unquoted, `Authorization:` and `Cookie:` are headers, whose credentials the
# Bearer/Basic and session-cookie rules find (keeping the scheme and the cookie's name).
QUOTED_CREDENTIAL_WORDS: Final = ("authorization", "credential", "credentials", "cookie", "cookies")
# `pass`: only as the last `_`/`-` part of a longer name, in text and as a key (`SMTP_PASS`,
# `db-pass`; not `bypass`, nor a test runner's `PASS: test_x`).
CREDENTIAL_PARTS: Final = ("pass",)
_PART_ENDS: Final = tuple(f"[_\\-]{part}" for part in CREDENTIAL_PARTS)
_GLUED_ENDS: Final = (
    *(end for words in CREDENTIAL_NAMES for end in spelled(*words)),
    *_PART_ENDS,
)
# Short words: only as a key, whole or its last `_`/`-` part (`SENTRY_DSN`, `card_pin`,
# `{"otp": ...}`; not `spin`). In text each would cost the secrets tier one more scan of
# every text: a PIN or one-time code said so in text is the `pii` tier's (_redact_presidio).
SHORT_CREDENTIAL_WORDS: Final = ("dsn", "pin", "cvv", "cvc", "otp")
# Only in text: as a key, `signature` is a thinking block's and `pwd` a directory.
_WORD_ENDS: Final = (*CREDENTIAL_WORDS, "pwd", "sig", "signature")
# A tokenizer's special tokens (`"eos_token": "<|end_of_text|>"` in a pasted
# tokenizer_config.json, or a dict): named like a credential, never one.
SPECIAL_TOKENS: Final = ("eos", "bos", "pad", "unk", "sep", "cls", "mask")


def name_regex(
    glued_ends: Iterable[str], word_ends: Iterable[str], not_names: Iterable[str] = ()
) -> str:
    """A regex for a name ending so: the whole identifier (possessive: one try per start),
    then how it ends (``glued_ends``: regexes of a fixed width; ``word_ends``: words), and
    is none of ``not_names`` (regexes of whole names)."""
    # Grouped by their last 3 letters, looked behind for once: an identifier ending in none
    # of them is refused in a few steps, one ending in `key` tries only the `*key`s.
    by_last: dict[str, list[str]] = {}
    for end in glued_ends:
        by_last.setdefault(end[-3:], []).append(f"(?<={end})")
    ends = [
        f"(?<={last})(?:{'|'.join(group)})" if len(group) > 1 else group[0]
        for last, group in by_last.items()
    ]
    ends += [f"(?<={end})(?<![A-Za-z0-9]{end})" for end in word_ends]
    excluded = "|".join(not_names)
    not_one = rf"(?!(?:{excluded})(?![A-Za-z0-9_\-]))" if excluded else ""
    return r"(?<![A-Za-z0-9_\-])" + not_one + r"[A-Za-z0-9_\-]++(?:" + "|".join(ends) + ")"


SECRET_NAME: Final = name_regex(
    _GLUED_ENDS, _WORD_ENDS, [f"{word}[_\\-]?token" for word in SPECIAL_TOKENS]
)
# The names of KEY_LIKE_NAME_KINDS, for their rule (a value that looks like a key).
KEY_LIKE_NAME: Final = name_regex(
    [end for kind in KEY_LIKE_NAME_KINDS for end in spelled(kind, "key")], ()
)
# Names no code or prose uses for anything but a password: their value needs no digit.
# `secret` only with a prefix (`JWT_SECRET`, `client-secret`): alone it is prose's too
# (`Secret: patience`), and a bare secret value then needs a digit like any other name's.
# `pass` too, only with a prefix (`SMTP_PASS=`, `db-pass: `; `PASS: test_x` is a test's).
PASSWORD_NAME: Final = name_regex(
    ("password", "passwd", "passphrase", *spelled("secret", "key"), "[_\\-]secret", *_PART_ENDS),
    ("pwd",),
)
# A Java properties file's or a dotted config's key of those kinds (`aws.secret.key`,
# `stripe.api.key`, `jwt.signing.key`; not `cache.key`): a name like `secret_key`, matched
# at its `key` (a dotted name is no identifier: the rules start a name after a `.`), which
# comes first: elsewhere the regex fails on its first letter, not after a look at each kind.
DOTTED_KEY_NAME: Final = (
    "key(?:" + "|".join(f"(?<={kind}\\.key)" for kind in _KEY_KINDS) + ")(?![A-Za-z0-9_\\-])"
)
# A wallet's recovery words' names (`MNEMONIC=`, `seed_phrase:`), only for a value of such
# words (`abandon ability able ...`): a mnemonic is also a memory aid's or an opcode's
# (`"mnemonic": "MOV r32, r/m32"`), so these are no credential names.
PHRASE_NAME: Final = name_regex(
    ("mnemonic", *spelled("seed", "phrase"), *spelled("recovery", "phrase")), ()
)
