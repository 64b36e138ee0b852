"""A planted corpus for redaction accuracy: values that must go, look-alikes that must stay.

Each planted case is ``(entity, template, value)``: ``template.format(v=value)``
is the text, and after redaction it must read ``template.format(v=f"<{entity}>")``
exactly, i.e. the whole value replaced and nothing around it touched.

The secrets are random (seeded) and assembled from parts, so this file holds no
string a secret scanner would take for a real credential.
"""

from __future__ import annotations

import base64
import random
import string

_rng = random.Random(20261122)
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def _b64url(data: str) -> str:
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


_JWT = ".".join(
    (
        _b64url('{"alg":"HS256","typ":"JWT"}'),
        _b64url('{"sub":"1234567890","name":"Test","iat":1516239022}'),
        _rand(43, _ALNUM + "-_"),
    )
)
_PEM = (
    "-----BEGIN "
    + "RSA PRIVATE KEY-----\n"
    + "\n".join(_rand(64, _ALNUM + "+/") for _ in range(4))
    + "\n-----END "
    + "RSA PRIVATE KEY-----"
)

# (entity, template, value): caught at level `secrets` and above.
SECRETS: list[tuple[str, str, str]] = [
    ("API_KEY", "client = OpenAI(api_key={v!r})", "sk-" + "proj-" + _rand(48, _ALNUM + "_-")),
    ("API_KEY", "old key: {v}", "sk-" + _rand(48)),
    ("API_KEY", "ANTHROPIC_API_KEY={v}", "sk-" + "ant-api03-" + _rand(93, _ALNUM + "_-") + "AA"),
    (
        "API_KEY",
        "aws id {v} in us-east-1",
        "AK" + "IA" + _rand(16, string.ascii_uppercase + "234567"),
    ),
    ("API_KEY", "git clone https://{v}@github.com/acme/app.git", "gh" + "p_" + _rand(36)),
    ("API_KEY", "token is {v}", "github" + "_pat_" + _rand(22) + "_" + _rand(59)),
    (
        "API_KEY",
        "slack bot {v} posts here",
        "xo" + "xb-" + _rand(12, string.digits) + "-" + _rand(24),
    ),
    ("API_KEY", "maps key: {v}.", "AI" + "za" + _rand(35, _ALNUM + "_-")),
    ("API_KEY", "stripe.api_key = '{v}'", "sk" + "_live_" + _rand(24)),
    ("JWT", "cookie session={v}; Path=/", _JWT),
    ("BEARER_TOKEN", "curl -H 'Authorization: Bearer {v}'", _rand(20) + "9" + _rand(11)),
    ("PRIVATE_KEY", "deploy key:\n{v}\nthanks", _PEM),
    ("SECRET", "DB_PASSWORD={v}", "hunter2" + _rand(6)),
    ("SECRET", '{{"username": "bob", "password": "{v}"}}', "c0rrect horse battery"),
    ("SECRET", "aws_secret_access_key = {v}", _rand(40, _ALNUM + "/+")),
    ("SECRET", "postgres://app:{v}@db.internal:5432/prod", "s3cr3t-" + _rand(8)),
    ("SECRET", "SECRET_KEY = '{v}'", "django-insecure-" + _rand(20)),
    ("SECRET", '{{"dbPassword": "{v}"}}', _rand(12)),
    ("SECRET", 'os.environ["DB_PASSWORD"] = "{v}"', _rand(12)),
    ("API_KEY", "slack app {v}", "xa" + "pp-1-" + _rand(11) + "-" + _rand(13, string.digits)),
    ("API_KEY", "gitlab-runner register --token {v}", "gl" + "rt-" + _rand(24, _ALNUM + "_")),
    ("API_KEY", "STRIPE_WEBHOOK_SECRET {v}", "wh" + "sec_" + _rand(32)),
    ("BEARER_TOKEN", "Authorization: Basic {v}", base64.b64encode(b"bob:hunter2").decode()),
    # right after a JSON escape: "\n" is no word boundary to a regex, "n" is a letter
    ("API_KEY", r'{{"env": "DEBUG=1\n{v}"}}', "sk-" + "ant-api03-" + _rand(93, _ALNUM) + "AA"),
    ("API_KEY", "https://x.example/cb%3Fkey%3D{v}", "sk-" + "proj-" + _rand(40)),
    # escaped by another JSON encoder: Go (\u003c), .NET (\u0022), Python (non-ASCII), PHP (\/)
    ("API_KEY", r'{{"note": "\u003c{v}\u003e"}}', "sk-" + "proj-" + _rand(40)),
    ("SECRET", r'{{"c": "{{\u0022apiKey\u0022:\u0022{v}\u0022}}"}}', _rand(16)),
    ("API_KEY", r'{{"k": "API\u5bc6\u94a5\uff1a{v}"}}', "gh" + "p_" + _rand(36)),
    ("SECRET", r'{{"cfg": "password\uff1a{v}"}}', "Zq8" + _rand(8)),
    ("SECRET", r'{{"dsn": "postgres:\/\/app:{v}@db.internal:5432\/prod"}}', "S3cret" + _rand(6)),
    ("SECRET", r'{{"u": "https://x/cb?state=1\u0026token={v}"}}', "a8f3" + _rand(16)),
    ("SECRET", "next=postgres%3A%2F%2Fapp%3A{v}%40db.internal%2Fprod", "S3cret" + _rand(6)),
    # vendor formats
    ("API_KEY", "My Groq key is {v} ok", "gs" + "k_" + _rand(52)),
    ("API_KEY", "xAI: {v}", "xa" + "i-" + _rand(80)),
    ("API_KEY", "perplexity {v}", "pp" + "lx-" + _rand(48)),
    ("API_KEY", "replicate: {v} ;", "r8" + "_" + _rand(37)),
    ("API_KEY", "tavily {v}", "tv" + "ly-" + _rand(32)),
    (
        "API_KEY",
        "langsmith {v}",
        "lsv2" + "_pt_" + _rand(32, "0123456789abcdef") + "_" + _rand(10, "0123456789abcdef"),
    ),
    ("API_KEY", "openrouter {v}", "sk-" + "or-v1-" + _rand(64, "0123456789abcdef")),
    ("API_KEY", "gcloud auth print-access-token -> {v}", "ya" + "29." + _rand(140, _ALNUM + "_-")),
    ("API_KEY", "OAuth client secret {v}", "GOC" + "SPX-" + _rand(28, _ALNUM + "_-")),
    (
        "API_KEY",
        "twine upload -p {v} dist/*",
        "pypi-" + "AgEIcHlwaS5vcmc" + _rand(150, _ALNUM + "_-"),
    ),
    (
        "API_KEY",
        "databricks configure --token {v}",
        "da" + "pi" + "7" + _rand(31, "0123456789abcdef"),
    ),
    ("API_KEY", "jira {v}", "ATA" + "TT3xFfGF0" + _rand(180, _ALNUM + "_-")),
    ("API_KEY", "doctl auth init -t {v}", "do" + "p_v1_" + _rand(64, "0123456789abcdef")),
    ("API_KEY", "vault {v}", "hv" + "s." + "7" + _rand(90, _ALNUM + "_-")),
    ("API_KEY", "notion {v}", "nt" + "n_" + _rand(46)),
    ("API_KEY", "telegram bot {v}", "7123456789:" + "AA" + _rand(33, _ALNUM + "_-")),
    (
        "API_KEY",
        "gitlab {v}",
        "gl"
        + "pat-"
        + _rand(27, _ALNUM + "_-")
        + ".01.0w"
        + _rand(7, "0123456789abcdefghijklmnopqrstuvwxyz"),
    ),
    # assigned passwords with no digit, or `;` `,` `.` in them
    ("SECRET", "Server=tcp:sql1,1433;User ID=admin;Password={v};Encrypt=True;", "correcthorse"),
    ("SECRET", "DB_USER=app\nDB_PASSWORD={v}\n", "supersecretpassword"),
    ("SECRET", "JWT_SECRET={v}", "imaginaryllamawhisper"),
    ("SECRET", "spring:\n  datasource:\n    password: {v}\n", "bluemoonrising"),
    ("SECRET", "DB_PASSWORD={v}\nDEBUG=1", "Xy9!a;Bc7$dEfGh"),
    ("SECRET", "export REDIS_PASSWORD={v}", "Summer.Sun.Rise2024"),
    ("SECRET", "curl -H 'Cookie: theme=dark; sessionid={v}' https://app.example/", _rand(32)),
    ("SECRET", "Set-Cookie: connect.sid={v}; Path=/; HttpOnly", "s%3A" + _rand(40)),
    ("SECRET", "https://mcp.example.com/sse?key={v}", _rand(40)),
]

