"""The cheap secrets tier: vendor keys, tokens, assignments, user patterns and deny terms."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence

import pytest

from llmlog._redact_custom import CustomPatterns, compile_deny, compile_patterns
from llmlog._redact_detect import merge_spans
from llmlog._redact_secret_search import add_spans, find_secrets
from llmlog._redact_secrets import SECRET_RULES


def found(text: str) -> list[tuple[str, str]]:
    """(entity, matched text) for each secret in ``text``, overlaps merged as by the detector."""
    return [(entity, text[start:end]) for start, end, entity in merge_spans(find_secrets(text))]


class TestFindSecrets:
    def test_assignments_redact_the_value_not_the_name(self) -> None:
        """``password=...`` keeps the name (useful context) and loses the value."""
        assert found("password=s3cret99 and user=bob") == [("SECRET", "s3cret99")]
        assert found("{'api_key': 'abcd-1234'}") == [("SECRET", "abcd-1234")]

    @pytest.mark.parametrize(
        "password", ['Tr0ub4dor"horse', 'ab"Xy9#kLm2!', "back\\slash", "plainPassw0rd"]
    )
    def test_quoted_values_with_escapes_are_taken_whole(self, password: str) -> None:
        """JSON escapes a quote in a value (``"Tr0ub4dor\\"horse"``): the value ends at the
        closing quote, not at the escaped one, and is found even when it starts with one."""
        text = json.dumps({"user": "bob", "password": password})
        assert found(text) == [("SECRET", json.dumps(password)[1:-1])]

    def test_single_quoted_values_with_escapes_are_taken_whole(self) -> None:
        """The same in single quotes, as Python's repr writes a value holding both quotes."""
        assert found(repr({"password": 'it\'s "s3cret"'})) == [("SECRET", 'it\\\'s "s3cret"')]

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("key SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq", None),
            ("npm token npm_abcdefghijklmnopqrstuvwxyz0123456789", None),
            (
                "AccountName=acct;AccountKey=Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==;EndpointSuffix=x",
                "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==",
            ),
            ("https://a.blob.core.windows.net/c/f?sv=2022&sig=AbCd%2Bef123456789xyz%3D", None),
            ("https://b.s3.amazonaws.com/k?X-Amz-Signature=9f86d081884c7d659a2feaa0c55ad015", None),
        ],
    )
    def test_more_vendor_formats(self, text: str, secret: str | None) -> None:
        """SendGrid and npm keys, Azure storage account keys, SAS and S3 presigned-URL
        signatures: none of it survives (``None``: the value runs to the end of the text)."""
        spans = found(text)
        assert spans, text
        value = spans[-1][1]
        assert value == secret if secret is not None else text.endswith(value), spans

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("postgres://admin:P@ssw0rd@db.internal:5432/app", "P@ssw0rd"),
            ("mysql://u:pa/ss@h/db and more", "pa/ss"),
            ("redis://:s3cret@localhost:6379", "s3cret"),
            ("https://user:pass@host/path@foo", "pass"),
            ("https://example.com:8080/path?email=a@b.com", None),
            ("see http://a.com:80/x and bob@example.com", None),
        ],
    )
    def test_url_passwords_holding_at_signs_and_slashes(
        self, text: str, secret: str | None
    ) -> None:
        """A password pasted unescaped ("P@ssw0rd") goes whole, not up to its first "@";
        an empty user (redis) too; a port followed by an e-mail in the query is no password."""
        assert found(text) == ([("SECRET", secret)] if secret else [])

    def test_a_private_key_without_its_end_line_is_removed(self) -> None:
        """A key pasted in part (no END line): its base64 lines go, the prose after stays."""
        body = "MIIEpAIBAAKCAQEAx4Y7abcdefghijklmnopqrstuvwxyz0123\nAbCdEfGhIjKlMnOpQrStUvWxYz+/="
        text = f"my key:\n-----BEGIN RSA PRIVATE KEY-----\n{body}\nwhy does it fail?"
        [(_start, end, entity)] = merge_spans(find_secrets(text))
        assert entity == "PRIVATE_KEY" and text[:end].endswith(body)
        assert text[end:] == "\nwhy does it fail?"  # the prose after the key stays whole

    def test_long_bearer_tokens_need_no_digit(self) -> None:
        """A 32+ character credential after ``Bearer`` is one even without a digit; prose
        about bearer authentication is not."""
        token = "abcdefghijklmnopqrstuvwxyzABCDEFGH"
        assert found(f"Authorization: Bearer {token}") == [("BEARER_TOKEN", token)]
        assert found("Bearer authentication is the basic scheme here") == []

    def test_the_word_signature_is_not_a_secret(self) -> None:
        """Only an assigned value is: prose about signatures is left alone."""
        assert found("the signature of the letter; sig: none") == []

    def test_code_that_names_a_secret_is_not_a_secret(self) -> None:
        """Reading a secret from somewhere is code, not a leak."""
        for code in ("api_key = load_key(path)", "token=self.token", "password: str = None"):
            assert found(code) == [], code

    def test_bearer_token_keeps_the_scheme(self) -> None:
        """Only the credential after ``Bearer`` is replaced."""
        assert found("Authorization: Bearer abcdefgh12345678ijkl") == [
            ("BEARER_TOKEN", "abcdefgh12345678ijkl")
        ]

    def test_a_key_glued_to_a_name_by_hyphens_is_found(self) -> None:
        """`token-ghp_...-prod` (a secret's file or variable name): the key, not the name."""
        key = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
        assert found(f"saved as token-{key}-prod.txt") == [("API_KEY", key)]

    def test_prefixes_inside_longer_words_are_ignored(self) -> None:
        """``task-...`` is not ``sk-...``; kebab-case slugs without digits are not keys."""
        assert found("task-abcdefghijklmnopqrstuvwxyz01") == []
        assert found("sk-this-is-a-long-kebab-case-slug") == []


