"""Passwords and keys written as prose (a support email), SQL that sets a password, and
the htpasswd and ~/.pgpass forms inside a JSON string (a tool call's arguments, a tool's
result): found by the cheap tier, and the sentences about passwords that hold none left."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

import llmlog
import openai_fakes as ofake
from llmlog._redact_detect import merge_spans
from llmlog._redact_secret_search import find_secrets
from llmlog.testing import capture_records

HEX_KEY = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def secrets(text: str) -> list[str]:
    """The values found in ``text``, overlaps merged as by the detector."""
    return [text[start:end] for start, end, _ in merge_spans(find_secrets(text))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hi, I can't log in. My password is Tr0ub4dor&3x - please help", "Tr0ub4dor&3x"),
        ("I reset it and the new password is Xk9#mPq2vL", "Xk9#mPq2vL"),
        ("My password is Summer2024! and it does not work", "Summer2024!"),
        ("my password is hunter2horse.", "hunter2horse."),
        ("Password is: Welcome123", "Welcome123"),
        ("the password will be Welcome123 until Monday", "Welcome123"),
        ("My password is now Welcome123", "Welcome123"),
        ("password - Welcome123", "Welcome123"),
        ("Password = Welcome123", "Welcome123"),
        ("temporary password: Welcome123", "Welcome123"),
        ("Password:\n  Welcome123\n", "Welcome123"),
        ("my password is 'Tr0ub4dor&3x', thanks", "Tr0ub4dor&3x"),
        ("the password is `P@ss word 9`", "P@ss word 9"),
        ("Your one-time passcode is 839201", "839201"),
        ("pw: Welcome123", "Welcome123"),
        ("PW = Welcome123", "Welcome123"),
        ("user jdoe pass Welcome123", "Welcome123"),
        ("Username: jdoe / Password: Welcome123", "Welcome123"),
        ("Benutzer: jdoe\nPasswort: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("das Passwort ist Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("mi contraseña: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("La contraseña es Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("mon mot de passe : Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("密码\uff1aTr0ub4dor&3x\uff0c谢谢", "Tr0ub4dor&3x"),
        ("我的密码是Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("パスワード: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("пароль: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        (f"Here is our API Key: {HEX_KEY}", HEX_KEY),
        (f"my API key is {HEX_KEY}", HEX_KEY),
        (f"api key {HEX_KEY}", HEX_KEY),
        (f"Secret key: {HEX_KEY}", HEX_KEY),
        (f"my secret key is {HEX_KEY}", HEX_KEY),
        (f"access key - {HEX_KEY}", HEX_KEY),
        (f"Here's the token: {HEX_KEY}", HEX_KEY),
        (f"access token {HEX_KEY}", HEX_KEY),
        (f"| API Key | {HEX_KEY} |", HEX_KEY),
        (f"the API key is '{HEX_KEY}'.", HEX_KEY),
        # in a JSON string: a message's content as a tool's arguments hold it
        (json.dumps({"note": "my password is Tr0ub4dor&3x"}), "Tr0ub4dor&3x"),
    ],
)
def test_a_password_or_key_in_prose_goes(text: str, expected: str) -> None:
    """A support email's ``my password is X``, ``API Key: X``, a table's ``| API Key | X |``,
    the same in German, Spanish, French, Chinese, Japanese, Russian."""
    assert expected in secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "the password is required",
        "Your password is incorrect. Please try again.",
        "Password is incorrect!",
        "my password is wrong!!",
        "the API key is missing",
        "The API key is invalid or has been revoked.",
        "Your password must be at least 8 characters long.",
        "Password - 8+ chars",
        "password: min. 12 characters, 2FA required",
        "The password is sha256-hashed before it is stored.",
        "The token is valid for 3600 seconds.",
        "Token: 4096 max per request",
        "the token count is 1234567",
        "access token expires_in=3600",
        "api key rotation happens every 90-days",
        "Please reset your password using the link we sent.",
        "Password: ********",
        "password: <your password here>",
        "password: ${DB_PASSWORD}",
        "password: [REDACTED]",
        "Forgot password? Click here.",
        "passwords are hashed with bcrypt",
        "The passport number is X1234567",
        "PASS: tests/test_api.py::test_v2",
        "we pass 2 arguments: user and pass",
        "The user admin passed 12 tests",
        "password = hashlib.sha256(raw).hexdigest()",
        "token = tokenizer.encode(text)[0]",
        "token: int = 50256",
        "api key: settings.openai_api_key2",
        "the token embedding_dim_1024 is fixed",
        "def check(password: str) -> bool:\n    return len(password) >= 12",
        "the eos token <|endoftext|> ends it",
        "key=2024-annual-report-final",
        "the key to success is consistency; key insight: tokens cost money",
        "Password must contain: 1 uppercase, 1 digit, 1 symbol",
        "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
        '<input type="password" name="password" placeholder="Password">',
        "Passwort vergessen? Klicken Sie hier.",
        "the password-protected file is attached",
        "Token usage: 1,234 prompt + 567 completion",
    ],
)
def test_sentences_about_passwords_and_keys_stay(text: str) -> None:
    """What a password or a key is, must be or did: no value follows its name, or the word
    after it is English, a count, a placeholder, a mask or code."""
    assert secrets(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Markdown, as a chat model answers
        ("Your login:\n- **Username:** admin\n- **Password:** Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("**Password**: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        (f"- **API Key:** {HEX_KEY}", HEX_KEY),
        (f"**Token:** {HEX_KEY}", HEX_KEY),
        # whose password, between its name and the separator
        ("The password for the staging database is Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("Password for admin: Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("password for root is Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("the password to the wifi is Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        (f"The API key for prod is {HEX_KEY}", HEX_KEY),
        (f"the token for prod is {HEX_KEY}", HEX_KEY),
        ("Das Passwort für den Server lautet Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("Das Passwort für den Server ist Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("Das Passwort lautet Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("La contraseña del servidor es Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("Le mot de passe du serveur est Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("pw is Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        # an HTML table's row
        ("<td>Password</td><td>Tr0ub4dor&3x</td>", "Tr0ub4dor&3x"),
        ("<tr><th>Password</th>\n  <td>Tr0ub4dor&3x</td></tr>", "Tr0ub4dor&3x"),
    ],
)
def test_a_password_or_key_in_an_answer_goes(text: str, expected: str) -> None:
    """The forms a chat model's answer gives one in: Markdown's bold name, the password
    *for* something, German's ``lautet``, an HTML table's cells."""
    assert secrets(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a key's sentence ends after it; a base64 key holds `/`; Heroku's API key is a UUID
        (f"Our API key: {HEX_KEY}.", HEX_KEY),
        (
            "Secret access key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
        (
            "my Heroku API key is 01234567-89ab-cdef-0123-456789abcdef",
            "01234567-89ab-cdef-0123-456789abcdef",
        ),
    ],
)
def test_a_key_is_taken_whole_and_no_more(text: str, expected: str) -> None:
    assert secrets(text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "The model token is gpt-4o-2024-08-06 for this run",
        "Use the token 'gpt-4o-mini-2024-07-18' in the model field",
        "the token is claude-3-5-sonnet-20241022",
        "token is 123e4567-e89b-12d3-a456-426614174000",
        "Access key: docs/aws/iam-setup-guide-v2.md",
        "The password for the account is reset weekly",
        "The password for your account is required",
        "the token for each request is counted",
        "The password of 8 characters is too short",
        "**Password**: ********",
        "- **Password:** <your password>",
        "<td>Password</td><td>required</td>",
        'pw = input("Password: ")',
    ],
)
def test_names_beside_no_key_stay(text: str) -> None:
    """A model's name, a UUID or a file's path after ``token``/``key``, an answer's words
    after a qualified name, masks, and code's prompt string cut off by the text's end."""
    assert secrets(text) == []


def test_an_answers_markdown_login_is_not_logged() -> None:
    """End to end: a chat model's answer listing a login in Markdown reaches the record
    with the password replaced, the list kept."""
    answer = "Your login:\n- **Username:** admin\n- **Password:** Tr0ub4dor&3x"
    client = ofake.sync_client(
        lambda request: httpx2.Response(200, json=ofake.chat_completion(answer))
    )
    with capture_records(redact="secrets") as cap:
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "the staging login?"}]
        )
    (record,) = cap.calls
    logged = json.dumps(record)
    assert "Tr0ub4dor&3x" not in logged
    assert "- **Password:** <SECRET>" in logged


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CREATE USER 'app'@'%' IDENTIFIED BY 'S3cr3t!';", "S3cr3t!"),
        ("ALTER USER 'root'@'localhost' IDENTIFIED BY 'dragonfruit';", "dragonfruit"),
        ('create user app identified by "S3cr3t!";', "S3cr3t!"),
        ("CREATE USER app IDENTIFIED BY S3cretPw9;", "S3cretPw9"),
        ("ALTER USER scott IDENTIFIED BY tiger;", "tiger"),
        (
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' IDENTIFIED BY 'S3cretPw9' "
            "WITH GRANT OPTION;",
            "S3cretPw9",
        ),
        (
            "CREATE USER 'u'@'h' IDENTIFIED BY PASSWORD '*2470C0C06DEE42FD1618BB9900DFG1E6Y89F4';",
            "*2470C0C06DEE42FD1618BB9900DFG1E6Y89F4",
        ),
        ("ALTER USER 'u'@'%' IDENTIFIED WITH mysql_native_password BY 'S3cr3t!';", "S3cr3t!"),
        ("CREATE USER 'it''s'@'%' IDENTIFIED BY 'it''s S3cret';", "it''s S3cret"),
        ("CREATE ROLE app WITH LOGIN PASSWORD 'Tr0ub4dor&3x';", "Tr0ub4dor&3x"),
        ("ALTER ROLE app WITH ENCRYPTED PASSWORD 'dragonfruit';", "dragonfruit"),
        ("CREATE ROLE app LOGIN PASSWORD 'S3cretPw9';", "S3cretPw9"),
        ("CREATE USER app WITH PASSWORD 'S3cretPw9';", "S3cretPw9"),
        (
            "create role reporting with login connection limit 5 valid until '2030-01-01' "
            "password 'dragonfruit';",
            "dragonfruit",
        ),
        ("SET PASSWORD FOR 'app'@'%' = 'S3cretPw9';", "S3cretPw9"),
        ("SET PASSWORD FOR 'app'@'%' = PASSWORD('S3cretPw9');", "S3cretPw9"),
        ("SET PASSWORD = PASSWORD('dragonfruit');", "dragonfruit"),
        ("SELECT PASSWORD('dragonfruit');", "dragonfruit"),
        # in a JSON string: a tool call's arguments
        (json.dumps({"sql": 'CREATE USER "app" IDENTIFIED BY "S3cr3t!"'}), "S3cr3t!"),
    ],
)
def test_sql_setting_a_password_goes(text: str, expected: str) -> None:
    """MySQL's ``IDENTIFIED BY`` (quoted, in a GRANT, ``BY PASSWORD``, ``WITH plugin BY``),
    Oracle's bare one, PostgreSQL's ``[ENCRYPTED] PASSWORD '...'``, ``SET PASSWORD``."""
    assert expected in secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        "CREATE USER 'app'@'%' IDENTIFIED BY %s",
        "cursor.execute(\"CREATE USER %s IDENTIFIED BY '%s'\", (user, pw))",
        "ALTER ROLE app WITH PASSWORD '{password}';",
        "CREATE USER app IDENTIFIED BY :pw",
        "ALTER USER app IDENTIFIED BY RANDOM PASSWORD;",
        "CREATE USER app IDENTIFIED WITH auth_socket;",
        "ALTER ROLE app WITH PASSWORD NULL;",
        "Each request is identified by its id and logged.",
        "Load and return a dynamic library identified by 'name'.",
        "The user identified by email gets a reset link",
        "The bug was identified by sha256",
        "each record is identified by id2",
        "The bug was identified by user123 in the sha256 step",
        "Create a user with a strong password.",
        "alter the user password policy in settings",
        "SET PASSWORD is deprecated in MySQL 8",
        "reset_password('jdoe')",
        "user.set_password(raw)",
    ],
)
def test_sql_and_prose_without_a_password_stay(text: str) -> None:
    """A driver's placeholder, a keyword (``RANDOM PASSWORD``, ``NULL``), prose's
    ``identified by`` and ``create a user``, a function named for a password."""
    assert secrets(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            json.dumps({"command": "htpasswd -bc /etc/nginx/.htpasswd admin Tr0ub4dor3x"}),
            "Tr0ub4dor3x",
        ),
        (
            json.dumps({"command": "htpasswd -b f admin Tr0ub4dor3x\nnginx -s reload"}),
            "Tr0ub4dor3x",
        ),
        (json.dumps({"command": 'htpasswd -b f admin "Tr0ub4dor3x"'}), "Tr0ub4dor3x"),
        ("sh -c 'htpasswd -nb admin Tr0ub4dor3x'", "Tr0ub4dor3x"),
        (json.dumps({"stdout": "db.internal:5432:prod:app:Pw0rd!", "exit_code": 0}), "Pw0rd!"),
        (json.dumps({"stdout": "# host:port:db:user:pw\nlocalhost:5432:*:app:Pw0rd!\n"}), "Pw0rd!"),
    ],
)
def test_tools_secrets_in_a_json_string_go(text: str, expected: str) -> None:
    """``htpasswd -b``'s last word ends at the JSON string's ``"`` or its escaped ``\\n``; a
    ~/.pgpass line starts after the string's ``"`` or an escaped ``\\n``."""
    assert expected in secrets(text)


