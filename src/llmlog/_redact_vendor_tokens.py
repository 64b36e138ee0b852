"""Vendors' key and token formats, for the cheap tier (:mod:`llmlog._redact_secrets` runs
them as its ``API_KEY`` rules; see ``SECRET_RULES`` there for what a rule and its gate are).

Each format is anchored on the prefix its vendor documents and has a fixed length or a
bounded one, so code, hashes and ids that merely look random are left alone; each group is
gated on its prefixes, so a text holding none of them pays a few substring tests.
"""

from __future__ import annotations

import re
from typing import Final

from llmlog._redact_secret_checks import Reader
from llmlog._redact_secret_tools import Gate

__all__ = ["NOT_AFTER_WORD", "VENDOR_RULES"]

# Letters, digits and `_` of ASCII only: a key glued to Chinese, Japanese, Cyrillic or accented
# text (`密钥是sk-proj-...写入`, `APIキーはsk-...です`) is at a word boundary, as it is to a
# reader, though `\w`, `\b` and `str.isalnum` take those letters for word characters.
NOT_AFTER_WORD: Final = r"(?<![A-Za-z0-9_])"
NOT_BEFORE_WORD: Final = r"(?![A-Za-z0-9_])"

_GITLAB_PREFIXES: Final = (
    *("glpat-", "glrt-", "gldt-", "glptt-", "glft-", "glsoat-", "glcbt-", "gloas-", "glimt-"),
)
_HEX32: Final = "[0-9a-f]{32}"
_KEYS_HYPHEN: Final = (
    r"sk-ant-(?:api|admin|oat)\d{2}-[A-Za-z0-9_\-]{20,}",  # Anthropic
    # OpenAI; DeepSeek, OpenRouter (sk-or-v1-<64 hex>)...
    # (a digit within 256 characters: unbounded, a run of `sk-sk-sk-...` took seconds)
    r"sk-(?:proj-|svcacct-|admin-|None-)?(?=[A-Za-z0-9_\-]{0,255}\d)[A-Za-z0-9_\-]{20,}",
    r"xox[abposre]-[A-Za-z0-9\-]{10,}",  # Slack tokens
    r"xapp-\d-[A-Za-z0-9\-]{20,}",  # Slack app-level tokens
    # GitLab; a routable token ends in `.01.` and a 9-character checksum
    rf"(?:{'|'.join(_GITLAB_PREFIXES)})[A-Za-z0-9_\-]{{20,}}(?:\.[0-9a-z]{{2}}\.[0-9A-Za-z]{{7,9}})?",
    r"xai-[A-Za-z0-9]{80}",  # xAI
    r"pplx-[A-Za-z0-9]{48}",  # Perplexity
    r"tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}",  # Tavily
    r"GOCSPX-[A-Za-z0-9_\-]{28}",  # Google OAuth client secrets
    r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,}",  # PyPI API tokens (a macaroon for pypi.org)
    r"pul-[0-9a-f]{40}",  # Pulumi
    rf"key-(?=[a-f]*\d){_HEX32}",  # Mailgun (a digit: not `key-` and a hex-looking word)
    r"sq0atp-[A-Za-z0-9_\-]{22}|sq0csp-[A-Za-z0-9_\-]{43}",  # Square
)
# An id, then the secret it goes with: `"AKIA...", "<secret>"` (boto3.Session's arguments by
# position), `SK...:<secret>`, and a CSV's or a URL's user and password (`AKIA...,<secret>`).
_THEN: Final = r"\\?[\"']?[ \t]{0,16}[,:][ \t]{0,16}\\?[\"']?"
# Prefixes holding a `K`, rare in text: gated on it, their hints are seldom looked for.
_KEYS_K: Final = (
    r"PMAK-[0-9a-f]{24}-[0-9a-f]{34}",  # Postman
    r"NRAK-[A-Z0-9]{27}",  # New Relic user keys
    r"HRKU-[A-Za-z0-9_\-]{36,64}",  # Heroku
    r"AGE-SECRET-KEY-1[0-9A-Z]{58}",  # age
    # a Twilio API key's secret after its SID (the SID is no secret)
    rf"SK[0-9a-f]{{32}}{_THEN}(?P<twilio_key_secret>(?=[a-zA-Z]{{0,31}}[0-9])[A-Za-z0-9]{{32}})",
)
_KEYS_UNDERSCORE: Final = (
    r"gh[pousr]_[A-Za-z0-9]{36,255}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{22,255}",  # GitHub fine-grained tokens
    r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe secret/restricted keys
    r"whsec_[A-Za-z0-9+/=]{24,}",  # Stripe webhook signing secrets
    r"hf_[A-Za-z]{34}",  # Hugging Face
    r"api_org_[A-Za-z]{34}",  # Hugging Face organisations
    r"npm_[A-Za-z0-9]{36}",  # npm access tokens
    r"gsk_[A-Za-z0-9]{52}",  # Groq
    r"r8_[A-Za-z0-9]{37}",  # Replicate
    r"lsv2_(?:pt|sk)_[0-9a-f]{32}_[0-9a-f]{10}",  # LangSmith
    r"do[opr]_v1_[0-9a-f]{64}",  # DigitalOcean
    r"ntn_[A-Za-z0-9]{46}",  # Notion
    r"secret_(?=[A-Za-z]*\d)[A-Za-z0-9]{43}",  # Notion's older tokens (a digit: not a name)
    r"shp(?:at|ss|ca|pa)_[0-9a-fA-F]{32}",  # Shopify
    r"lin_api_[A-Za-z0-9]{40}",  # Linear
    r"pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,100}",  # Pinecone
    r"sq[upa]_[0-9a-f]{40}",  # SonarQube / SonarCloud
    r"glsa_[A-Za-z0-9]{32}_[0-9a-f]{8}",  # Grafana service accounts
    r"glc_(?=[A-Za-z0-9+/]{0,400}\d)[A-Za-z0-9+/]{32,400}={0,2}",  # Grafana Cloud
    r"sntrys_eyJ[A-Za-z0-9+/=]{10,1024}_[A-Za-z0-9+/]{43}",  # Sentry organisation tokens
    r"sntryu_[0-9a-f]{64}",  # Sentry user tokens
    r"nfp_[A-Za-z0-9]{36}",  # Netlify
    r"sbp_[0-9a-f]{40}",  # Supabase access tokens
    r"sb_secret_[A-Za-z0-9_\-]{20,128}",  # Supabase secret keys (`sb_publishable_`: public)
    r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_\-.]{32,64}",  # PlanetScale
    # Figma's personal access tokens; PostHog's personal keys (`phc_`: a project's public
    # key). A digit: not a long identifier (Phoenix's `phx_...` names).
    r"figd_(?=[A-Za-z_\-]{0,63}[0-9])[A-Za-z0-9_\-]{40,64}",
    r"phx_(?=[A-Za-z_]{0,63}[0-9])[A-Za-z0-9_]{40,64}",
    # Resend: 8 and 24 characters (a digit: not an identifier of `re_` and words)
    r"re_(?=[A-Za-z_]{0,32}[0-9])[A-Za-z0-9]{8}_[A-Za-z0-9]{24}",
    r"sk_[0-9a-f]{48}",  # ElevenLabs
)
# Doppler: service (`dp.st.<config>.`), service account, CLI, personal, SCIM, audit tokens
_DOPPLER: Final = r"dp\.(?:st|sa|ct|pt|scim|audit)\.(?:[a-z0-9_\-]{2,35}\.)?[A-Za-z0-9]{40,44}"
# Mapbox's secret tokens (`pk.`: public), gated as a JWT, on its rarer `J`
_MAPBOX: Final = r"sk\.eyJ[A-Za-z0-9_\-]{20,1024}\.[A-Za-z0-9_\-]{20,}"
# The gates' hints: every key of a group starts with one of its group's prefixes (a short one
# for several: each hint costs a scan of the text, each place it occurs a regex try).
_HYPHEN_PREFIXES: Final = (
    *("sk-", "xox", "xapp-", "xai-", "pplx-", "tvly-", "GOCSPX-", "pypi-", "pul-", "key-", "sq0"),
)
_K_PREFIXES: Final = ("PMAK-", "NRAK-", "HRKU-", "AGE-SECRET-KEY-1")
_UNDERSCORE_PREFIXES: Final = (
    *("gh", "github_pat_", "sk_", "rk_", "hf_", "api_org_", "npm_", "whsec_", "gsk_", "r8_"),
    *("lsv2_", "dop_v1_", "doo_v1_", "dor_v1_", "ntn_", "secret_", "shp", "lin_api_", "pcsk_"),
    *("sq", "gl", "sntry", "nfp_", "sb", "pscale_", "figd_", "phx_", "re_"),
)
_AWS_KEY_ID: Final = r"(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}"
_KEYS_A: Final = (
    # AWS: the access key id, and its secret if it follows
    rf"(?P<aws_key_id>{_AWS_KEY_ID}){_THEN}(?P<aws_secret>[A-Za-z0-9/+]{{40}})(?![A-Za-z0-9/+=])",
    _AWS_KEY_ID,
    r"AIza[0-9A-Za-z_\-]{35}",  # Google API keys
    # a Twilio account's auth token after its SID (the SID is no secret)
    rf"AC[0-9a-f]{{32}}{_THEN}(?P<twilio_auth_token>[0-9a-f]{{32}})",
)
# Keys holding a digit, gated on one: prose without digits pays nothing for them. (Vault's
# and Databricks' random parts lack one but for a 1e-7 chance; the regexes require it.)
_KEYS_DIGIT: Final = (
    r"ya29\.[A-Za-z0-9_\-]{30,}",  # Google OAuth access tokens
    r"hv[sb]\.(?=[A-Za-z_\-]{0,255}\d)[A-Za-z0-9_\-]{90,}",  # HashiCorp Vault service/batch tokens
    r"ATATT3[A-Za-z0-9_\-=]{150,}",  # Atlassian API tokens
    r"dapi(?=[a-f]*\d)[0-9a-f]{32}(?:-\d)?",  # Databricks
    r"[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}",  # Telegram bots: the bot's id, 35 characters from "AA"
)
# A Discord bot token: the bot's id (17 to 20 digits) in base64, so its first two letters
# are those of a digit string; a 6-character time; a 27 to 40-character HMAC.
_DISCORD_STARTS: Final = ("MT", "Mj", "Mz", "ND", "NT", "Nj", "Nz", "OD", "OT")
_DISCORD_BOT_REST: Final = r"[A-Za-z0-9]{21,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}"
# An Azure AD (Entra ID) client secret: 3 characters, a digit, `Q~`, then 31 to 34.
_AZURE_AD_SECRET: Final = r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.\-]{31,34}"
# A Terraform Cloud / Enterprise token: 14 characters, `.atlasv1.`, then 60 to 70.
_TERRAFORM: Final = r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,70}"
# An Airtable personal access token: `pat`, 14 characters, `.`, 64 hex digits.
_AIRTABLE: Final = r"pat[A-Za-z0-9]{14}\.[0-9a-f]{64}"


