"""PII the ``pii`` level left, or data it took for PII: a deny-list term inside an address, values
glued to Chinese, Japanese or Korean text, addresses after ``=`` or ``>``, Unicode spaces
between a card's groups, decimals and dates taken for phone numbers, numbers glued to a path."""

from __future__ import annotations

import pytest

from llmlog._redact_detect import Detector, DetectorConfig
from llmlog._redact_operators import apply_spans, tag
from llmlog._redact_pii_text import pii_text

GITHUB_TOKEN = "gh" + "p_" + "a1" * 18


def redacted(text: str, deny: tuple[str, ...] = (), **patterns: str) -> str:
    config = DetectorConfig("pii", tuple(patterns.items()), deny)
    return apply_spans(text, Detector(config).find(text), tag)


class TestDenyListAndPatternsInsidePii:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Forward to jane.doe@acme.com now", "Forward to <EMAIL_ADDRESS> now"),
            ("cc bob.smith@acme.co.uk", "cc <EMAIL_ADDRESS>"),
            ("Acme Corp: jane@acme.com", "<DENY_LIST>: <EMAIL_ADDRESS>"),
        ],
    )
    def test_a_deny_term_in_an_address_takes_the_whole_address(
        self, text: str, expected: str
    ) -> None:
        """The term and the address overlap: their union goes, named after the longer one (the
        address), not the term alone with the rest of the address left."""
        assert redacted(text, ("Acme Corp", "Acme")) == expected

    def test_a_custom_pattern_overlapping_a_card_or_an_address(self) -> None:
        """Shorter than the card: the card goes whole, as a card. Longer than the address: the
        whole match goes, under the pattern's name."""
        text = "card 4111 1111 1111 1111, ref case-jane@example.com"
        assert redacted(text, BIN=r"\b4111\b", CASE=r"case-\S+") == "card <CREDIT_CARD>, ref <CASE>"

    def test_a_deny_term_alone_and_a_secret_over_an_address_are_as_before(self) -> None:
        """A term with no PII around it keeps its name; a token before `@host` is a key, not an
        e-mail address, whatever else overlaps it."""
        text = f"Acme's repo https://{GITHUB_TOKEN}@github.com/acme/app"
        assert redacted(text, ("Acme",)) == (
            "<DENY_LIST>'s repo https://<API_KEY>@github.com/<DENY_LIST>/app"
        )


class TestCjkText:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("请拨打+8613812345678。", "请拨打<PHONE_NUMBER>。"),
            ("联系电话+8613812345678谢谢", "联系电话<PHONE_NUMBER>谢谢"),
            ("卡号是4111111111111111\uff0c有效期12/27", "卡号是<CREDIT_CARD>\uff0c有效期12/27"),
            ("服务器IP是203.0.113.7\uff0c端口22", "服务器IP是<IP_ADDRESS>\uff0c端口22"),
            ("请发邮件到jane@example.com。", "请发邮件到<EMAIL_ADDRESS>。"),
            ("お問い合わせはjane@example.comまで", "お問い合わせは<EMAIL_ADDRESS>まで"),
            ("電話番号は+81-90-1234-5678です", "電話番号は<PHONE_NUMBER>です"),
            ("이메일은jane@example.com입니다", "이메일은<EMAIL_ADDRESS>입니다"),
            ("+82-10-1234-5678로 연락주세요", "<PHONE_NUMBER>로 연락주세요"),
            ("IPは203.0.113.7です", "IPは<IP_ADDRESS>です"),
        ],
    )
    def test_pii_glued_to_cjk_words(self, text: str, expected: str) -> None:
        """No space separates words there: the value is found, the words around it stay."""
        assert redacted(text) == expected

    @pytest.mark.parametrize("address", ["jane@例え.jp", "jane@例え.中国", "jane@mail.例え.jp"])
    def test_an_internationalized_domain_is_still_an_address(self, address: str) -> None:
        """A domain's CJK labels are kept for the e-mail check."""
        assert redacted(f"メール {address} まで") == "メール <EMAIL_ADDRESS> まで"
        assert redacted(f"邮箱是{address}\uff0c谢谢") == "邮箱是<EMAIL_ADDRESS>\uff0c谢谢"

    @pytest.mark.parametrize(
        "text",
        [
            "价格是1234元\uff0c2024年8月6日发货\uff0c订单共3件。",
            "モデルはgpt-4o-2024-08-06とclaude-sonnet-4-5-20250929です",
            "점수는 0.84441234입니다, 2024.08.06에 출시",
            "请求ID是550e8400-e29b-41d4-a716-446655440000",
        ],
    )
    def test_cjk_text_without_pii_is_left(self, text: str) -> None:
        assert redacted(text) == text

    def test_the_searched_text_keeps_every_offset(self) -> None:
        """One character for one: spans found in it are the app's text's."""
        text = "请拨打\u00a0+86\u202f138\u20111234\u20115678。メール jane@例え.jp 𠀋 café"
        searched = pii_text(text)
        assert len(searched) == len(text)
        assert searched == "    +86 138-1234-5678     jane@例え.jp   café"