@pytest.mark.parametrize(
    "text",
    [
        json.dumps({"command": "htpasswd -b f admin $PW"}),
        json.dumps({"command": 'htpasswd -b f admin "$PW"'}),
        json.dumps({"stdout": "INFO:12:server:main:Started server on port 8000"}),
        json.dumps({"time": "12:30:45:10:00"}),
        json.dumps({"PreferredMaintenanceWindow": "sat:10:00-sat:11:00"}),
    ],
)
def test_tools_stand_ins_in_a_json_string_stay(text: str) -> None:
    """A variable for htpasswd's password, a log's line, a time: none is a secret."""
    assert secrets(text) == []


def test_the_log_file_holds_none_of_them(tmp_path: Path) -> None:
    """End to end at level ``secrets``: a support email, SQL in a tool's result, htpasswd in
    a tool call's arguments and a ~/.pgpass line in a tool's JSON result reach the file
    redacted, the words around them kept."""
    out = tmp_path / "llm.jsonl"
    llmlog.instrument(output=str(out), redact="secrets")
    try:
        client = ofake.sync_client(
            lambda request: httpx2.Response(200, json=ofake.chat_completion())
        )
        email = f"My password is Tr0ub4dor&3x and our API Key: {HEX_KEY}. Passwort: Kx9#mPq2vL"
        arguments = json.dumps({"command": "htpasswd -bc /etc/nginx/.htpasswd admin Hh7pAss9x"})
        result = json.dumps({"stdout": "db:5432:prod:app:Pg0pass!", "exit_code": 0})
        client.chat.completions.create(
            model="gpt-4o",
            messages=[
                {"role": "user", "content": email},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "sh", "arguments": arguments},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": result},
                {"role": "user", "content": "CREATE ROLE app WITH LOGIN PASSWORD 'Sq1pass!';"},
            ],
        )
        assert llmlog.flush(30)
    finally:
        llmlog.uninstrument()
    logged = out.read_text()
    for secret in ("Tr0ub4dor&3x", HEX_KEY, "Kx9#mPq2vL", "Hh7pAss9x", "Pg0pass!", "Sq1pass!"):
        assert secret not in logged
    assert "My password is" in logged and "CREATE ROLE app WITH LOGIN PASSWORD" in logged


