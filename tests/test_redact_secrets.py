"""The cheap secrets tier: vendor keys, tokens, assignments, user patterns and deny terms."""

from __future__ import annotations

import json
import random

import pytest

from llmlog._redact_detect import merge_spans
from llmlog._redact_secrets import (
    _SECRET_RULES,
    CustomPatterns,
    compile_deny,
    compile_patterns,
    find_secrets,
)


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
        ],
    )
    def test_prefixed_and_glued_names(self, text: str, secret: str) -> None:
        """A credential name inside a longer identifier (``DB_PASSWORD``, ``dbPassword``,
        Django's ``SECRET_KEY``, ``config['SECRET_KEY'] =``) names a secret too."""
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
    spans = []
    for entity, pattern, group, _gate in _SECRET_RULES:
        for match in pattern.finditer(text):
            name = group
            if group == "":
                name = match.lastgroup
            spans.append((match.start(name or 0), match.end(name or 0), entity))
    return merge_spans(spans)


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
    )

    def test_gates_never_change_what_is_found(self) -> None:
        """Skipping rules and trying regexes only near hints finds exactly what full scans find."""
        rng = random.Random(7)
        texts = [
            "".join(rng.choice(self.PIECES) for _ in range(rng.randint(1, 14)))
            for _ in range(20_000)
        ]
        found_any = 0
        for text in texts:
            expected = ungated(text)
            assert merge_spans(find_secrets(text)) == expected, text
            found_any += bool(expected)
        assert found_any > 1_000  # the texts do exercise the rules

    def test_a_secret_right_after_another_is_found(self) -> None:
        """Two assignments back to back, the second inside the first one's reach, both go."""
        text = "pwd='abcd1234' token=xyz98765"
        assert found(text) == [("SECRET", "abcd1234"), ("SECRET", "xyz98765")]

    def test_non_ascii_text_falls_back_to_a_full_scan(self) -> None:
        """Lower-casing may move positions in non-ASCII text; a secret after such text is kept."""
        assert found("İİİ api_key='abcd1234'") == [("SECRET", "abcd1234")]
