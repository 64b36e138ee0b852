"""Secrets a review found on disk at every level: credentials under names the rules did not
know (``HMAC_KEY=``, any ``..._KEY=`` of a .env line), passwords behind a diff's or grep's
prefix or in a Java properties file, vendors' tokens by their prefixes, credentials in more
URL query parameters, and a wallet's recovery words; and what looks like them but is not."""

from __future__ import annotations

import json
import random
import string
from pathlib import Path
from typing import Any

import httpx2
import pytest

import llmlog
import openai_fakes as ofake
from llmlog._redact_detect import merge_spans
from llmlog._redact_secret_search import find_secrets

HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
WORDS = "abandon ability able about above absent absorb abstract absurd abuse access accident"
_RANDOM = random.Random(30)
_ALNUM = string.ascii_letters + string.digits


def _random(count: int, alphabet: str = _ALNUM) -> str:
    return "".join(_RANDOM.choice(alphabet) for _ in range(count))


def found(text: str) -> list[tuple[str, str]]:
    """(entity, matched text) for each secret in ``text``, overlaps merged as by the detector."""
    return [(entity, text[start:end]) for start, end, entity in merge_spans(find_secrets(text))]


def secrets_in(text: str) -> list[str]:
    return [value for _, value in found(text)]


class TestCredentialNames:
    @pytest.mark.parametrize(
        "name",
        [
            *("AZURE_OPENAI_KEY", "OPENAI_KEY", "FERNET_KEY", "HMAC_KEY", "JWT_KEY", "AES_KEY"),
            *("CIPHER_KEY", "WEBHOOK_KEY", "SERVICE_KEY", "MAPS_KEY", "GOOGLE_KEY"),
            *("CONSUMER_KEY", "ALGOLIA_ADMIN_KEY", "SUPABASE_SERVICE_ROLE_KEY", "BUGSNAG_KEY"),
            *("DD_APPLICATION_KEY", "MY_SERVICE_KEY"),
        ],
    )
    def test_a_keys_name_on_an_env_line(self, name: str) -> None:
        """``NAME=<key>`` in a .env file, ``export``, printenv's output or a diff of one."""
        for line in (f"{name}={HEX}", f"export {name}={HEX}", f"+{name}={HEX}", f"{name}: {HEX}"):
            assert secrets_in(f"DEBUG=1\n{line}\nPORT=8080") == [HEX], line

    @pytest.mark.parametrize(
        "text",
        [
            f"hmac_key = '{HEX}'",
            f'{{"service_key": "{HEX}", "region": "eu"}}',
            f'curl -H "DD-APPLICATION-KEY: {HEX}" https://api.datadoghq.com/api/v1/validate',
            f"supabase:\n  service_role_key: {HEX}\n",
        ],
    )
    def test_the_new_names_anywhere_a_known_one_is_found(self, text: str) -> None:
        assert secrets_in(text) == [HEX]

    def test_supabase_secret_key_but_not_its_publishable_key(self) -> None:
        secret = "sb_" + "secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"
        publishable = "sb_" + "publishable_ZaZ9t4Sp2c3uGx8pQmWbFA_fQ4x3Ym2"
        assert found(f"key {secret} and {publishable}") == [("API_KEY", secret)]

    @pytest.mark.parametrize(
        "text",
        [
            "PROMPT_CACHE_KEY=user-1234-session-5678abcd",
            "CACHE_KEY=3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
            "IDEMPOTENCY_KEY=order-2024-06-01-000123",
            "PRIMARY_KEY=550e8400-e29b-41d4-a716-446655440000",
            "SORT_KEY: created_at_2024_desc_v2",
            "PARTITION_KEY=tenant_2024_eu_west_1a",
            "SSH_KEY=/home/jane/.ssh/id_ed25519",
            "TLS_KEY=certs/prod2024/server.pem",
            "GPG_KEY=settings.gpg.key2024value",
            "OPENAI_KEY=${OPENAI_KEY}",
            "STRIPE_PUBLISHABLE_KEY=pk_live_51H8dJ2Kj3Lm4No5Pq6Rs7Tu8",
            '{"prompt_cache_key": "user-1234-abcdef", "idempotency_key": "order-2024-06-01-0001"}',
            "client.responses.create(prompt_cache_key='tenant42-v2', sort_key='f2')",
            "commit 3f2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
            "request_id=550e8400-e29b-41d4-a716-446655440000",
            "the api_key field, a max_tokens=1024 limit",
        ],
    )
    def test_names_of_records_lookups_and_paths_are_left_alone(self, text: str) -> None:
        """A ``..._KEY`` of a record or a lookup, a public key, a path, a variable: not a
        credential, however random its value looks."""
        assert found(text) == []

    @pytest.mark.parametrize(
        "text",
        [
            '{"service_key": "payments-service", "port": 8080}',
            '{"admin_key": "Ctrl+Shift+A"}',
            '{"consumer_key": "group-1"}',
            '{"cipher_key": "AES-256-GCM"}',
            '{"webhook_key": "order.created"}',
            "application_key = 'billing_application_v2'",
            "SERVICE_KEY=payments-service-eu-west-1",
        ],
    )
    def test_a_service_admin_or_cipher_key_that_is_a_name_is_left_alone(self, text: str) -> None:
        """Named ``service``/``admin``/``consumer``/``cipher``/``webhook``/``application``
        key, a value is a key only if it looks like one: 16+ characters, a digit and a letter."""
        assert found(text) == []

    @pytest.mark.parametrize(
        "text",
        [
            f'{{"admin_key": "{HEX}"}}',
            f"consumerKey: '{HEX}'",
            f'{{\\"webhook_key\\": \\"{HEX}\\"}}',
            f"cipher-key={HEX} rest",
        ],
    )
    def test_a_service_admin_or_cipher_key_that_looks_like_one_goes(self, text: str) -> None:
        assert secrets_in(text) == [HEX]

    @pytest.mark.parametrize(
        "text",
        [
            "S3_KEY=uploads/2024/01/15/report_final_v2.parquet",
            "FEATURE_FLAG_KEY=new-checkout-flow-2024",
            "TRANSLATION_KEY=checkout_button_submit_v2",
            "app:\n    REDIS_KEY: user-sessions-v2-prod\n",
            "MODEL_KEY=gpt-4o-mini-2024-07-18",
            "MODEL_KEY=Qwen2.5-72B-Instruct-AWQ",
            "  - CONFIG_KEY=service-a-2024-config",
            "ASSET_KEY=images2024/hero_banner.webp",
            "GPG_KEY=7169605F62C751356D054A26A821E680E5FA6305",
            "MAINTAINER_PGP_KEY=7169605F62C751356D054A26A821E680E5FA6305",
        ],
    )
    def test_slugs_paths_model_names_and_fingerprints_are_left_alone(self, text: str) -> None:
        """Any ``..._KEY=`` line: a path, a slug or an id of words and short parts, a model's
        name, a file's name, a GPG key's (public) fingerprint are no key."""
        assert found(text) == []

    @pytest.mark.parametrize(
        "value",
        [
            HEX,
            "key_" + HEX,
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "AB12-CD34-EF56-GH78-IJ90",
            "ab12-cd34-ef56-gh78",
            "550e8400-e29b-41d4-a716-446655440000",
        ],
    )
    def test_a_key_with_slashes_or_short_parts_still_goes(self, value: str) -> None:
        """Base64 of both cases may hold a `/`; a license key's parts are no words; a UUID's
        last part is long."""
        for name in ("MY_SERVICE_KEY", "ALGOLIA_ADMIN_KEY", "HMAC_KEY", "ZENDESK_KEY"):
            assert secrets_in(f"{name}={value}") == [value], name