# A re-check's false positives: words describing a key or a password, `pw` as a width, a
# hash's name, a YAML tag or a rule's setting after `Password:`.
@pytest.mark.parametrize(
    "text",
    [
        "The token is base64url-encoded and signed with HS256.",
        "The access token is HMAC-SHA256-signed by the gateway.",
        "The API key is 32-hex-characters long.",
        "The private key is secp256k1-compatible and 32 bytes.",
        "The secret key is 256-bits-of-entropy long.",
        "The license key is AGPL-3.0-or-later compatible.",
        "| token | 4096-dimensional | embedding size |",
        "| Access key | AKIA-prefixed-20-chars | IAM |",
        "**Access token:** Bearer-JWT-RS256-signed",
        "The USDT token 0xdAC17F958D2ee523a2206206994597C13D831ec7 is an ERC-20 contract.",
        "| token | sha256_of_the_request |",
        "The token is checkoutButtonLabel2.",
        "pw = 2*np.pi*r",
        "pw = width*0.5 + pad",
        "pw: 1920px",
        "pw = 1.5e-3",
        "The password is SHA-256 hashed before storage.",
        "password: !vault |",
        "Password: min_length=12, must include a digit",
        "**Password**: v2-compatible",
        "The new password is 14-chars-long",
        "The password is: argon2id$v=19$m=65536",
    ],
)
def test_words_describing_a_key_or_a_password_stay(text: str) -> None:
    assert secrets(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"The token is {HEX_KEY}.", HEX_KEY),
        ("The access token is aB3dE5-fG7hJ9kL1mN3pQ5rS7 now", "aB3dE5-fG7hJ9kL1mN3pQ5rS7"),
        ("| Access key | AKIA4XQ2M9PLR7TZ8WNB | IAM |", "AKIA4XQ2M9PLR7TZ8WNB"),
        (
            "The private key is 0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
            "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        ),
        ("pw: Welcome123", "Welcome123"),
        ("pw = Tr0ub4dor&3x", "Tr0ub4dor&3x"),
        ("The password is Sha256Secret!", "Sha256Secret!"),
        ("password: !Vault2024x", "!Vault2024x"),
        ("The new password is 14chars-Tr0ub4dor", "14chars-Tr0ub4dor"),
    ],
)
def test_secrets_beside_those_words_still_go(text: str, expected: str) -> None:
    assert secrets(text) == [expected]
