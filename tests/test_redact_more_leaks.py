"""Secrets a third review found reaching the log at level ``secrets``: a password by its
column's place in an INSERT, PostgreSQL's ``E'...'`` and ``$$...$$`` strings, dotted
properties keys, ``gh secret set --body``, a Kubernetes Secret's data, more vendors' tokens,
a secret passed by position after its id, a bare ``Authorization:`` token, passwords of
letters alone in prose; and what looks like them but stays (a metric's camelCase name, a
manual's placeholder password)."""

from __future__ import annotations

import json
import random

import httpx2
import pytest

import openai_fakes as ofake
from llmlog.testing import capture_records
from test_redact_leaks import redacted
from test_redact_prose_and_sql import secrets
from test_redact_secrets import assert_gates_find_what_full_scans_find

HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OPAQUE = "aB3dEfGh1jKlMnOpQrStUvWxYz0123456789abcd"


class TestSqlByPosition:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("INSERT INTO users (name, password) VALUES ('bob', 'Tr0ub4dor&3');", ["Tr0ub4dor&3"]),
            (
                "INSERT INTO users (id, name, password, email) VALUES "
                "(1, 'bob', 'Tr0ub4dor&3', 'b@x.io'), (2, 'amy', 'c0rrect-h0rse', 'a@x.io');",
                ["Tr0ub4dor&3", "c0rrect-h0rse"],
            ),
            (
                "insert into accounts (login, \"api_key\") values ('svc', 'k9Jx2mQ8pLw4')",
                ["k9Jx2mQ8pLw4"],
            ),
            (
                "INSERT INTO users (name, password) VALUES ('bob', crypt('Tr0ub4dor&3', 'bf'));",
                ["Tr0ub4dor&3", "bf"],
            ),
        ],
    )
    def test_a_credential_columns_values_go(self, text: str, expected: list[str]) -> None:
        """The strings at the place of a column named as a credential, in every row."""
        assert secrets(text) == expected

    def test_in_a_tool_calls_arguments(self) -> None:
        """An INSERT in a JSON string, as a tool call's arguments hold it."""
        text = json.dumps({"sql": "INSERT INTO users (name, password) VALUES ('bob', 'hunter2x')"})
        assert secrets(text) == ["hunter2x"]

    @pytest.mark.parametrize(
        "text",
        [
            "INSERT INTO users (name, password) VALUES (%s, %s)",
            "INSERT INTO users (name, password) VALUES (?, ?)",
            "INSERT INTO users (name, password) VALUES ('bob', '')",
            "INSERT INTO users (name, password) VALUES ('bob', 'password')",
            "INSERT INTO users (name, password_hash) VALUES ('bob', 'Tr0ub4dor&3')",
            "INSERT INTO users VALUES ('bob', 'Tr0ub4dor&3')",
        ],
    )
    def test_placeholders_other_columns_and_unnamed_columns_stay(self, text: str) -> None:
        """A driver's placeholder, a hash's column, or no column list to place a value by."""
        assert secrets(text) == []

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("ALTER ROLE app WITH PASSWORD $$s3cr3tPass!$$;", "s3cr3tPass!"),
            ("CREATE USER app PASSWORD $pw$s3cr3t Pass$pw$;", "s3cr3t Pass"),
            ("ALTER ROLE app WITH PASSWORD E'sup3r\\'secret';", "sup3r\\'secret"),
        ],
    )
    def test_postgres_dollar_and_escape_strings(self, text: str, expected: str) -> None:
        """PostgreSQL's `$$...$$`, `$tag$...$tag$` and `E'...'` after PASSWORD."""
        assert secrets(text) == [expected]

    def test_a_parameter_after_password_stays(self) -> None:
        """A positional parameter (`$1`) is no dollar-quoted string."""
        assert secrets("ALTER ROLE app PASSWORD $1;") == []

    @pytest.mark.parametrize(
        "text",
        [
            "CREATE USER 'app'@'%' IDENTIFIED BY 'password';",
            "CREATE USER 'app'@'%' IDENTIFIED BY 'your_password';",
            "CREATE USER 'app'@'%' IDENTIFIED BY 'xxx';",
            "CREATE USER 'app'@'%' IDENTIFIED BY '***';",
            "CREATE USER 'app'@'%' IDENTIFIED BY '<password>';",
            "ALTER USER app IDENTIFIED BY password;",
            "CREATE ROLE app LOGIN PASSWORD 'new_password';",
        ],
    )
    def test_a_manuals_placeholder_password_stays(self, text: str) -> None:
        """SQL's documentation writes the word, a mask or a bracket where the password goes."""
        assert secrets(text) == []

    def test_a_real_password_beside_a_placeholder_still_goes(self) -> None:
        """A password holding the word `password` is no placeholder."""
        assert secrets("CREATE USER 'app'@'%' IDENTIFIED BY 'passw0rd!';") == ["passw0rd!"]