class TestNamesAndFormatsUsersHit:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("SECRET_KEY = 'django-insecure-7x$k2!q9'", "django-insecure-7x$k2!q9"),
            ("app.config['SECRET_KEY'] = '9f3b2c41d0e8'", "9f3b2c41d0e8"),
            ('os.environ["DB_PASSWORD"] = "Tr0ub4dor&3x"', "Tr0ub4dor&3x"),
            ('{"dbPassword": "hunter2hunter"}', "hunter2hunter"),
            ('{"SessionToken": "IQoJb3JpZ2luX2VjEJr"}', "IQoJb3JpZ2luX2VjEJr"),
            ("PGPASSWORD=Sup3rS3cret psql -h db", "Sup3rS3cret"),
            ("const botToken = 'xyzzy-42-plugh'", "xyzzy-42-plugh"),
            ("secret_key_base: 'a1b2c3d4e5f6'", "a1b2c3d4e5f6"),
            (
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=Root;"
                "SharedAccessKey=s8Kx2mAbc123=",
                "s8Kx2mAbc123=",
            ),
            # JavaScript's unquoted keys glued to `Secret`, a Python dict's quoted one
            ("const config = { clientSecret: 'QkFNlRXpTzWvHyJd' }", "QkFNlRXpTzWvHyJd"),
            ('export default { jwtSecret: "keyboard cat" };', "keyboard cat"),
            ("{'consumerSecret': 'vHyJdLcMbQkF'}", "vHyJdLcMbQkF"),
            # an object's `pass` (nodemailer's, mongoose's options)
            (
                "auth: {\n    user: 'me@example.com',\n    pass: 'app-password-x'\n  }",
                "app-password-x",
            ),
            (
                "mongoose.connect(url, { user: process.env.DB_USER, pass: 'hunter2xyz' })",
                "hunter2xyz",
            ),
            ('{"username": "bob", "pass": "hunter2xyz"}', "hunter2xyz"),
            ("auth: { user: 'me', pass: 'hunter2xyz' }", "hunter2xyz"),
            ('{"pass": "Passw0rd!"}', "Passw0rd!"),
        ],
    )
    def test_prefixed_and_glued_names(self, text: str, secret: str) -> None:
        """A credential name inside a longer identifier (``DB_PASSWORD``, ``dbPassword``,
        Django's ``SECRET_KEY``, ``config['SECRET_KEY'] =``, JavaScript's ``clientSecret:``)
        names a secret too; so does an object's key ``pass`` with a quoted value."""
        assert found(text) == [("SECRET", secret)]

    @pytest.mark.parametrize(
        "text",
        [
            "max_tokens=4096",
            "token = settings.token",
            'api_key=os.environ["OPENAI_API_KEY"]',
            "passwordless = True",
            'df["token_count"]=12345678',
            "tokenizer = 'gpt2-large'",
            "num_keys = 12345678",
            "design='a1b2c3d4'",
            # pagination and idempotency tokens, code, prose
            '{"NextToken": "AQICAHh4bWl", "nextPageToken": "CAUQAA22"}',
            '{"ClientRequestToken": "req-2024-01-02", "LockToken": "lock0123"}',
            "clearsig = transform.int2bytes(signature, keylength)",
            "funcsig = 'def {}({}):'",
            '{"typeSignature": "(int, str) -> bool", "isSecret": "true"}',
            "OLDPWD=/home/alice/project2",
            # `pass` only as the last part of a longer name
            "bypass=abc12345",
            "PASS: tests/check_utf8.test\nPASS: test_login_2 (0.01s)",
            "compass: 'north12'",
            '{"Set-Cookie-Policy": "strict", "cookies_enabled": "yes12"}',
            "MLKEM768X25519PrivateKey = rust_openssl.hpke.MLKEM768X25519PrivateKey",
            'publicKeyToken="1fc8b3b9a1e18e3b"',
            "start from a basic gpt-3.5-turbo prompt on basic ubuntu-22.04",
            # TypeScript's types, variables, yes/no values; `pass` as no key of a password
            "interface Config { password: string; clientSecret?: string; apiKey: string }",
            "const config = { apiKey: process.env.KEY, clientSecret: process.env.SECRET }",
            "{ isSecret: 'false', showSecret: \"yes\" }",
            "const results = { pass: 12, fail: 0 }; expect(r).toEqual({ pass: true })",
            "PASS: 'tests/login.test.ts'\nyou pass: 'abcd' and { pass: 'yes' }",
            '{"role": "user", "content": "did it pass: \'yes\'"}',
            # a test run's counts and words: spaces, `N/M`, a result, under 6 characters
            '{"suite": "api", "pass": "41/42", "fail": "1/42", "skip": "0"}',
            'Results:\npass: "all 12 tests"\nfail: "none"',
            "{ pass: 'passed', fail: 'failed' }, { pass: 'FAILED' }, {pass: 'Success'}",
            '{"pass": "12/12"}, {"pass": "abc12"}',
            "https://discord.com/channels/123456789012345678/123456789012345678",
        ],
    )
    def test_look_alikes_stay(self, text: str) -> None:
        assert found(text) == [], text

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            # every name a dict key is known by: a tool call's arguments are JSON text
            ('{"master_key": "Zq8pL2mXw9TkMasterVal"}', "Zq8pL2mXw9TkMasterVal"),
            ('{"encryptionKey": "Zq8pL2mXw9TkEncVal"}', "Zq8pL2mXw9TkEncVal"),
            ('{"signing-key": "Zq8pL2mXw9TkSignVal"}', "Zq8pL2mXw9TkSignVal"),
            ('{"x_functions_key": "Zq8pL2mXw9TkFnVal"}', "Zq8pL2mXw9TkFnVal"),
            ('{"ocp_subscription_key": "Zq8pL2mXw9TkSubVal"}', "Zq8pL2mXw9TkSubVal"),
            ('{"authorization": "Zq8pL2mXw9TkAuthVal"}', "Zq8pL2mXw9TkAuthVal"),
            ('{"aws_credentials": "Zq8pL2mXw9TkCredVal"}', "Zq8pL2mXw9TkCredVal"),
            ('{"cookie": "theme=dark; sid=Zq8pL2mX"}', "theme=dark; sid=Zq8pL2mX"),
            ('{"smtp_pass": "Zq8pL2mXw9TkSmtpVal"}', "Zq8pL2mXw9TkSmtpVal"),
            # a pasted .env: `*_PASS` is a password, its value needs no digit
            ("ENCRYPTION_KEY=Zq8pL2mXw9TkEncVal", "Zq8pL2mXw9TkEncVal"),
            ("MASTER_KEY=Zq8pL2mXw9TkMasterVal", "Zq8pL2mXw9TkMasterVal"),
            ("SMTP_PASS=Zq8pL2mXw9TkSmtpVal", "Zq8pL2mXw9TkSmtpVal"),
            ("DB_PASS=correcthorsebattery", "correcthorsebattery"),
            ("  db-pass: correcthorsebattery", "correcthorsebattery"),
            ('{"app_key": "Zq8pL2mXw9TkAppVal"}', "Zq8pL2mXw9TkAppVal"),
            ("LICENSE_KEY=AB12-CD34-EF56-GH78", "AB12-CD34-EF56-GH78"),
        ],
    )
    def test_credential_names_of_dict_keys_in_text(self, text: str, secret: str) -> None:
        """The names whose value goes as a dict key's (``llmlog.redaction``) name a secret
        in text too: the same tool argument as a dict or as JSON text is redacted alike."""
        assert found(text) == [("SECRET", secret)]

    def test_json_inside_a_json_string(self) -> None:
        """A tool's result holding JSON as text, written in a JSON string: the escaped
        quotes around the name and the value do not hide it."""
        text = json.dumps({"output": json.dumps({"password": "hunter22", "user": "bob"})})
        assert found(text) == [("SECRET", "hunter22")]

    def test_a_long_prefixed_name(self) -> None:
        """An environment variable name of any length ending in a credential word."""
        name = "SPRING_DATASOURCE_ANALYTICS_WAREHOUSE_EU_WEST_1_READ_REPLICA_CONNECTION_PASSWORD"
        assert found(f"{name}=Zq8vLm2pXw") == [("SECRET", "Zq8vLm2pXw")]

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("xapp-1-A07ABCDEF12-1234567890123-abcdefabcdef", None),
            ("runner glrt-t1_0FZfabcdefghijklmnopqrst", "glrt-t1_0FZfabcdefghijklmnopqrst"),
            ("deploy gldt-Ab1Cabcdefghijklmnopqrstuv", "gldt-Ab1Cabcdefghijklmnopqrstuv"),
            ("whsec_1wNWabcdefghijklmnopqrstuvwxyz12", None),
            ("Authorization: Basic Ym9iOmh1bnRlcjI=", "Ym9iOmh1bnRlcjI="),
            (
                "https://x.test/cb%3Fkey%3Dsk-proj-abcdefghij1234567890abcd",
                "sk-proj-abcdefghij1234567890abcd",
            ),
        ],
    )
    def test_vendor_formats(self, text: str, secret: str | None) -> None:
        """Slack app tokens, GitLab runner and deploy tokens, Stripe webhook secrets, a
        short Basic credential (``bob:hunter2``), a key inside a %-encoded URL."""
        assert [value for _, value in found(text)] == [secret or text]