class TestAddressAfterOperators:
    @pytest.mark.parametrize(
        "text",
        [
            "client_ip=203.0.113.7 status=200",
            "host=192.168.1.10 port=22",
            "<td>203.0.113.7</td>",
            "<ip>203.0.113.7</ip>",
            "connecting -> 203.0.113.7",
            "Resolved => 203.0.113.7",
            "--bind=0.0.0.0 --host=203.0.113.7",
            "ssh user@host ~ 203.0.113.7",
            "filter ip.addr==203.0.113.7 and host!=203.0.113.7",
            "server=203.0.113.7 observer_ip=192.168.1.10",
            "version=2 client_ip=203.0.113.7 host=192.168.1.10",
        ],
    )
    def test_an_address_after_an_equals_sign_or_a_bracket(self, text: str) -> None:
        assert "203.0.113.7" not in redacted(text) and "192.168" not in redacted(text)

    @pytest.mark.parametrize(
        "text",
        [
            "pip install foo==1.2.3.4",
            "bar>=1.2.3.4,<=2.0.0.1 baz~=1.2.3.4 qux!=1.2.3.4",
            '"dep": "^1.2.3.4", "other": "~1.2.3.4"',
            "v1.2.3.4, version 1.2.3.4, ver. 1.2.3.4",
            "OID 1.3.6.1.4.1.311, SNMP 1.3.6.1.2.1.1.5.0",
            "release 10.0.19045.4651",
            # a name ending in `version`, or `ver`, assigned one
            "Set AssemblyVersion=1.0.0.0 and FileVersion=1.2.3.4 in the csproj",
            "dotnet build /p:Version=2.1.0.0",
            "Chrome version=120.0.0.0 fails",
            "ver=1.2.3.4",
            "AssemblyFileVersion = 1.2.3.4, VER: 1.2.3.4",
        ],
    )
    def test_versions_and_oids_are_left(self, text: str) -> None:
        """A package manager's operator right before it still makes a version; four numbers of
        a longer dotted run are no address."""
        assert redacted(text) == text


class TestNoOnesAddress:
    @pytest.mark.parametrize(
        "text",
        [
            "git remote add origin git@github.com:acme/api.git",
            "clone ssh://git@gitlab.com/acme/api.git, then git+ssh://git@bitbucket.org/a/b",
            "uvicorn app:app --host 0.0.0.0 --port 8080; curl http://127.0.0.1:8080/health",
        ],
    )
    def test_git_remotes_and_local_addresses_are_left(self, text: str) -> None:
        """What code-review and agent prompts are full of: git's SSH user on a host, and
        addresses of no host of anyone's (every interface, this one)."""
        assert redacted(text) == text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("write to git@example.com please", "write to <EMAIL_ADDRESS> please"),
            ("jane@example.com:she wrote", "<EMAIL_ADDRESS>:she wrote"),
            ("from 10.0.0.7 and 0.0.0.1", "from <IP_ADDRESS> and <IP_ADDRESS>"),
        ],
    )
    def test_addresses_beside_them_are_still_found(self, text: str, expected: str) -> None:
        assert redacted(text) == expected