class TestPropertiesAndCommands:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f"aws.secret.key={AWS_SECRET}", AWS_SECRET),
            ("stripe.api.key=k9Jx2mQ8pLw4aaaaaaaa", "k9Jx2mQ8pLw4aaaaaaaa"),
            ("app.encryption.key: 'b64:9f8e7d6c5b4a3928'", "b64:9f8e7d6c5b4a3928"),
            ("mail.smtp.pass=hunterhunter", "hunterhunter"),
            ("spring.datasource.pwd = correcthorse", "correcthorse"),
        ],
    )
    def test_dotted_key_and_password_names(self, text: str, expected: str) -> None:
        """`<kind>.key` reads as `<kind>_key`; `.pass` and `.pwd` as `.password`."""
        assert secrets(f"# app.properties\n{text}\nserver.port=8080") == [expected]

    @pytest.mark.parametrize(
        "text",
        ["cache.key=user-profile-v2", "record.key = 'name'", "self.api.key = get_key()"],
    )
    def test_other_dotted_keys_stay(self, text: str) -> None:
        """A cache's or a record's key, and code reading one, are no credential."""
        assert secrets(text) == []

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('gh secret set DEPLOY_TOKEN --body "Zx8kQ2mLp0Rt5vWyAb"', "Zx8kQ2mLp0Rt5vWyAb"),
            ("gh secret set DEPLOY_TOKEN --body=Zx8kQ2mLp0Rt5vWyAb", "Zx8kQ2mLp0Rt5vWyAb"),
            (
                "gh secret set HOOK -b https://hooks.example/abc --repo acme/api",
                "https://hooks.example/abc",
            ),
            (
                json.dumps({"command": 'gh secret set NPM_TOKEN --body "npm0abcdefghij"'}),
                "npm0abcdefghij",
            ),
        ],
    )
    def test_gh_secret_set_body(self, text: str, expected: str) -> None:
        """`--body "v"`, `--body=v`, `-b v`, and in a tool call's command."""
        assert secrets(text) == [expected]

    @pytest.mark.parametrize(
        "text",
        ["gh secret set NAME < token.txt", 'gh secret set NAME --body "$TOKEN"', "gh secret list"],
    )
    def test_gh_secret_set_without_a_value_stays(self, text: str) -> None:
        """The value read from a file or a variable is not in the text."""
        assert secrets(text) == []


_KUBECTL_YAML = """apiVersion: v1
data:
  DATABASE_URL: cG9zdGdyZXM6Ly9hcHA6aHVudGVyMkBkYi9wcm9k
  username: YWRtaW4=
kind: Secret
metadata:
  name: app
type: Opaque
---
apiVersion: v1
kind: ConfigMap
data:
  LOG_LEVEL: debug
"""
_STRING_DATA = """kind: Secret
stringData:
  config.yaml: |
    endpoint: https://api.internal
    apiToken: plainvalue
  note: "quoted value"
metadata:
  name: app
"""
_JSON_SECRET = {"kind": "Secret", "data": {"username": "YWRtaW4=", "url": "aHR0cHM6Ly94"}}


class TestKubernetesSecrets:
    def test_every_data_value_goes_before_or_after_kind(self) -> None:
        """kubectl's output puts ``data`` before ``kind``; the next document's ConfigMap stays."""
        assert secrets(_KUBECTL_YAML) == ["cG9zdGdyZXM6Ly9hcHA6aHVudGVyMkBkYi9wcm9k", "YWRtaW4="]

    def test_string_data_values_go_also_in_a_block(self) -> None:
        """Plain text under ``stringData``; a block value's lines (a file's) each go."""
        assert secrets(_STRING_DATA) == ["https://api.internal", "plainvalue", "quoted value"]

    @pytest.mark.parametrize(
        "text",
        [json.dumps(_JSON_SECRET, indent=2), json.dumps({"stdout": json.dumps(_JSON_SECRET)})],
    )
    def test_json_manifests(self, text: str) -> None:
        """``kubectl get secret -o json``, also as a tool's result inside a JSON string."""
        assert "YWRtaW4=" not in redacted(text) and "aHR0cHM6Ly94" not in redacted(text)

    @pytest.mark.parametrize(
        "text",
        [
            "kind: ConfigMap\ndata:\n  LOG_LEVEL: debug\n",
            "kind: SecretProviderClass\nspec:\n  data:\n    objectName: db\n",
            "data:\n  region: eu-west-1\nkind: Deployment\n",
        ],
    )
    def test_other_kinds_data_stays(self, text: str) -> None:
        """A ConfigMap's, a SecretProviderClass's or a Deployment's data is no secret."""
        assert secrets(text) == []

    @pytest.mark.timeout(60)  # a hang, not a speed: searched whole per item, this took minutes
    @pytest.mark.parametrize("listing", ["yaml", "json"])
    def test_a_list_of_many_secrets_is_searched_once(self, listing: str) -> None:
        """``kubectl get secrets -o yaml`` is one document with a ``kind: Secret`` per item:
        each kind searched the whole list again (2,000 items: ~45 s and 4,000,000 spans).
        Every item's value still goes, once."""
        if listing == "yaml":
            item = "- apiVersion: v1\n  data:\n    password: {v}\n  kind: Secret\n"
            text = "apiVersion: v1\nitems:\n" + "".join(
                item.format(v=f"cGFzc3dvcmQ{n:05d}") for n in range(5_000)
            )
        else:
            item = '{{"data": {{"password": "cGFzc3dvcmQ{n:05d}"}}, "kind": "Secret"}}'
            text = '{"items": [' + ", ".join(item.format(n=n) for n in range(5_000)) + "]}"
        assert secrets(text) == [f"cGFzc3dvcmQ{n:05d}" for n in range(5_000)]