def _named_or_whole(_text: str, match: re.Match[str]) -> list[tuple[int, int]]:
    """A rule's reader: the named groups that matched (a pair's id and secret, or its secret
    alone), else the whole match (a key that is one)."""
    named = [match.span(name) for name, value in match.groupdict().items() if value is not None]
    return named or [match.span()]


# A key pydantic shortened in an error (`'sk-proj-AbC...xyz'`): its tail goes too.
_SHORTENED_TAIL: Final = r"(?:\.\.\.[A-Za-z0-9_\-]+)?"


def _vendor_keys(formats: tuple[str, ...], end: str = NOT_BEFORE_WORD) -> re.Pattern[str]:
    # Not inside a word; or right after a %-escape (`?key%3Dsk-...` in an encoded URL). A
    # hyphen may glue it to a name either side (`token-ghp_...-prod`, a secret's file name).
    start = rf"(?:{NOT_AFTER_WORD}|(?<=%[0-9A-Fa-f]{{2}}))"
    return re.compile(start + "(?:" + "|".join(formats) + ")" + _SHORTENED_TAIL + end)


def _scanned_vendor_key(starts: tuple[str, ...], rest: str) -> re.Pattern[str]:
    """:func:`_vendor_keys` of a format starting with two characters of ``starts``, for a
    scan of the whole text: they come first, so the regex engine skips to them in C (from a
    lookbehind it would try every position), and the start's lookbehind follows them."""
    start = r"(?:(?<![A-Za-z0-9_]..)|(?<=%[0-9A-Fa-f]{2}..))"
    return re.compile(f"(?:{'|'.join(starts)}){start}{rest}{_SHORTENED_TAIL}{NOT_BEFORE_WORD}")