class TestUnicodeSeparators:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("card 4111\u00a01111\u00a01111\u00a01111", "card <CREDIT_CARD>"),
            ("card 4111\u20091111\u20091111\u20091111.", "card <CREDIT_CARD>."),
            ("iban DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "iban <IBAN_CODE>"),
            ("Tel +33\u202f1\u202f42\u202f68\u202f53\u202f00", "Tel <PHONE_NUMBER>"),
            ("Tel\u3000+44\u300020\u30007946\u30000958", "Tel\u3000<PHONE_NUMBER>"),
            ("ssn 512\u201144\u20117830", "ssn <US_SSN>"),
            ("call 415\u2010555\u20100132", "call <PHONE_NUMBER>"),
        ],
    )
    def test_a_no_break_space_or_unicode_hyphen_between_groups(
        self, text: str, expected: str
    ) -> None:
        assert redacted(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "total 1\u202f234\u202f567\u00a0€, count 1\u00a0234",
            "hours 09:00\u201317:30, years 1999\u20132024, pages 12\u201434",
            "gpt\u20114o\u20112024\u201108\u201106",
        ],
    )
    def test_amounts_ranges_and_names_are_left(self, text: str) -> None:
        assert redacted(text) == text


class TestNumberLookAlikes:
    @pytest.mark.parametrize(
        "text",
        [
            '{"scores": [0.42826962, 0.84441234, 0.6642090292], "p": 0.234567}',
            "Precision is 0.9234567, recall 0.87654321, delta +0.1234567, -12.3456789",
            "released 06.08.2024, due 08-06-2024, on 06/08/2024, 2024.08.06, 31.12.1999",
            "total 1234567.89 USD",
        ],
    )
    def test_decimals_and_dates_are_no_phone_numbers(self, text: str) -> None:
        assert redacted(text) == text

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("+33 1.42.68.53.00", "<PHONE_NUMBER>"),
            ("Tel: 01.42.68.53.00.", "Tel: <PHONE_NUMBER>."),
            ("call 415.555.0132 now", "call <PHONE_NUMBER> now"),
            ("[+1 415 555 0132]", "[<PHONE_NUMBER>]"),
            ("on 2024-08-06 call (415) 555-0132", "on 2024-08-06 call <PHONE_NUMBER>"),
        ],
    )
    def test_phone_numbers_with_dots_are_still_found(self, text: str, expected: str) -> None:
        """A number with two dots or more is no decimal; four of its groups are no address."""
        assert redacted(text) == expected


class TestGluedNumbersAndFileNames:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("GET /api/customers/+14155550132/orders", "GET /api/customers/<PHONE_NUMBER>/orders"),
            ("Tel.+44 20 7946 0958", "Tel.<PHONE_NUMBER>"),
            ("тел.+7 495 123-45-67", "тел.<PHONE_NUMBER>"),
            ("Telefon+49 30 901820", "Telefon<PHONE_NUMBER>"),
            ("rec_+447911123456.mp3", "rec_<PHONE_NUMBER>.mp3"),
            ("invoice_jane.doe@example.com_2024.pdf", "<EMAIL_ADDRESS>_2024.pdf"),
            ("jane.doe@acme.com_report.pdf", "<EMAIL_ADDRESS>_report.pdf"),
            ("jane@example.com_2024", "<EMAIL_ADDRESS>_2024"),
        ],
    )
    def test_a_number_after_a_path_or_word_and_an_address_in_a_file_name(
        self, text: str, expected: str
    ) -> None:
        """An international `+CC` number is glued only to a digit or a dash; no domain holds a
        `_`, so a file name's address ends there."""
        assert redacted(text) == expected

    @pytest.mark.parametrize(
        "text",
        [
            "build 1.0.0+20240806123 and id-+14155550132",
            "GET /api/customers/4155550132/orders, id_4155550132",
            "claude-sonnet-4-5-20250929, user@host.local, a@b_c",
        ],
    )
    def test_ids_builds_and_national_numbers_glued_stay(self, text: str) -> None:
        assert redacted(text) == text


@pytest.mark.timeout(60)  # a hang detector, not a speed test
@pytest.mark.parametrize(
    "text",
    [
        ("@" + "漢." * 127) * 800,
        "@漢." * 66_000,
        ".漢" * 100_000,
        "a_b.c@d_e.f." * 16_000,
        "\u00a04" * 100_000,
        "0.84441234 06.08.2024 " * 9_000,
        "a+14155550132/x=1.2.3.4" * 8_000,
    ],
)
def test_adversarial_text_is_searched_in_linear_time(text: str) -> None:
    """200 KB of what the new checks look at: CJK runs after `.` and `@`, file names with `_`,
    Unicode spaces, decimals and dates, numbers after `/` and versions."""
    Detector(DetectorConfig("pii")).find(text)
    assert len(pii_text(text)) == len(text)
