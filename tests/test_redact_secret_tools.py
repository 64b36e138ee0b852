"""Secrets of command lines and credential files (llmlog._redact_secret_tools), as a shell
tool's output or a pasted config shows them."""

from __future__ import annotations

import json

import pytest

from llmlog._redact_detect import Detector, DetectorConfig, merge_spans
from llmlog._redact_operators import apply_spans, tag
from llmlog._redact_secret_search import find_secrets


def secrets(text: str) -> list[str]:
    """The values found in ``text``, each a ``SECRET``, overlaps merged as by the detector."""
    spans = merge_spans(find_secrets(text))
    assert {entity for _, _, entity in spans} <= {"SECRET"}, spans
    return [text[start:end] for start, end, _ in spans]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # MySQL's glued `-p<password>`
        ("mysql -u root -pS3cretPass db", ["S3cretPass"]),
        ("$ mysqldump -u root -p'secret pass' app > app.sql", ["secret pass"]),
        ('mysqladmin -uroot -p"hunter2x" status', ["hunter2x"]),
        ("docker exec -it db mysql -h 127.0.0.1 -uapp -pbluemoon app", ["bluemoon"]),
        ("mysql -h db.internal \\\n  -u app \\\n  -pCorrectHorse app", ["CorrectHorse"]),
        # sshpass, docker login, htpasswd -b
        ("sshpass -p 'secret pw' ssh deploy@host uptime", ["secret pw"]),
        ("sshpass -v -pbluemoon scp a.txt host:/tmp", ["bluemoon"]),
        ("docker login -u bob -p bluemoon registry.example.com", ["bluemoon"]),
        ("docker login --username bob --password bluemoon ghcr.io", ["bluemoon"]),
        ("htpasswd -b /etc/nginx/.htpasswd admin bluemoon", ["bluemoon"]),
        ("htpasswd -nbB admin 'blue moon' > .htpasswd", ["blue moon"]),
        ("htpasswd -c -b -C 10 .htpasswd admin bluemoon && nginx -s reload", ["bluemoon"]),
        # ~/.pgpass, first line of the text or not, `\:` escaped
        (
            "$ cat ~/.pgpass\n# hostname:port:database:username:password\n"
            "db.internal:5432:app:appuser:Tr0ub4dor&3\n*:*:*:postgres:blue_moon\n",
            ["Tr0ub4dor&3", "blue_moon"],
        ),
        ("localhost:5432:*:postgres:correcthorse", ["correcthorse"]),
        ("db.example.com:5432:mydb:alice:S3cretPw", ["S3cretPw"]),
        ("localhost:*:*:postgres:pw123456", ["pw123456"]),
        ("log:\n192.168.0.7:65535:app:app:Tr0ub4dor&3  \n", ["Tr0ub4dor&3"]),
        ("10.0.0.5:6432:app:app:pa\\:ss\\\\word\r\nok", ["pa\\:ss\\\\word"]),
        # .npmrc
        (
            "registry=https://registry.npmjs.org/\n_auth=dXNlcjpwYXNzd29yZA==\n",
            ["dXNlcjpwYXNzd29yZA=="],
        ),
        ("//registry.npmjs.org/:_authToken=npm_abcdefghijklmnop", ["npm_abcdefghijklmnop"]),
        ("//npm.pkg.github.com/:_authToken = abcdefghijklmnopqrst", ["abcdefghijklmnopqrst"]),
        (
            "npm config set //r.example/:_auth=YWRtaW46Ymx1ZW1vb24= && npm ci",
            ["YWRtaW46Ymx1ZW1vb24="],
        ),
        # .netrc, on one line or several
        ("machine api.github.com login octocat password ghs_secretvalue", ["ghs_secretvalue"]),
        ("machine example.com\n  login bob\n  password hunter2xyz\n", ["hunter2xyz"]),
        ('echo "machine ftp.example login me password bluemoon" > ~/.netrc', ["bluemoon"]),
        ("machine h.example login u port 21 password 'bluemoon'", ["bluemoon"]),
        ("machine api.github.com login octocat password ghp_xxx", ["ghp_xxx"]),
        ("machine api.github.com\nlogin octocat\npassword ghp_xxx\n", ["ghp_xxx"]),
        ("machine localhost login me password bluemoon", ["bluemoon"]),
        ("machine 10.0.0.5 login me password bluemoon", ["bluemoon"]),
        # .npmrc's lines, as a JSON string's content too
        ("_authToken=npm_abcdefghijklmnop", ["npm_abcdefghijklmnop"]),
        ('{"npmrc": "_auth=YWRtaW46Ymx1ZW1vb24="}', ["YWRtaW46Ymx1ZW1vb24="]),
        # Redis: the client's -a / --pass, redis.conf's lines, CONFIG SET
        ("redis-cli -h cache.internal -a S3cretRedis9 ping", ["S3cretRedis9"]),
        ('redis-cli --pass "my pw" info', ["my pw"]),
        (
            "bind 0.0.0.0\nrequirepass Tr0ub4dor3x\nmasterauth replicaPw7\n",
            ["Tr0ub4dor3x", "replicaPw7"],
        ),
        ('CONFIG SET requirepass "n3wPass!"', ["n3wPass!"]),
    ],
)
def test_the_password_goes(text: str, expected: list[str]) -> None:
    """MySQL's glued ``-p<password>``, ``sshpass -p``, ``docker login -p`` / ``--password``,
    ``htpasswd -b``'s last word; the password of a ``~/.pgpass`` line, ``.npmrc``'s ``_auth``
    and ``_authToken``, ``.netrc``'s ``machine ... login ... password ...``."""
    assert secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        # `-p` alone prompts (`mydb` is the database); variables, placeholders, masks, ports
        "mysql -u root -p mydb",
        "mysql -u root -p",
        'mysql -u root -p"$MYSQL_ROOT_PASSWORD" app',
        "mysql -u root -p$MYSQL_PWD app; mysql -u root -p<password>",
        "mysql -h db -P 3306 -u app --protocol=tcp",
        "mysql -u root -p**** (masked)",
        "docker run -p 3306:3306 -e MYSQL_DATABASE=app mysql:8",
        "docker login -u bob --password-stdin registry.example.com",
        "sshpass -f ~/.pw ssh -p 2222 deploy@host",
        "htpasswd -c /etc/nginx/.htpasswd admin",
        "cat /etc/nginx/.htpasswd; ls -p /var/lib/mysql",
        "the mysql -p option asks for the password",
        # colon-separated text that is no ~/.pgpass line
        "meeting at 12:30:45 today\n12:30:45\n2024-01-15 12:30:45:123",
        "01:00:00:00:12",  # a timecode: the host is a number
        "src/app.py:12:foo:bar:baz",  # grep -n: a path is no host
        "aa:bb:cc:dd:ee:ff\n00:1a:2b:3c:4d:5e",  # MAC addresses
        "# hostname:port:database:username:password",
        "db:5432:app:user:pass:extra",  # six fields
        "WARNING:root:5:x:y",
        # a log's and a linter's lines: a space in the last field, a port out of range
        "INFO:12:server:main:Started server on port 8000",
        "app.py:12:E501:line:too long",
        "host:70000:app:user:secret99",
        "host:0:app:user:secret99",
        "my_host:5432:app:user:secret99",  # `_` is no hostname's
        "*:*:*:postgres:blue moon",
        # .npmrc's variables, code's `_auth`
        "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
        "self._auth = auth_from_env\n_auth = get_auth()",
        "client(_auth=token_value123)",
        "requests.get(url, _auth=auth_handler)",
        "session = Session(_auth=auth_handler, timeout=5)",
        "x _authToken=abcdefghijklmnop",
        # prose's machines, a variable
        "the machine room password reset is due",
        "a machine learning login password policy",
        "Our machine learning login portal password policy requires 12 characters.",
        "machine learning\nlogin portal\npassword policy",
        "machine a.b loginx u password bluemoon",
        "machine example.com login bob password $NETRC_PASSWORD",
        # Redis: a variable, the prompting option, prose about the directive
        "redis-cli -a $REDIS_PASSWORD ping",
        "redis-cli --askpass",
        "requirepass ${REDIS_PASSWORD}",
        "Set the requirepass directive in redis.conf.",
    ],
)
def test_look_alikes_stay(text: str) -> None:
    assert secrets(text) == [], text


