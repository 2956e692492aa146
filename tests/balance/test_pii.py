import pytest

from gecko_cli.balance import pii
from gecko_cli.balance.pii import KINDS, PLACEHOLDERS, scrub


def test_kinds_and_placeholders():
    assert KINDS == ("email", "phone", "rrn", "card")
    assert set(PLACEHOLDERS) == set(KINDS)


# Personal data inside Korean, English and code contexts: (text, the value that must disappear, kind).
FOUND = [
    # e-mail
    ("문의는 kim.minsu@example.co.kr 로 보내 주세요.", "kim.minsu@example.co.kr", "email"),
    ("Contact: Jane Doe <jane_doe+news@mail.example.org>.", "jane_doe+news@mail.example.org", "email"),
    ('AUTHOR_EMAIL = "dev-team@company.io"', "dev-team@company.io", "email"),
    ("담당자이메일:hong123@naver.com입니다", "hong123@naver.com", "email"),
    ("mailto:SUPPORT@Example.COM", "SUPPORT@Example.COM", "email"),
    # Korean phones
    ("연락처 010-1234-5678로 문자 주세요", "010-1234-5678", "phone"),
    ("휴대폰: 010 1234 5678", "010 1234 5678", "phone"),
    ("전화 01012345678 번으로", "01012345678", "phone"),
    ("010.9876.5432", "010.9876.5432", "phone"),
    ("(011-123-4567)", "011-123-4567", "phone"),
    ("서울 사무실 02-123-4567, 팩스 02-1234-5678", "02-123-4567", "phone"),
    ("경기 031-123-4567", "031-123-4567", "phone"),
    ("부산지사(051)123-4567", "051)123-4567", "phone"),
    ("대표번호 (02) 555-1234", "(02) 555-1234", "phone"),
    ("인터넷전화 070-1234-5678", "070-1234-5678", "phone"),
    ("고객센터 1588-1234 (평일 9시~18시)", "1588-1234", "phone"),
    ("Call +82 10-1234-5678 from abroad", "+82 10-1234-5678", "phone"),
    ("Seoul office: +82-2-123-4567", "+82-2-123-4567", "phone"),
    ('PHONE = "+821012345678"', "+821012345678", "phone"),
    # international phones
    ("Call us at +1 415 555 0132 today.", "+1 415 555 0132", "phone"),
    ("London: +44 20 7946 0958", "+44 20 7946 0958", "phone"),
    ("London: +44 (0)20 7946 0958", "+44 (0)20 7946 0958", "phone"),
    ("Office (415) 555-0132, ext. 12", "(415) 555-0132", "phone"),
    ("phone: 212-555-0147", "212-555-0147", "phone"),
    ("Paris +33 1 23 45 67 89", "+33 1 23 45 67 89", "phone"),
    # resident registration numbers
    ("주민등록번호 900101-1234567 확인", "900101-1234567", "rrn"),
    ("주민번호: 020315-3123456", "020315-3123456", "rrn"),  # born 2002: gender digit 3
    ("외국인등록번호 851231-5234567", "851231-5234567", "rrn"),
    ("000229-4123456 (2000 was a leap year)", "000229-4123456", "rrn"),
    ("rrn=9001011234568", "9001011234568", "rrn"),  # bare, with a valid checksum
    ("번호 8512312345673 입니다", "8512312345673", "rrn"),
    # cards
    ("카드번호 4111 1111 1111 1111 로 결제", "4111 1111 1111 1111", "card"),
    ("card: 4111-1111-1111-1111", "4111-1111-1111-1111", "card"),
    ('CARD = "5555555555554444"', "5555555555554444", "card"),
    ("Amex 3782 822463 10005 exp 12/27", "3782 822463 10005", "card"),
    ("JCB 3530111333300000.", "3530111333300000", "card"),
    ("UnionPay 6200000000000005", "6200000000000005", "card"),
    ("visa 13: 4222222222222", "4222222222222", "card"),
]