class TestPasswordLinesBehindAPrefix:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("--- a/.env\n+++ b/.env\n-DB_PASSWORD=changeme\n+DB_PASSWORD=bluemoon\n", None),
            ("+    password: supersecret\n", "supersecret"),
            ("+JWT_SECRET=supersecretvalue", "supersecretvalue"),
            ("+export DB_PASSWORD=supersecret", "supersecret"),
            ("$ grep -rn PASSWORD .\n./.env:3:SMTP_PASSWORD=bluemoonrising\n", "bluemoonrising"),
            ("spring.datasource.username=app\nspring.datasource.password=bluemoon\n", "bluemoon"),
            ("mail.smtp.password = bluemoonrising", "bluemoonrising"),
            ("app.jwt.secret=supersecretvalue", "supersecretvalue"),
            ("FROM python:3.12\nENV DB_PASSWORD bluemoonrising\nRUN make", "bluemoonrising"),
            ("$env:DB_PASSWORD=bluemoonrising", "bluemoonrising"),
            ("kubectl create secret generic db --from-literal=password=supersecret", "supersecret"),
        ],
    )
    def test_the_value_goes(self, text: str, secret: str | None) -> None:
        """A diff's ``+``/``-`` lines, grep's ``path:line:``, Java properties, a Dockerfile's
        ``ENV``, PowerShell's ``$env:``, kubectl's ``--from-literal`` (``None``: both values
        of the diff)."""
        assert secrets_in(text) == ([secret] if secret else ["changeme", "bluemoon"])

    @pytest.mark.parametrize(
        "text",
        [
            "spring.datasource.password=${DB_PASSWORD}\n",
            "spring.jpa.hibernate.ddl-auto=update\napp.secret.enabled=true\n",
            "self.password = password\nthis.secret = secret\n",
            "-DB_HOST=localhost\n+DB_HOST=db.internal.example.com\n",
            "./src/app.py:12:    token = get_token()",
            "ENV PATH /usr/local/bin:$PATH\nENV NODE_ENV production",
            "+    description: this value is long enough",
        ],
    )
    def test_dotted_names_variables_and_other_lines_are_left_alone(self, text: str) -> None:
        assert found(text) == []

    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ("spring.datasource.password=changeme", "changeme"),
            ("app.password=changeme", "changeme"),
            ("spring.mail.password = changeme", "changeme"),
            ("spring.datasource.password: changeme", "changeme"),
            ("mail.password = hunter22", "hunter22"),
            ("db.secret = s3cr3t_value", "s3cr3t_value"),
        ],
    )
    def test_a_properties_password_goes(self, text: str, secret: str) -> None:
        """A properties file's line: two dots or more, or no space before the sign; or a
        value with a digit."""
        assert secrets_in(text) == [secret]

    @pytest.mark.parametrize(
        "text",
        [
            "user.password = hashed_password",
            "db.secret = generate_secret",
            "user.password = new_hash\nuser.save()",
            "form.secret = request_secret",
            # one dot, spaced, a word with no digit: code's and a properties file's alike
            "app.password = changeme",
        ],
    )
    def test_code_assigning_a_variable_to_a_dotted_password_is_left_alone(self, text: str) -> None:
        """Top-level code (a script, a notebook) starts its line with a dotted name too."""
        assert found(text) == []