class TestCustomPatterns:
    def test_bad_regex_is_refused_with_its_entity(self) -> None:
        """A pattern that does not compile raises ValueError naming its entity."""
        with pytest.raises(ValueError, match="'ORDER'"):
            compile_patterns({"ORDER": "(unclosed"})

    def test_entity_names_are_upper_cased(self) -> None:
        """``{"order_id": ...}`` is reported as ``ORDER_ID``."""
        spans = CustomPatterns({"order_id": r"ORD-\d+"}, ()).find("see ORD-42")
        assert spans == [(4, 10, "ORDER_ID")]

    def test_deny_terms_match_whole_words_in_any_case(self) -> None:
        """Deny terms are literal (no regex), case-insensitive, and never inside other words."""
        pattern = compile_deny(["Acme Corp", "a.b"])
        assert pattern is not None
        assert [m.group() for m in pattern.finditer("ACME CORP, acme corporation, a.b, axb")] == [
            "ACME CORP",
            "a.b",
        ]

    def test_no_terms_no_pattern(self) -> None:
        """Empty or blank deny lists compile to nothing and match nothing."""
        assert compile_deny(["", "  "]) is None
        assert not CustomPatterns({}, ())


def ungated(text: str) -> list[tuple[int, int, str]]:
    """What every rule's regex finds scanning the whole text, with no gate at all."""
    spans: list[tuple[int, int, str]] = []
    for entity, pattern, group, _gate in SECRET_RULES:
        for match in pattern.finditer(text):
            add_spans(spans, text, entity, match, group)
    return merge_spans(spans)