# (regex, group, gate) for each rule; every match is an API key.
VENDOR_RULES: Final[tuple[tuple[re.Pattern[str], str | Reader | None, Gate], ...]] = (
    (
        _vendor_keys(_KEYS_HYPHEN),
        None,
        # (GitLab's nine prefixes all start with "gl": one look, not nine)
        ("-", (*_HYPHEN_PREFIXES, "gl"), False, 0),
    ),
    (_vendor_keys(_KEYS_UNDERSCORE), None, ("_", _UNDERSCORE_PREFIXES, False, 0)),
    (_vendor_keys(_KEYS_K), _named_or_whole, ("K", (*_K_PREFIXES, "SK"), False, 0)),
    (_vendor_keys((_DOPPLER,)), None, (".", ("dp.",), False, 0)),
    # AKIA, ASIA and ABIA all hold "IA", two characters in; a Twilio SID starts with "AC"
    (_vendor_keys(_KEYS_A), _named_or_whole, ("A", ("IA", "AC", "AIza"), False, 2)),
    (  # a Telegram token starts up to 10 digits before its ":AA"
        _vendor_keys(_KEYS_DIGIT),
        None,
        ("0123456789", ("ya29.", "hv", "ATATT3", "dapi", ":AA"), False, 10),
    ),
    (_vendor_keys((_MAPBOX,)), None, ("J", ("sk.eyJ",), False, 0)),
    # (nine starts: one scan of the regex's (the empty hint), cheaper than nine of hints;
    # only in a text holding a `.`, which base64 has not)
    (_scanned_vendor_key(_DISCORD_STARTS, _DISCORD_BOT_REST), None, (".", ("",), False, None)),
    # (its `Q~` is 4 characters in; it may end in `~`, `.` or `-` but not go on, save for
    # a sentence's full stop)
    (
        _vendor_keys((_AZURE_AD_SECRET,), r"(?![A-Za-z0-9_~\-])(?!\.[A-Za-z0-9_~.\-])"),
        None,
        ("~", ("Q~",), False, 4),
    ),
    (_vendor_keys((_TERRAFORM,)), None, (".", (".atlasv1.",), False, 14)),
    (_vendor_keys((_AIRTABLE,)), None, (".", ("pat",), False, 0)),
    (  # glued to `bot` in the Bot API's URL: `api.telegram.org/bot<id>:AA.../getMe`
        re.compile(r"/bot(?P<v>[0-9]{8,10}:AA[A-Za-z0-9_\-]{33})(?![A-Za-z0-9_\-])"),
        "v",
        ("/", ("/bot",), False, 0),
    ),
    (  # SendGrid: SG.<22>.<43>
        re.compile(r"(?<![\w\-.])SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![\w\-])"),
        None,
        (".", ("SG.",), False, 0),
    ),
)