# (entity, template, value): caught at level `pii` and above.
PII: list[tuple[str, str, str]] = [
    ("EMAIL_ADDRESS", "attached {v}.pdf to the ticket", "jane.doe@example.com"),
    ("EMAIL_ADDRESS", "saved as {v}.docx", "jane@example.co.uk"),
    ("EMAIL_ADDRESS", "sent {v}.tar.gz to the ticket", "jane@example.com"),
    ("EMAIL_ADDRESS", "Contact {v} for details.", "john.smith@example.com"),
    ("EMAIL_ADDRESS", "<{v}>", "Maria.Garcia+newsletter@mail.example.co.uk"),
    ("EMAIL_ADDRESS", "cc: {v}, thanks", "a.b-c_d@sub.domain.io"),
    ("EMAIL_ADDRESS", "USER: {v}", "ANNA.K@EXAMPLE.ORG"),
    ("EMAIL_ADDRESS", "mailto:{v}?subject=hi", "ops@acme-corp.com"),
    ("PHONE_NUMBER", "Call me at {v} tomorrow.", "+1 415-555-0132"),
    ("PHONE_NUMBER", "US office {v}.", "(212) 555-0147"),
    ("PHONE_NUMBER", "toll free {v}", "1-800-555-0199"),
    ("PHONE_NUMBER", "my cell is {v}", "415 555 0132"),
    ("PHONE_NUMBER", "London: {v}", "+44 20 7946 0958"),
    ("PHONE_NUMBER", "UK landline {v}", "020 7946 0958"),
    ("PHONE_NUMBER", "UK mobile {v}", "07700 900123"),
    ("PHONE_NUMBER", "Berlin {v}", "+49 30 901820"),
    ("PHONE_NUMBER", "Handy {v}", "0151 23456789"),
    ("PHONE_NUMBER", "Paris {v}", "+33 1 42 68 53 00"),
    ("PHONE_NUMBER", "Sao Paulo {v}", "+55 11 91234-5678"),
    ("PHONE_NUMBER", "Mumbai {v}", "+91 98765 43210"),
    ("CREDIT_CARD", "card {v} exp 09/27", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "Visa {v}", "4012888888881881"),
    ("CREDIT_CARD", "MC {v}", "5500-0000-0000-0004"),
    ("CREDIT_CARD", "amex {v}", "3782 822463 10005"),
    ("CREDIT_CARD", "https://shop.example/pay?card={v}&exp=1229", "6011111111111117"),
    ("IBAN_CODE", "IBAN: {v}", "DE89 3704 0044 0532 0130 00"),
    ("IBAN_CODE", "pay to {v} please", "GB82WEST12345698765432"),
    ("IBAN_CODE", "lower case {v}", "fr1420041010050500013m02606"),
    ("IBAN_CODE", "NL account {v}.", "NL91 ABNA 0417 1643 00"),
    ("US_SSN", "SSN {v} on file", "512-44-7830"),
    ("US_SSN", "social security number: {v}", "536-22-8726"),
    ("US_SSN", "ssn:{v}", "512447830"),
    ("US_SSN", "SSN {v} (the sample number)", "123-45-6789"),
    ("PHONE_NUMBER", "chat with us on https://wa.me/{v} today", "447911123456"),
    # short codes said to be one: too short for any other rule
    ("SECRET", "Card ending 4242, PIN: {v}", "4821"),
    ("SECRET", "card_pin={v}", "4821"),
    ("SECRET", "CVV: {v}, expiry 12/29", "123"),
    ("SECRET", "Your OTP code is {v}.", "482913"),
    ("SECRET", '{{"cvc2": "{v}"}}', "077"),
    ("SECRET", "passcode = {v}", "90210"),
    ("SECRET", "OTP: {v}", "482 913"),
    ("SECRET", "Your OTP code is {v}.", "482-913"),
    ("SECRET", "your OTP is: {v}", "482913"),
    ("US_ITIN", "ITIN {v}", "912-70-1234"),
    ("IP_ADDRESS", "server at {v} is down", "203.0.113.42"),
    ("IP_ADDRESS", "ssh from {v} port 22", "10.0.0.7"),
    ("IP_ADDRESS", "ipv6 {v} ok", "2001:db8::8a2e:370:7334"),
    ("IP_ADDRESS", "https://[{v}]:443/", "fe80::1ff:fe23:4567:890a"),
    ("CRYPTO", "send BTC to {v}", "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"),
    ("CRYPTO", "segwit {v}", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
    ("CRYPTO", "pay to {v} on mainnet", "0x52908400098527886E0F7030069857D2E4169EE7"),
    ("CREDIT_CARD", "Mastercard {v}", "2223 0031 2200 3222"),
    ("EMAIL_ADDRESS", "404 Not Found: GET /users/{v}", "jane.roe@example.com"),
    ("PHONE_NUMBER", r'{{"text": "call me\n{v}"}}', "+44 20 7946 0958"),
]

# Texts that must come out unchanged at every level.
LOOK_ALIKES: list[str] = [
    # a package at a version, not an address with a file's extension
    "installed pkg@2.1.0.tgz and left@x.pdf",
    # pins that are no codes
    "pin 13 is 5V; GPIO pin 12 high; pins: 40",
    "spin: 1234, ping: 1234, Pin: 3, shopping: 4821",
    # cards failing Luhn, IBANs failing mod-97
    "test card 4111 1111 1111 1112 was declined",
    "card 5500-0000-0000-0005 invalid",
    "iban GB82 WEST 1234 5698 7654 33 is wrong",
    "DE89370400440532013001 has a bad checksum",
    # versions
    "upgrade to version 1.2.3.4 now",
    "released v2.14.3 and v1.2.3.4",
    "pip install numpy==1.26.4 requests>=2.31.0",
    "Python 3.11.9 on Windows build 10.0.19045.3803",
    # model names
    "model=gpt-4o-2024-08-06",
    "using claude-sonnet-4-5-20250929 and claude-3-5-sonnet-20241022",
    "gpt-4.1-mini-2025-04-14, o3-mini-2025-01-31, text-embedding-3-large",
    "claude-opus-4-1-20250805 vs gemini-1.5-pro-002",
    # timestamps and ids
    "started 2024-08-06T12:34:56.789123Z, done 2026-11-22 20:51:55+00:00",
    "at 12:34:56.789 on 2025-01-31",
    "request_id 550e8400-e29b-41d4-a716-446655440000",
    "x-request-id: req_011CUabcDEF123ghi456JKL",
    "id chatcmpl-AbC123xyzDEF456 and msg_01XFDUDYJgAACzvnptvVoYEL",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    # code
    "std::vector<int> v; Foo::bar(); e::f; a::b::c",
    "def f(token: str) -> str:\n    return token",
    'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
    "resp = client.chat.completions.create(max_tokens=4096, temperature=0.2)",
    "for i in range(1000000): x = arr[12345678] + 0x7fffffff",
    "git checkout 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "listen on port 8080, timeout=30, retries=3",
    "password = getpass.getpass()",
    "token = settings.token",
    "SECRET_KEY = get_random_secret_key()",
    "dbPassword = request.form['password']",
    'df["token_count"] = 12345678',
    "task-runner-service-deployment-v2 is healthy",
    # numbers
    "usage: 1234 input tokens, 567 output, cost $0.0023, latency 1234.567 ms",
    "ratio 3:4 at 09:30",
    # names of passwords without one
    "the password is required",
    "Secret: patience, and a little luck",
    "secret: collaboration",
    "let secret=randomWord;",
    "password: see below",
    "Password: required",
    "class Login(BaseModel):\n    password: SecretStr\n    secret: str",
    "PWD=/home/alice/project\nOLDPWD=/home/alice",
    "client.login(\n    user=user,\n    password=password\n)",
    "password: ${DB_PASSWORD}",
    "Set-Cookie: theme=dark; Path=/",
    "// JS: this.password=value; return",
    # prefixes of vendor keys, without the key
    "the dapi endpoint and ya29. tokens, hvs. tokens, gsk_ keys",
    "secret_sauce_recipe_version_two_of_the_year and r8_cache",
    "call 12345678:AA later",
    "50% off, 100%ABC, 2+2=4",
]