def assert_gates_find_what_full_scans_find(
    pieces: Sequence[str], seed: int, texts: int, at_least: int, longest: int = 12
) -> None:
    """Texts joined at random from ``pieces``: the gated search finds exactly what full
    scans find, and more than ``at_least`` of them have a find (they exercise the rules)."""
    rng = random.Random(seed)
    found_any = 0
    for _ in range(texts):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, longest)))
        expected = ungated(text)
        assert merge_spans(find_secrets(text)) == expected, text
        found_any += bool(expected)
    assert found_any > at_least


class TestGates:
    PIECES = (
        *("client_secret", "Client-Secret", "apikey", "API-KEY", "secret_access_key"),
        *("refresh_token", "Private_Key", "token", "PassWD", "pwd", "Bearer ", "basic "),
        *(
            "AUTHORIZATION: token ",
            "sk-",
            "sk_live_",
            "ghp_",
            "github_pat_",
            "xoxb-",
            "ABCDEFGHIJ234567",
        ),
        *(
            "glpat-",
            "hf_",
            "AKIA",
            "ACCA",
            "AIza",
            "eyJhbGciOiJI",
            ".",
            "https://",
            "u:p@",
            ":P@ss@h/",
        ),
        *("-----BEGIN ", "RSA PRIVATE KEY-----", "-----END ", "https://hooks.slack.com/"),
        *("DB_", "dbPassword", "SECRET_KEY", "['", '"]', "xapp-1-", "glrt-", "whsec_", "%3D"),
        *("\\", '\\"', "NextToken", "isSecret", "a.b.c2", "f(", "Authorization: Basic "),
        *("services/T0AB/B1CD/xyz", "=", ":", " ", '"', "'", "\n", "-", "_", "x", "1"),
        *("abcd", "s3cr3t99", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdef", "é", "\u017f", "İ"),
        # the formats and forms added for the reviewed leaks
        *("gsk_", "xai-", "ya29.", "hvs.", "ATATT3", "dapi", "7123456789:AA", "secret_", "..."),
        *("0123456789abcdef0123456789abcdef", "Cookie: ", "Set-Cookie: sid=", "?key=", "&"),
        *("  password: ", "Password=", "DB_PASSWORD=", ";", "export ", "\r\n", "- ", "\uff1a"),
        *("MASTER_KEY", "signingKey", "smtp_pass", "PASS", "bypass", "x-Authorization"),
        *('"cookie": ', "cookies", "aws_credentials", "Credential"),
        # the forms added for the second review
        *("; sessionid=", "csrftoken=", "密钥", "キー", "з", "/bot", "LS0tLS1CRUdJTi", "curl "),
        *("Authorization: ApiKey ", "-u ", "admin:", "Ym9iOmh1bnRlcjI=", '"clientSecret": '),
        *("eos_token", "password = ", " PGPASSWORD=", "hooks.slack.com/workflows/T0AB/"),
        *("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t", "/1234567890/", "QUJD" * 16, "\n"),
        # command lines, credential files, webhooks and object keys
        *("mysql ", "mysqldump ", " -p", "-pS3cret", " -p'a b'", "sshpass ", "docker login "),
        *("docker ", "--password ", " -u x", " -v", "htpasswd ", " -nb ", "-b ", "$X"),
        *("db:5432:app:u:pw", "\nh:5432:d:u:", "*:*:*:", ":5432", "_auth=", "/:_authToken="),
        *("machine ", "h.example ", "login ", "password ", "discord.com/api/webhooks/", "/x"),
        *("discord.com/api/webhooks/123456789012345678/" + "AbCd" * 17, "AbCd" * 17, "\\:"),
        *("discordapp.com/api/v10/webhooks/123456789012345678/", "https://ptb.", "/webhooks/"),
        *("clientSecret: ", "{ user: 'bob', pass: ", ", pass: ", "\n  pass: ", "pass", "'x12'"),
        *("machine h.example login u password ", "'s3cr3t99'", "\nh.example:5432:d:u:pw"),
    )

    def test_gates_never_change_what_is_found(self) -> None:
        """Skipping rules and trying regexes only near hints finds exactly what full scans find."""
        assert_gates_find_what_full_scans_find(self.PIECES, 7, 20_000, 1_000, longest=14)

    def test_gates_hold_in_text_with_any_non_ascii_letter(self) -> None:
        """Non-ASCII text is searched near its hints too (a full scan of it cost 10x): the
        same finds as full scans, with an em dash, accents, CJK, and the letters (?i) folds
        into ASCII ones (U+0130, U+0131, U+017F, U+212A), which make the regex scan the text."""
        rng = random.Random(11)
        extra = ("\u2014", "\u00e9", "\u201c", "\u5bc6", "\u0130", "\u0131", "\u017f", "\u212a")
        pieces = (*self.PIECES, *extra, "\u212aey=", "pa\u017fsword=", "\u0130TOKEN=")
        found_any = 0
        for _ in range(20_000):
            parts = [rng.choice(pieces) for _ in range(rng.randint(1, 14))]
            parts.insert(rng.randint(0, len(parts)), rng.choice(extra))
            text = "".join(parts)
            expected = ungated(text)
            assert merge_spans(find_secrets(text)) == expected, text
            found_any += bool(expected)
        assert found_any > 1_000

    def test_a_secret_right_after_another_is_found(self) -> None:
        """Two assignments back to back, the second inside the first one's reach, both go."""
        text = "pwd='abcd1234' token=xyz98765"
        assert found(text) == [("SECRET", "abcd1234"), ("SECRET", "xyz98765")]

    def test_non_ascii_text_falls_back_to_a_full_scan(self) -> None:
        """Lower-casing may move positions in non-ASCII text; a secret after such text is kept."""
        assert found("İİİ api_key='abcd1234'") == [("SECRET", "abcd1234")]


# Fake credentials of the formats the second review found leaking, built here.
OPENAI_KEY = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2n"
AWS_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"
GITHUB_TOKEN = "gh" + "p_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
JWT_TOKEN = (
    "eyJ" + "hbGciOiJIUzI1NiJ9." + "eyJ" + "zdWIiOiIxMjM0NTY3ODkwIn0." + "dozjgNryP4J3jVmNHl0w5N"
)
TELEGRAM_TOKEN = "110201543:" + "AA" + "HdqTcvCH1vGWJxfSeofSAs0K5PALDsawX"


class TestSessionCookies:
    @pytest.mark.parametrize(
        ("header", "secrets"),
        [
            # Django: the session cookie first, a csrftoken after
            (
                "Cookie: sessionid=k3j4h5g6f7d8s9a0q1w2e3r4; csrftoken=Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2",
                ["k3j4h5g6f7d8s9a0q1w2e3r4", "Zx9Cv8Bn7Mm6Ll5Kk4Jj3Hh2"],
            ),
            # Express and Angular
            (
                "Cookie: connect.sid=s:AbCdEf1234567890.XyZ0987; XSRF-TOKEN=Qw12Er34Ty56Ui78",
                ["s:AbCdEf1234567890.XyZ0987", "Qw12Er34Ty56Ui78"],
            ),
            (
                "Cookie: sid=abcd1234efgh5678ijkl; user_session=zzzz1111yyyy2222; theme=dark",
                ["abcd1234efgh5678ijkl", "zzzz1111yyyy2222"],
            ),
            (
                "Set-Cookie: __Host-session=Zq8pL2mXw9Tk; Path=/; Secure; HttpOnly",
                ["Zq8pL2mXw9Tk"],
            ),
            ("Cookie: theme=dark; lang=en-US; _ga=GA1.2.12345678", []),
        ],
    )
    def test_every_session_cookie_of_a_header_goes(self, header: str, secrets: list[str]) -> None:
        """Each cookie of a header is looked at on its own: a session cookie written
        before another named like one (``csrftoken``) goes too; other cookies stay."""
        assert found(f"GET /admin HTTP/1.1\nHost: shop.example\n{header}\n") == [
            ("SECRET", secret) for secret in secrets
        ]

    @pytest.mark.timeout(60)  # a hang, not a speed: quadratic, this text takes minutes
    def test_many_cookie_headers_on_one_line_are_each_read_once(self) -> None:
        """A proxy log as JSON text is one line with hundreds of ``Cookie:`` headers and no
        session cookie: each header is read up to its end, not to the end of the line (the
        old rule took 12 s for 100 KB, and the record was lost at exit)."""
        line = "GET /a HTTP/1.1 Host: x Cookie: theme=dark; lang=en " + "x" * 200 + " "
        assert found(line * 1500) == []

    @pytest.mark.timeout(60)  # a hang, not a speed: unbounded, each of these took minutes
    @pytest.mark.parametrize(
        "text",
        [
            "see https://user@host/ " + "-".join(["lorem", "ipsum", "dolor"] * 33_000),
            "api_key=" * 75_000,
            "café " + "api_key=" * 75_000,
            "?password=" * 60_000 + ",",
            "?key=" * 120_000,
            "-eyJ" * 150_000,
        ],
        ids=["url-scheme", "name-equals", "name-equals-non-ascii", "password", "url-key", "jwt"],
    )
    def test_rule_lookaheads_and_runs_are_bounded(self, text: str) -> None:
        """600 KB of what each rule's unbounded scan read to the end of from every start
        (the writer stalled, and the whole app with it where one regex call held the GIL)."""
        assert found(text) == []

    @pytest.mark.timeout(60)  # a hang, not a speed: unbounded, this text takes a minute
    def test_a_run_of_key_prefixes_without_a_digit_is_read_in_bounded_steps(self) -> None:
        """Each ``sk-`` looks for the key's digit in at most 256 characters, not to the end
        of the run (``sk-proj-`` repeated 4,000 times took 3 s)."""
        assert found("sk-proj-" * 16000) == []


class TestNonAsciiNeighbours:
    @pytest.mark.parametrize(
        ("text", "secret", "entity"),
        [
            (f"我的OpenAI密钥是{OPENAI_KEY}\uff0c请帮我写一个调用示例", OPENAI_KEY, "API_KEY"),
            (f"APIキーは{OPENAI_KEY}です", OPENAI_KEY, "API_KEY"),
            (f"好的\uff0c已把密钥{AWS_KEY_ID}写入配置。", AWS_KEY_ID, "API_KEY"),
            (f"токен{GITHUB_TOKEN}ошибка", GITHUB_TOKEN, "API_KEY"),
            (f"clé{OPENAI_KEY}é", OPENAI_KEY, "API_KEY"),
            (f"令牌是{JWT_TOKEN}。", JWT_TOKEN, "JWT"),
            (f"机器人{TELEGRAM_TOKEN}好", TELEGRAM_TOKEN, "API_KEY"),
            ("数据库postgres://app:S3cretPw99@db.internal/app", "S3cretPw99", "SECRET"),
        ],
    )
    def test_a_secret_glued_to_letters_of_other_scripts(
        self, text: str, secret: str, entity: str
    ) -> None:
        """Chinese, Japanese, Cyrillic or accented letters right before or after a key are
        not part of it (Python's ``\\w`` and ``str.isalnum`` take them for word characters)."""
        assert found(text) == [(entity, secret)]


class TestPasswordsMidLine:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("docker run --name pg -e POSTGRES_PASSWORD=mysecretpassword -d postgres", None),
            ('docker run -e "MYSQL_ROOT_PASSWORD=correcthorse" mysql:8', "correcthorse"),
            ("PGPASSWORD=correcthorse psql -h db.internal -U app", "correcthorse"),
            ("connect('host=db dbname=app user=app password=correcthorsebattery')", None),
            ("[client]\nuser = root\npassword = bluemoonrising\n", "bluemoonrising"),
            ("https://h.example/login?user=bob&password=bluemoonrising&next=/", None),
            ("mysqldump --password=bluemoonrising app > dump.sql", "bluemoonrising"),
        ],
    )
    def test_a_password_needs_no_digit(self, text: str, secret: str | None) -> None:
        """``NAME=value`` of a password name is one anywhere in a line: in a shell command,
        a libpq connection string, an INI file (``None``: the secret is the word after ``=``)."""
        expected = secret or text.split("ASSWORD=")[-1].split("assword=")[-1]
        expected = expected.split()[0].split("'")[0].split("&")[0]
        assert found(text) == [("SECRET", expected)]

    @pytest.mark.parametrize(
        "text",
        [
            "client.login(user=user, password=password)",
            "connect(host, password=pw_from_env, timeout=3)",
            "db = Db(password=self.password)",
            "x = dict(\n    password=password\n)",
            "password=None other",
            "docker run -e POSTGRES_PASSWORD=$PGPASS postgres",
            "curl -d password=<your-password> https://x",
            "--password=${DB_PASSWORD} --user=app",
            "password = settings.DB_PASSWORD",
            "self.password=password ",
        ],
    )
    def test_code_and_placeholders_stay(self, text: str) -> None:
        """A keyword argument (its value followed by ``,`` or ``)``, or on its own
        indented line), a dotted path, a variable or a placeholder is not a password."""
        assert found(text) == [], text