@pytest.mark.parametrize("text, value, kind", FOUND)
def test_personal_data_is_replaced(text, value, kind):
    out, found = scrub(text)
    assert value in text
    assert value not in out, out
    assert PLACEHOLDERS[kind] in out
    assert found.get(kind, 0) >= 1, found


# Look-alikes that must stay as they are.
KEPT = [
    "Released version 1.2.3 and v10.4.12-beta on 2024-01-15.",
    "배포일 2024.01.15, 빌드 20240115, 시각 12:30:45",
    "2024년 1월 15일 오후 3시 30분",
    "server 192.168.0.1:8080 and 10.0.0.255, port 5432",
    "ISBN 978-89-6626-123-4 and ISBN-13 9788966261234, ISBN-10 0-306-40615-2",
    "주문번호 4111 1111 1111 1112 (Luhn fails), serial 1234-5678-9012-3456",
    "x = 0xDEADBEEF; MOD = 1000000007; PI = 3.14159265358979",
    "INT64_MAX = 9223372036854775807; UINT64_MAX = 18446744073709551615",
    "ts_ms = 1700000000000; ts_ns = 1700000000000000000",
    "id = '550e8400-e29b-41d4-a716-446655440000'",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "var user01012345678 = phone_01012345678_backup",
    "가격 ₩12,000원, 총 1,234,567,890원",
    "우편번호 06236, 서울특별시 강남구",
    "9912345678901234567 is a 19-digit id, 123401012345678999 too",
    "1600-1700년대 유럽, 1800-1900 centuries",
    "git clone git@github.com:owner/repo.git",
    "@app.route('/users/<int:id>') and @pytest.mark.parametrize",
    "y = x @ w.T + b; z = a@b",
    "npm install @babel/core@7.24.0",
    "floats: 0.4111111111111111 and 12345678.901234",
    "matrix = [[1, 2, 3], [4, 5, 6]]; range(0, 1000000)",
    "RRN-like date with bad gender 900101-9234567 and bad date 901301-1234567",
    "bare 13 digits with a bad checksum 9001011234560",
    "오늘 3시에 010호 회의실에서 만나요",
    "+3.14159 and +1 2 are not phones",
    "version 2.0.1-1234-5678 build",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "float fmt: '+000000120'",
]


@pytest.mark.parametrize("text", KEPT)
def test_look_alikes_survive(text):
    out, found = scrub(text)
    assert (out, found) == (text, {})


def test_counts_and_several_kinds_in_one_text():
    text = ("담당: a@b.co.kr, 010-1111-2222, 010-3333-4444.\n카드 4111111111111111, "
            "주민 900101-1234567, mail c@d.com")
    out, found = scrub(text)
    assert found == {"email": 2, "phone": 2, "card": 1, "rrn": 1}
    assert out == ("담당: <EMAIL>, <PHONE>, <PHONE>.\n카드 <CARD>, 주민 <RRN>, mail <EMAIL>")


def test_clean_text_is_returned_as_is():
    text = "그냥 평범한 리뷰입니다. 재밌어요!"
    out, found = scrub(text)
    assert out is text and found == {}


def test_two_numbers_in_one_run_of_digits_and_spaces():
    out, found = scrub("전화 010-1234-5678 010-8765-4321 둘 다")
    assert out == "전화 <PHONE> <PHONE> 둘 다" and found == {"phone": 2}


def test_in_code():
    code = '''USERS = [
    {"name": "kim", "email": "kim@example.com", "phone": "010-1234-5678"},
]
TIMEOUT_MS = 1500000000  # not a phone
VERSION = "3.12.1"
'''
    out, found = scrub(code)
    assert found == {"email": 1, "phone": 1}
    assert "1500000000" in out and '"3.12.1"' in out


def test_validators():
    assert pii._luhn("4111111111111111") and not pii._luhn("4111111111111112")
    assert pii._rrn_date("9001011234567") and not pii._rrn_date("9002301234567")
    assert not pii._rrn_date("0202293123456")  # 2002 was not a leap year
    assert pii._rrn_checksum("9001011234568") and not pii._rrn_checksum("9001011234567")
    assert not pii._card("2444020031022000")  # 16 digits from 2444: no network