def test_json_escaped_tool_results() -> None:
    """A shell tool's result as JSON text: the passwords go, the JSON stays JSON (an escaped
    line's end, `\\n` or the closing quote, is no part of a password)."""
    output = (
        "_auth=YWRtaW46Ymx1ZW1vb24=\n$ mysql -u root -pS3cretPass -e 'show databases'\n"
        "$ cat ~/.pgpass\n"
        "db:5432:app:app:Tr0ub4dor&3\nh:5432:*:u:blue_moon\n$ cat ~/.netrc\n"
        "machine h.example login u password bluemoon\n"
    )
    for text in (json.dumps({"output": output}), json.dumps({"output": output.rstrip()})):
        spans = Detector(DetectorConfig(level="secrets")).find(text)
        assert [text[start:end] for start, end, _ in spans] == [
            *("YWRtaW46Ymx1ZW1vb24=", "S3cretPass", "Tr0ub4dor&3", "blue_moon", "bluemoon")
        ]
        assert json.loads(apply_spans(text, spans, tag))["output"].count("<SECRET>") == 5


@pytest.mark.timeout(60)  # a hang, not a speed: quadratic, each of these takes minutes
@pytest.mark.parametrize(
    "text",
    [
        "mysql " * 35_000,
        "mysql -u" + " -x" * 70_000,
        "docker login " * 16_000,
        "sshpass -v" * 20_000,
        "sshpass" + " -P x" * 50_000,
        "htpasswd -b" * 20_000,
        "htpasswd -b -n" + " x" * 100_000,
        "\na:1:b:c:" * 25_000,
        "\n" + "a" * 200_000,
        "a:1:b:c:" + "x" * 200_000,
        "x:1" + ":y" * 100_000,
        "_auth=" * 35_000,
        "/:_authToken=" + "x" * 200_000,
        "machine " * 25_000,
        "machine x login " * 13_000,
        "machine x" + " login y" * 25_000,
        "machine a." + "b." * 100_000,
        "machine a.b" + " login y" * 25_000,
        "\n_auth=" * 30_000,
        "\na.b:5432:c:d:" + "x" * 200_000 + " y",
        '{pass: "' + "x" * 200_000,
        # the rules added with these in llmlog._redact_secrets: Discord's, object keys'
        "discord.com/api/webhooks/" * 8_000,
        "discord.com/api/webhooks/123456789012345678/" + "a" * 200_000,
        "/webhooks/" * 20_000,
        "clientSecret: " * 15_000,
        "aSecret:'" + "x" * 200_000,
        ", pass: 'x\n" * 18_000,
        '\n  pass: "' * 20_000,
        ",pass:" * 35_000,
        '"auth": "' * 20_000,
        '\\"auth\\": \\"' + "QUJD" * 50_000,
        "redis-cli -a" * 20_000,
        "\nrequirepass" * 20_000,
        "CONFIG SET requirepass $X " * 8_000,
        # one identifier full of a rule's hints: its start was walked back to per hint
        "- " + "pass" * 50_000,
        "-" + "mysql" * 40_000,
        # prose's names in one run of characters: each value's test read the run to its end
        "pw:" * 70_000,
        "**Password**: " * 15_000,
        "password for a b c d " * 10_000,
        "<td>Password</td>" * 12_000,
        "token: " + "a/" * 100_000,
        # names that look like keys (llmlog._redact_value_shapes) and prose's refusals
        "\nLOCK_KEY=" + "checkoutButton2" * 14_000,
        "\nLOCK_KEY=" * 20_000,
        "?code=" + "SALE" * 50_000,
        "?session=" + "spring-cohort-" * 15_000,
        "?jwt=" * 35_000,
        "The token is " + "base-" * 40_000,
        "The token is " + "aBcdefg" * 30_000,
        "pw:" + " 1.5e" * 40_000,
        "The password is " + "sha-" * 50_000,
    ],
    ids=lambda text: repr(text[:16]),
)
def test_long_runs_are_read_in_bounded_steps(text: str) -> None:
    """200 KB of what each rule might read to its end from every start."""
    assert merge_spans(find_secrets(text)) == []


@pytest.mark.timeout(60)  # a hang, not a speed
@pytest.mark.parametrize(
    "text",
    [
        "?code=" + "SALE50" * 35_000,
        "?session=" + "spring-2024-" * 17_000,
        "The token is 0x" + "a" * 200_000,
        "pw: " + "w*" * 100_000,
        "pw = " + "1" * 200_000,
        "Password: " + "min_" * 50_000 + "=1",
        "Password: !" + "a" * 200_000 + "1",
    ],
    ids=lambda text: repr(text[:16]),
)
def test_long_secrets_like_names_are_read_in_bounded_steps(text: str) -> None:
    """200 KB of what the refusals of names (a slug, a width, a setting) might read to its
    end from every start; the value itself, too long to be a name, goes."""
    assert merge_spans(find_secrets(text)) != []