_RANDOM = random.Random(31)


def _random(count: int, alphabet: str) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(count))


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
VENDOR_TOKENS = {
    "figma": "figd_" + _random(40, _ALNUM + "_-"),
    "posthog-personal": "phx_" + _random(43, _ALNUM),
    "resend": "re_" + "9dYSBUup_372aqzc7KUiUmMLrimP9w8gE",
    "elevenlabs": "sk_" + _random(48, "0123456789abcdef"),
    "airtable": "pat" + _random(14, _ALNUM) + "." + _random(64, "0123456789abcdef"),
}


class TestVendorsAndPairs:
    @pytest.mark.parametrize("token", VENDOR_TOKENS.values(), ids=VENDOR_TOKENS.keys())
    def test_a_bare_token_goes_whole(self, token: str) -> None:
        """Figma, PostHog (personal), Resend, ElevenLabs, Airtable: by their prefix and shape."""
        assert secrets(f"here you go: {token} thanks") == [token]
        assert secrets(f'client = Client("{token}")') == [token]

    @pytest.mark.parametrize(
        "text",
        [
            "phc_u4wa3BdaAvJZEoifVxYuTTXtRa79MOWL42n2NOW9C5Y",  # PostHog's public project key
            "phx_ref_previous_component_state_for_the_live_view_tracker",
            "re_compile_pattern_with_flags_and_cache",
            f'TWILIO_KEY_SID = "SK{HEX}"',
        ],
    )
    def test_public_keys_identifiers_and_sids_stay(self, text: str) -> None:
        """PostHog's public `phc_` key, identifiers sharing a prefix, a SID alone."""
        assert secrets(text) == []

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f'boto3.Session("{AWS_ID}", "{AWS_SECRET}")', [AWS_ID, AWS_SECRET]),
            (f"Access key ID,Secret access key\n{AWS_ID},{AWS_SECRET}", [AWS_ID, AWS_SECRET]),
            (f'Client("AC{HEX}", "{HEX}")', [HEX]),
            (
                f'Client("SK{HEX}", "Zx8kQ2mLp0Rt5vWyAb3dEfGh1jKlMnOp", "AC{HEX}")',
                ["Zx8kQ2mLp0Rt5vWyAb3dEfGh1jKlMnOp"],
            ),
            (f'client = Client(account_sid, "{HEX}")', [HEX]),
            (f"client = Client( TWILIO_ACCOUNT_SID, '{HEX}')", [HEX]),
        ],
    )
    def test_a_secret_by_position_after_its_id(self, text: str, expected: list[str]) -> None:
        """boto3's key id then secret, a Twilio SID then its token or key secret (the SIDs,
        being no secrets, stay)."""
        assert secrets(text) == expected

    def test_variables_by_position_stay(self) -> None:
        """Variables passed by position hold nothing to redact."""
        assert secrets("client = Client(account_sid, auth_token)") == []


class TestAuthorizationWithoutScheme:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f"Authorization: {HEX}", HEX),
            (f"curl -H 'authorization: {OPAQUE}' https://api.x", OPAQUE),
            (f'{{"headers": ["Authorization: {OPAQUE}"]}}', OPAQUE),
        ],
    )
    def test_a_bare_token_goes(self, text: str, expected: str) -> None:
        """The header's whole value is a token: no scheme word before it."""
        assert secrets(text) == [expected]

    @pytest.mark.parametrize(
        "text",
        [
            "Authorization: see-section-4-2-of-the-docs",
            "Authorization: ${API_TOKEN}",
            "Authorization: 2024-05-01T12:00:00Z",
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam",
        ],
    )
    def test_names_variables_and_dates_stay(self, text: str) -> None:
        """A slug, a variable, a date, and AWS4's scheme with its parameters."""
        assert secrets(text) == []