def _vendor_tokens() -> dict[str, str]:
    hex_digits = "0123456789abcdef"
    url_safe = _ALNUM + "_-"
    return {
        "discord": "MTA0NjY1ODk2ODY4NTc3NTk2MQ." + _random(6, url_safe) + "." + _random(38),
        "azure-ad": _random(3) + "8Q~" + _random(34, _ALNUM + "_~.-"),
        "shopify": "shp" + "at_" + _random(32, hex_digits),
        "shopify-shared": "shp" + "ss_" + _random(32, hex_digits),
        "mailgun": "key-" + "0" + _random(31, hex_digits),
        "linear": "lin_" + "api_" + _random(40),
        "pinecone": "pcsk_" + _random(6) + "_" + _random(64),
        "sonar": "squ_" + _random(40, hex_digits),
        "postman": "PMAK-" + _random(24, hex_digits) + "-" + _random(34, hex_digits),
        "grafana-sa": "glsa_" + _random(32) + "_" + _random(8, hex_digits),
        "grafana-cloud": "glc_" + "eyJvIjoiMTIzNDU2NyIsIm4iOiJzdGFjay0x" + _random(40),
        "new-relic": "NRAK-" + _random(27, string.ascii_uppercase + string.digits),
        "heroku": "HRKU-" + "-".join(_random(n, hex_digits) for n in (8, 4, 4, 4, 12)),
        "terraform": _random(14) + ".atlasv1." + _random(67),
        "pulumi": "pul-" + _random(40, hex_digits),
        "sentry": "sntrys_" + "eyJpYXQiOjE3MTYyMzkwMjJ9_" + _random(43),
        "doppler": "dp.st.prd." + _random(40),
        "netlify": "nfp_" + _random(36),
        "supabase": "sbp_" + _random(40, hex_digits),
        "planetscale": "pscale_" + "pw_" + _random(43, url_safe),
        "hugging-face-org": "api_org_" + _random(34, string.ascii_letters),
        "age": "AGE-SECRET-KEY-1" + _random(58, string.ascii_uppercase + string.digits),
        "mapbox": "sk.eyJ1IjoibWUiLCJhIjoiY2x4eXoxMjMifQ." + _random(22, url_safe),
        "square-access": "sq0" + "atp-" + _random(22, url_safe),
        "square-secret": "sq0" + "csp-" + _random(43, url_safe),
    }


