"""A value cut off by the end of a partial output, and a password written beside its name
without ``=`` or ``:``: the cheap secrets tier finds both (llmlog._redact_password_forms)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import anthropic_fakes as afake
import openai_fakes as ofake
from llmlog._redact_detect import merge_spans
from llmlog._redact_secret_search import find_secrets
from llmlog.testing import capture_records
from test_redact_secrets import assert_gates_find_what_full_scans_find

PASSWORD = "Tr0ub4dor&3horse"
HUNTER = "hunter2horse"


def found(text: str) -> list[str]:
    """The secret values in ``text``, overlaps merged as by the detector."""
    return [text[start:end] for start, end, _ in merge_spans(find_secrets(text))]


def nested(value: Any, levels: int) -> str:
    """``value`` as JSON, encoded ``levels`` times (JSON in a JSON string in ...)."""
    text = json.dumps(value)
    for _ in range(levels - 1):
        text = json.dumps(text)
    return text


class TestValuesCutOff:
    @pytest.mark.parametrize(
        ("text", "secret"),
        [
            ('{"user": "bob", "password": "' + PASSWORD, PASSWORD),
            ('{"user":"bob","password":"' + PASSWORD[:8], PASSWORD[:8]),
            ("config: {'api_key': 'zQ9xLmP2vR7tY4wK8nB3", "zQ9xLmP2vR7tY4wK8nB3"),
            ('{"db_password": "hunter2horsebattery', "hunter2horsebattery"),
            (nested({"password": PASSWORD}, 2)[:-3], PASSWORD),
            (nested({"password": PASSWORD}, 3)[:-5], PASSWORD),
            ('{"clientSecret": "QkFNlRXpTzWv', "QkFNlRXpTzWv"),
            ("auth: { user: 'me', pass: 'app-passw", "app-passw"),
            ('{"authorization": "Zq8pL2mX', "Zq8pL2mX"),
            ("user => 'bob', password => 'hunter2h", "hunter2h"),
            ("<password>" + HUNTER[:6], HUNTER[:6]),
            ('$ app --password "correct horse', "correct horse"),
            # cut inside an escape, and after the first character
            ('{"password": "Tr0ub\\', "Tr0ub"),
            ('{"password": "T', "T"),
        ],
    )
    def test_a_value_the_text_ends_inside_is_found(self, text: str, secret: str) -> None:
        """A cancelled stream or tool arguments cut by ``max_tokens`` end inside a quoted
        value: what the text holds of it goes, as the whole value would."""
        assert found(text) == [secret]

    @pytest.mark.parametrize(
        "text",
        [
            '{"password": ',
            '{"password": "',
            '{"password": "abc"} and more',  # closed: under 4 characters is no password
            "the password was 'sent' by mail and its 'token",
            '{"token": "' + "x" * 2000,  # no credential runs so long: a stray quote
        ],
    )
    def test_what_is_no_cut_value_stays(self, text: str) -> None:
        """Nothing of a value yet, a closed short one, a quote after no name, and a run to
        the end longer than any credential are left."""
        assert found(text) == [], text


def _tool_arguments(record: dict[str, Any]) -> str:
    arguments: str = record["output"]["tool_calls"][0]["arguments"]
    return arguments


class TestPartialOutputsThroughTheSdks:
    def test_an_openai_stream_left_inside_a_password(self) -> None:
        """The app stops reading while the tool call's arguments are inside the password:
        the cancelled record's arguments hold ``<SECRET>``, not the password's start."""
        fragments = ['{"user": "bob", "pass', 'word": "', PASSWORD[:8], PASSWORD[8:], '"}']
        chunks = ofake.chat_chunks([], tool_call=("call_1", "login", fragments))
        client = ofake.sync_client(lambda _: ofake.sse_response(chunks))
        with capture_records(redact="secrets") as cap:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}], stream=True
            )
            for count, _ in enumerate(stream, 1):
                if count == 6:  # the role, the call and four fragments
                    break
            stream.close()
        [record] = cap.calls
        assert record["status"] == "cancelled"
        assert _tool_arguments(record) == '{"user": "bob", "password": "<SECRET>'
        assert PASSWORD[:8] not in json.dumps(record)

    def test_openai_tool_arguments_cut_by_max_tokens(self) -> None:
        """``finish_reason="length"``: the arguments stop inside the password."""
        arguments = '{"user":"bob","password":"' + PASSWORD
        call = {
            "id": "c",
            "type": "function",
            "function": {"name": "login", "arguments": arguments},
        }
        body = ofake.chat_completion(None, tool_calls=[call], finish_reason="length")
        client = ofake.sync_client(lambda _: ofake.json_response(body))
        with capture_records(redact="secrets") as cap:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}], max_tokens=20
            )
        [record] = cap.calls
        assert _tool_arguments(record) == '{"user":"bob","password":"<SECRET>'

    def test_an_anthropic_stream_left_inside_a_password(self) -> None:
        """The same for a Messages stream left while its tool input is inside the value."""
        events = afake.stream_events([], tool_json=['{"db_password": "', HUNTER, "battery", '"}'])
        client = afake.sync_client(afake.sse_handler(events))
        with (
            capture_records(redact="secrets") as cap,
            client.messages.stream(
                model=afake.MODEL, max_tokens=5, messages=afake.user()
            ) as stream,
        ):
            for event in stream:
                if event.type == "input_json" and "battery" in event.partial_json:
                    break
        [record] = cap.calls
        assert _tool_arguments(record) == '{"db_password": "<SECRET>'
        assert HUNTER not in json.dumps(record)


class TestPasswordBesideItsName:
    @pytest.mark.parametrize(
        "text",
        [
            f"<config><password>{HUNTER}</password></config>",
            f"<server>\n  <id>repo</id>\n  <Password>{HUNTER}</Password>\n</server>",
            f"<dbPassword>{HUNTER}</dbPassword>",
            # with attributes, or named by an attribute (.NET, Spring, Java properties)
            f'<password encrypted="false">{HUNTER}</password>',
            f'<appSettings><add key="DbPassword" value="{HUNTER}" /></appSettings>',
            f"<property name='password' value='{HUNTER}'/>",
            f'<entry key="db.password">{HUNTER}</entry>',
            f'<input type="password" value="{HUNTER}">',
            f"$ psql --host db --username app --password {HUNTER}",
            f"$ psql --host db --password={HUNTER} app",
            f"app --db-password '{HUNTER}' --verbose",
            f"app -passphrase {HUNTER}",
            f"{{ password => '{HUNTER}' }}",
            f'{{ :password => "{HUNTER}" }}',
            f"$config = array('password' => '{HUNTER}');",
            f"password\t{HUNTER}",
            f"user\tbob\nPassword\t{HUNTER}\r\nnext\trow",
            nested({"password": HUNTER}, 3),
            nested({"user": "bob", "db_password": HUNTER}, 4),
            # after non-ASCII text, lower() keeping positions (é) or not (İ)
            f"café —\n<password>{HUNTER}</password>",
            f"İstanbul\npassword\t{HUNTER}",
        ],
    )
    def test_the_value_goes(self, text: str) -> None:
        """An XML element, a command's flag, Ruby's and PHP's ``=>``, a tab-separated
        line, JSON encoded three or four times: the value goes, the name stays."""
        assert found(text) == [HUNTER]

    @pytest.mark.parametrize(
        "text",
        [
            # prose and placeholders
            "Type the password field's value, then press Enter.",
            "<password/> and <password></password> and <password> tags",
            "<password>${env.MAVEN_PASSWORD}</password> <password>***</password>",
            "<password>\n  <value>x</value>\n</password>",
            '<label for="password">Password:</label> <th class="password">Password</th>',
            '<input type="password" value=""> <input type="password" value="{{ pw }}">',
            '<input type="password" name="password" placeholder="Password">',
            '<entry key="db.password">${DB_PASSWORD}</entry> <td class="password">****</td>',
            '<field name="password" type="string" required="true"/>',
            "use the --password flag, or --password-file /run/secrets/db_password",
            "--password-stdin < token.txt; --password $PGPASS; --password <your-password>",
            "run psql --password\nthen type it; --password --host db",
            "the --password option is deprecated",
            'PIECES = ("--password ", " -u x", "--password", "")',
            'app --password "$DB_PASS" --password "${PW}" --password \'<password>\'',
            "{ password => $password, token => ENV['TOKEN'] }",
            "compass => 'north', bypass => 'around'",
            # a schema's and a table's columns
            "password\tvarchar(255)\tNO\t\tNULL\t",
            "Field\tType\npassword\tcharacter varying\npassword_hash\ttext",
            "password\tThe user's password.\npassword\trequired",
            "a\tpassword\thunter2horse\tb",
            # JSON nested with yes/no or no value
            nested({"password": None, "token": 12}, 3),
        ],
    )
    def test_look_alikes_stay(self, text: str) -> None:
        assert found(text) == [], text


PIECES = (
    *("<password>", "</password>", "<", ">", "</", ' a="b"', '"password" ', "value=", "key='"),
    *("--password", "-passphrase", "--db-pass"),
    *("--password-file", " ", "\t", "\n", "password", "Password", "PASS", "pass", "pwd"),
    *(HUNTER, "hunter", "h2", "'", '"', "\\", '\\\\\\"', "\\\\\\", ": ", " => ", "=", "$X"),
    *("{", "}", "x", "-", "_", "é", "İ", "\u017f", "\u212a", "—", "api_key", "token", "***"),
    # the command lines' rule, which now shares the hint "pass"
    *("mysql -p", "sshpass -p ", "htpasswd -b ", "docker login ", ".", "/", "my", "PASSWORD"),
)


@pytest.mark.parametrize("seed", range(4))
def test_gates_never_change_what_is_found(seed: int) -> None:
    """The new forms and cut values, gated as the rules are, find what full scans find."""
    assert_gates_find_what_full_scans_find(PIECES, seed, 4_000, 100)


@pytest.mark.timeout(60)  # a hang, not a speed: quadratic, each of these takes minutes
@pytest.mark.parametrize(
    "text",
    [
        "<password>" * 20_000,
        "<password>" + "x" * 200_000,
        "--password " * 20_000,
        "--password 1" + "x" * 200_000,
        "password\t" * 25_000,
        "\npassword\t1" + "x" * 200_000 + " y",
        "password =>" * 20_000,
        "password => '" + "x" * 200_000,
        '"password": "' + "x" * 200_000,
        '\\\\\\"password\\\\\\": \\\\\\"' * 10_000,
        '\\\\\\"password\\\\\\": \\\\\\"' + "x" * 200_000,
    ],
    ids=lambda text: repr(text[:16]),
)
def test_long_runs_are_read_in_bounded_steps(text: str) -> None:
    """200 KB of what each new form might read to its end from every start."""
    assert found(text) == []