DISCORD_TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123"


class TestMoreFormats:
    def test_camel_case_secret_keys_of_json_text(self) -> None:
        """A tool call's JSON arguments as text: ``clientSecret`` goes as the same key of a
        dict does, in JSON inside a JSON string too; a yes/no value stays."""
        args = {
            "clientId": "my-app",
            "clientSecret": "QkFNlRXpTzWvHyJdLcMb",
            "consumerSecret": "vHyJdLcMbQkFNlRXpTzW",
            "accessTokenSecret": "LcMbQkFNlRXpTzWvHyJd",
            "isSecret": "false",
        }
        secrets = [("SECRET", args[key]) for key in args if key.endswith("Secret")][:3]
        assert found(json.dumps(args)) == secrets
        assert found(json.dumps({"arguments": json.dumps(args)})) == secrets

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            (
                f'requests.post("https://api.telegram.org/bot{TELEGRAM_TOKEN}/sendMessage")',
                TELEGRAM_TOKEN,
            ),
            (
                "https://hooks.slack.com/triggers/T01ABCDEF/1234567890123/0a1b2c3d4e5f60718293a4b5",
                "T01ABCDEF/1234567890123/0a1b2c3d4e5f60718293a4b5",
            ),
            (
                "https://hooks.slack.com/workflows/T01ABCDEF/A02DEFGHI/123456789012/Ab12Cd34Ef56",
                "T01ABCDEF/A02DEFGHI/123456789012/Ab12Cd34Ef56",
            ),
            (f"https://discord.com/api/webhooks/123456789012345678/{DISCORD_TOKEN}", DISCORD_TOKEN),
            (
                f"https://discordapp.com/api/webhooks/123456789012345678/{DISCORD_TOKEN}?wait=1",
                DISCORD_TOKEN,
            ),
            (
                f"requests.post('https://canary.discord.com/api/v10/webhooks/123456789012345678/"
                f"{DISCORD_TOKEN}/slack', json=payload)",
                DISCORD_TOKEN,
            ),
        ],
    )
    def test_bot_and_webhook_urls(self, text: str, secret: str) -> None:
        """A Telegram bot's token in the Bot API's URL (glued to ``bot``); Slack's workflow
        and trigger webhooks, not only its incoming ones; a Discord webhook's token (its id,
        the webhook's, stays)."""
        assert [value for _, value in found(text)] == [secret]

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            (
                "curl -H 'Authorization: ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHA==' https://es",
                "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHA==",
            ),
            (
                "Authorization: SSWS 00QCjAl4MlV-WPXM-0K8uEXAMPLEqrstuvwxYZ12345",
                "00QCjAl4MlV-WPXM-0K8uEXAMPLEqrstuvwxYZ12345",
            ),
            (
                '"Authorization: Bot MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnop0123"',
                "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbCdE.abcdefghijklmnop0123",
            ),
            ("curl -u admin:S3cr3tPassw0rd https://jenkins.internal/api", "S3cr3tPassw0rd"),
            ("curl -s \\\n  --user 'admin:bluemoonrising' https://x", "bluemoonrising"),
        ],
    )
    def test_other_authorization_schemes_and_curl_users(self, text: str, secret: str) -> None:
        """Any scheme's credential in an ``Authorization:`` header; ``curl -u user:password``."""
        assert found(text) == [(found(text)[0][0], secret)]

    @pytest.mark.parametrize(
        "text",
        [
            'Authorization: Digest username="Mufasa", realm="testrealm@host.com", nonce="dc"',
            "Authorization: see the documentation below for details",
            "docker run -u 1000:1000 -v /data:/data image",
            'curl -u "$API_USER:$API_PASS" https://x',
        ],
    )
    def test_authorization_look_alikes_stay(self, text: str) -> None:
        assert found(text) == [], text

    def test_base64_encoded_private_keys(self) -> None:
        """A Kubernetes TLS Secret's ``tls.key`` and a kubeconfig's ``client-key-data`` are
        base64 of a PEM private key: they go, wrapped at 76 or not; a certificate stays."""
        body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj" * 3
        pem = f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n".encode()
        one_line = base64.b64encode(pem).decode()
        wrapped = base64.encodebytes(pem).decode().rstrip("\n")
        cert = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIC" + b"A" * 40).decode()
        text = f"data:\n  tls.crt: {cert}\n  tls.key: {one_line}\n"
        assert found(text) == [("PRIVATE_KEY", one_line)]
        rsa = base64.b64encode(pem.replace(b" PRIVATE", b" RSA PRIVATE")).decode()
        assert found(f"    client-key-data: {rsa}\n") == [("PRIVATE_KEY", rsa)]
        assert found(f"$ base64 key.pem\n{wrapped}\nWhy does it fail?") == [
            ("PRIVATE_KEY", wrapped)
        ]