VENDOR_TOKENS = _vendor_tokens()


class TestVendorTokens:
    @pytest.mark.parametrize("token", VENDOR_TOKENS.values(), ids=VENDOR_TOKENS.keys())
    def test_a_bare_token_goes_whole(self, token: str) -> None:
        """In prose and as a literal in code, with no name to say what it is."""
        assert found(f"here you go: {token} thanks") == [("API_KEY", token)]
        assert found(f'client = Client("{token}")') == [("API_KEY", token)]
        assert found(f"see ({token}).") == [("API_KEY", token)]

    @pytest.mark.parametrize(
        "text",
        [
            "sk.learn is not a package; sk.eyJ alone is a prefix, and so is sk.foo.bar",
            "a key-value store with key-based routing: key-0123 and key-abcdef",
            "PMAK- NRAK- HRKU- pul- glc_ nfp_ sbp_ are prefixes; dp.st.prd is a config",
            "MTA0NjY1ODk2.ODY4NTc3NTk2MQ is a version, Q~ a tilde",
            "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42m"
            "NkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
            "image: ghcr.io/acme/api@sha256:9b2a6b8b3c1e0f9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2",
        ],
    )
    def test_prefixes_without_their_lengths_are_left_alone(self, text: str) -> None:
        assert found(text) == []


class TestUrlQueryCredentials:
    @pytest.mark.parametrize("name", ["appid", "auth", "jwt", "session", "sid", "code", "key"])
    def test_the_value_goes(self, name: str) -> None:
        url = f"https://api.example.com/data/2.5/weather?q=Paris&{name}={HEX}&units=metric"
        assert secrets_in(url) == [HEX]
        assert secrets_in(f"GET https://api.example.com/x?{name}={HEX}") == [HEX]

    @pytest.mark.parametrize(
        "url",
        [
            "https://x.com/cb?code=short123&state=abc",
            "https://x.com/?session=abcdefghijklmnopq",
            "https://x.com/a?oauth=9f8e7d6c5b4a39281706",
            "https://x.com/a?barcode=9f8e7d6c5b4a39281706",
        ],
    )
    def test_short_values_words_and_other_names_are_left_alone(self, url: str) -> None:
        """A value needs 16 characters and a digit; a name must be the whole parameter's."""
        assert found(url) == []