class TestProsePasswordsOfLetters:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("the password is correcthorsebatterystaple", "correcthorsebatterystaple"),
            ("My password is dragonfruit.", "dragonfruit"),
            ("**Password:** correcthorse", "correcthorse"),
            ("creds are admin / hunter", "hunter"),
            ("credentials: admin/letmein", "letmein"),
            ("login: admin pass: letmein", "letmein"),
            ("Username: jdoe / Password: bluemoonrising", "bluemoonrising"),
        ],
    )
    def test_after_an_explicit_cue(self, text: str, expected: str) -> None:
        """A password cue, a user and password pair, a `creds are user / password`."""
        assert secrets(text) == [expected]

    @pytest.mark.parametrize(
        "text",
        [
            "the password is stored in vault",
            "password is required",
            "the password is wrong",
            "The password is incorrect.",
            "Your password is too short",
            "the password is hashed.",
            "My password is expired, how do I reset it?",
            "the password is below:",
            "The password is managed by Vault.",
            "Password - Overview",
            "Password: REQUIRED",
            "| password | string | yes |",
            "    password: SecretStr",
            "app.password = changeme",
            "user admin pass through the proxy",
            "credentials are stored / rotated monthly",
            "das Passwort ist falsch",
        ],
    )
    def test_prose_about_a_password_stays(self, text: str) -> None:
        """Words prose and schemas put after `password`, titles, code, other languages."""
        assert secrets(text) == []


@pytest.mark.parametrize(
    "text", ["METRIC_KEY=httpRequestsTotal5xx", "EVENT_KEY=getOrdersCreated2nd"]
)
def test_a_metrics_camel_case_name_is_no_key(text: str) -> None:
    """A camelCase name starting `http`/`get` or ending `5xx`/`2nd` is a name."""
    assert secrets(text) == []


_PIECES = (
    *("INSERT INTO u (name, password) VALUES ", "('bob', 'x9y8z7')", ", ", "insert", "password "),
    *("$$", "$pw$", "E'", "s3cr3t", "kind: Secret\n", "data:\n", "  a: YWRtaW4=\n", "---\n"),
    *("gh secret set X ", "--body ", "-b ", '"v4lue"', f"AC{HEX}", f"SK{HEX}", f'"{HEX}"'),
    *(AWS_ID, AWS_SECRET, ",", "Client(", "account_sid, ", "Authorization: ", HEX, "secret"),
    *("the password is ", "hunterhunter", "creds are ", "admin / ", "pass", "sid", "key", ".key="),
    *("aws.secret", "\n", " ", "'", "(", ")", "MTA0NjY1ODk2ODY4NTc3NTk2MQ.", "abcdef.", "x" * 30),
)


def test_gates_and_shared_hints_never_change_what_is_found() -> None:
    """The new rules' gates, hints remembered missing across rules, and the regex scanned for
    Discord's starts find exactly what every regex finds over the whole text."""
    assert_gates_find_what_full_scans_find(_PIECES, 31, 5_000, 500)


def test_an_agents_conversation_through_the_sdk() -> None:
    """End to end: the new forms in a prompt and a tool's result reach the record redacted."""
    prompt = (
        "Seed the DB: INSERT INTO users (name, password) VALUES ('bob', 'Tr0ub4dor&3');\n"
        "then ALTER ROLE app WITH PASSWORD $$s3cr3tPass!$$; and the password is correcthorse\n"
        f'gh secret set DEPLOY_TOKEN --body "Zx8kQ2mLp0Rt5vWyAb"\nAuthorization: {HEX}'
    )
    manifest = _KUBECTL_YAML
    client = ofake.sync_client(
        lambda request: httpx2.Response(200, json=ofake.chat_completion("done"))
    )
    with capture_records(redact="secrets") as cap:
        client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "user", "content": prompt},
                {"role": "tool", "tool_call_id": "call_1", "content": manifest},
            ],
        )
    (record,) = cap.calls
    logged = json.dumps(record)
    for value in ("Tr0ub4dor&3", "s3cr3tPass!", "correcthorse", "Zx8kQ2mLp0Rt5vWyAb", HEX):
        assert value not in logged
    assert "cG9zdGdyZXM6" not in logged and "YWRtaW4=" not in logged
    assert "LOG_LEVEL: debug" in logged