class TestLookAlikesOfTheSecondReview:
    def test_a_tokenizers_special_tokens_are_no_secrets(self) -> None:
        """A pasted tokenizer_config.json: ``"eos_token": "<|end_of_text|>"`` names a special
        token, as the dict-key rule knows; an access token beside it still goes."""
        config = {
            "bos_token": "<|begin_of_text|>",
            "eos_token": "<|end_of_text|>",
            "pad_token": "<|finetune_right_pad_id|>",
            "unk_token": "<unk>",
            "sep_token": "[SEP]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
            "hub_token": "Zq8pL2mXw9TkHubVal",
        }
        assert found(json.dumps(config, indent=2)) == [("SECRET", "Zq8pL2mXw9TkHubVal")]
        assert found("tokenizer.eos_token = '<|eot_id|>'") == []

    @pytest.mark.parametrize(
        "text",
        [
            "Give me a basic HTTP/1.1-compliant server setup",
            "Copy the basic /usr/local/lib/python3.12/site-packages layout",
            "pin a basic en_core_web_sm-3.8.0 model and a basic docker-compose.override.yml",
            "a basic understanding12 of it",
        ],
    )
    def test_the_adjective_basic(self, text: str) -> None:
        """``basic`` before a version, a path or a file name is no Basic credential."""
        assert found(text) == [], text

    def test_a_basic_credential_is_base64_of_a_user_and_password(self) -> None:
        """Still found outside a header: ``basic`` and base64 of ``user:password``."""
        credential = base64.b64encode(b"deploy:bluemoonrising").decode()
        assert found(f"use auth=basic {credential} for the mirror") == [
            ("BEARER_TOKEN", credential)
        ]


DOCKER_AUTH = base64.b64encode(b"deploy:Tr0ub4dor3x").decode()


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"auths": {"registry.example.com": {"auth": DOCKER_AUTH}}}, indent=2),
        json.dumps({"stdout": json.dumps({"auths": {"ghcr.io": {"auth": DOCKER_AUTH}}})}),
    ],
    ids=["config.json", "in a tool's JSON result"],
)
def test_a_docker_configs_auth_goes(text: str) -> None:
    """`cat ~/.docker/config.json` in an agent's shell: `auth` is base64 of user:password."""
    assert found(text) == [("SECRET", DOCKER_AUTH)]


@pytest.mark.parametrize(
    "text",
    [
        '{"auth": "email_and_password"}',
        json.dumps({"auth": base64.b64encode(b"no colon in here").decode()}),
        '{"auth": "bearer"}',
    ],
)
def test_an_auth_that_is_no_user_and_password_stays(text: str) -> None:
    assert found(text) == []