class TestRecoveryPhrases:
    @pytest.mark.parametrize(
        "text",
        [
            f'MNEMONIC="{WORDS}"',
            f"SEED_PHRASE={WORDS}",
            f"wallet:\n  seed_phrase: {WORDS}\n",
            f"mnemonic = {WORDS} zoo wrong",
            json.dumps({"recoveryPhrase": WORDS}),
        ],
    )
    def test_the_words_go(self, text: str) -> None:
        [value] = secrets_in(text)
        assert WORDS in value

    def test_the_word_mnemonic_in_prose_and_an_opcodes_mnemonic_are_left_alone(self) -> None:
        assert found("a mnemonic device helps you remember twelve words: abandon ability") == []
        assert found('{"mnemonic": "mov", "operands": 2}') == []

    @pytest.mark.parametrize(
        "text",
        [
            '{"term": "Order of operations", "mnemonic": "Please Excuse My Dear Aunt Sally"}',
            '{"opcode": "0x8B", "mnemonic": "MOV r32, r/m32"}',
            'mnemonic = "mov eax, 1"',
            '{"mnemonic": "HOMES", "meaning": "Great Lakes"}',
            "- mnemonic: ROYGBIV",
            'mnemonic = "the quick brown fox jumps over the lazy dog"',
            "Mnemonic: never eat soggy waffles when you are hungry because they taste really bad"
            " at night",
            f'seed_phrase: "{WORDS.upper()}"',
        ],
    )
    def test_a_memory_aid_or_an_opcode_named_mnemonic_is_left_alone(self, text: str) -> None:
        """Only a value of 12 to 24 lower-case words of 3 to 8 letters, whole, is a wallet's."""
        assert found(text) == []

    @pytest.mark.parametrize(
        "text",
        [f"seed_phrase: '{WORDS}' # mine", f'{{\\"mnemonic\\": \\"{WORDS}\\"}}'],
    )
    def test_quoted_words_go(self, text: str) -> None:
        assert secrets_in(text) == [WORDS]


def _chat(request: httpx2.Request) -> httpx2.Response:
    return ofake.json_response(ofake.chat_completion("done"))


def test_params_named_like_a_service_key_or_a_mnemonic_are_kept(tmp_path: Path) -> None:
    """A dict key of the kinds a value must look like a key for (``service_key``...), and
    ``mnemonic``, is no credential's name: its value is searched as text, not replaced whole."""
    output = tmp_path / "calls.jsonl"
    client = ofake.sync_client(_chat)
    metadata = {
        "service_key": "payments-service",
        "admin_key": "Ctrl+Shift+A",
        "consumer_key": "group-1",
        "mnemonic": "Please Excuse My Dear Aunt Sally",
    }
    try:
        llmlog.instrument(output=str(output), redact="secrets")
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}], metadata=metadata
        )
        assert llmlog.flush(10)
    finally:
        llmlog.uninstrument()
    [record] = [json.loads(line) for line in output.read_text().splitlines()]
    assert record["params"]["metadata"] == metadata


def test_end_to_end_through_a_real_client_to_the_log_file(tmp_path: Path) -> None:
    """Through the openai SDK over a MockTransport, ``redact="secrets"``, to a file: none of
    the values is on disk; the params that merely look like names of keys are kept."""
    texts = [
        f"AZURE_OPENAI_KEY={HEX}",
        "+DB_PASSWORD=bluemoonrising",
        VENDOR_TOKENS["discord"],
        f"GET https://api.openweathermap.org/data/2.5/weather?q=Paris&appid={HEX}",
        f'MNEMONIC="{WORDS}"',
    ]
    output = tmp_path / "calls.jsonl"
    client = ofake.sync_client(_chat)
    try:
        llmlog.instrument(output=str(output), redact="secrets")
        client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": "\n".join(texts)}],
            prompt_cache_key="tenant42-onboarding-v2",
            metadata={"fernet_key": "Zm9vYmFyYmF6", "idempotency_key": "order-2024-06-01-0001"},
        )
        assert llmlog.flush(10)
    finally:
        llmlog.uninstrument()
    written = output.read_text()
    secrets = (HEX, "bluemoonrising", VENDOR_TOKENS["discord"][-20:], "abandon ability")
    for secret in (*secrets, "Zm9vYmFyYmF6"):
        assert secret not in written
    [record] = [json.loads(line) for line in written.splitlines()]
    params: dict[str, Any] = record["params"]
    assert params["prompt_cache_key"] == "tenant42-onboarding-v2"
    assert params["metadata"]["idempotency_key"] == "order-2024-06-01-0001"
    assert "AZURE_OPENAI_KEY=" in record["messages"][0]["content"]


# A re-check's false positives: camelCase names and Stripe's ids under any `..._KEY=`, and
# names and promo codes in a URL's generic parameters.
@pytest.mark.parametrize(
    "text",
    [
        "TRANSLATION_KEY=checkoutButtonLabel2",
        "EXPERIMENT_KEY=experimentBaselineV12",
        "LOCK_KEY=inventoryReservation2024",
        "QUEUE_KEY=ordersCreatedEventsV2",
        "FEATURE_FLAG_KEY: enableNewCheckout2024",
        "STATE_KEY=reduxPersistRootV3",
        "  TENANT_KEY: acmeCorpProduction01",
        "export RELEASE_KEY=release20240601build7",
        "STRIPE_PRICE_KEY=price_1MoBy5LkdIwHu7ixZhnattbh",
        "https://x.io/r?session=2024-keynote-day2-track3",
        "https://x.io/r?session=2024-spring-cohort-A",
        "https://x.io/r?code=SUMMER2024SALE50OFF",
        "https://x.io/r?code=python3_solution_v2",
        "https://x.io/r?code=int_main_return_0_v2",
        "https://x.io/r?auth=email_and_password_2fa",
        "https://x.io/r?jwt=disabled_for_localhost2",
    ],
)
def test_names_under_a_key_or_in_a_urls_generic_parameter_stay(text: str) -> None:
    assert secrets_in(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"TRANSLATION_KEY={HEX}", HEX),
        (
            "RELEASE_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        ("PRICE_KEY=sk_live_4eC39HqLyTZ2jtWsx9Q8rZbN", "sk_live_4eC39HqLyTZ2jtWsx9Q8rZbN"),
        ("LOCK_KEY=aB3dE5fG7hJ9kL1mN3pQ5rS7", "aB3dE5fG7hJ9kL1mN3pQ5rS7"),
        ("https://x.io/r?session=a8Fk2LmQ9xZ3bN7vR1tY", "a8Fk2LmQ9xZ3bN7vR1tY"),
        ("https://x.io/r?code=4/0AX4XfWhK2pL9mQ3rS5tV7", "4/0AX4XfWhK2pL9mQ3rS5tV7"),
        # `key=` takes any value, a slug's too
        ("https://x.io/r?key=2024-keynote-day2-track3", "2024-keynote-day2-track3"),
    ],
)
def test_keys_beside_those_names_still_go(text: str, expected: str) -> None:
    assert secrets_in(text) == [expected]


def test_random_keys_are_not_taken_for_camel_case_names() -> None:
    """A name is two words with a vowel and nothing a random key's: 1,000
    random base62 keys of 20 to 40 characters, a digit in each (the rule's own need), all
    stay keys."""
    keys = [_random(_RANDOM.randint(19, 39)) + _random(1, string.digits) for _ in range(1000)]
    keys = [key[-7:] + key[:-7] for key in keys]  # the digit among the rest
    missed = [key for key in keys if secrets_in(f"SERVICE_KEY={key}") != [key]]
    assert missed == []
