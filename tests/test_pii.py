"""The PII filter (chapter 1a's `scrub_text`): it cleans the training data, chapter 6's `pii_hits` and chapter 7's outgoing
replies, so one table checks it for all three. Every shape in `PII` must become its placeholder (Russian and English,
Unicode tricks included), and as many ordinary look-alikes in `ORDINARY` (dates, times, prices, order numbers, versions,
counts) must pass untouched.

The values are checked by independent references where one exists: python-stdnum for IBANs, Luhn and INN,
libphonenumber for the phones, and the SNILS checksum written out here from its published rule.

Planted defects that make these tests fail (each was tried): libphonenumber switched off (`PhoneNumberMatcher` finding
nothing) fails the dotted and glued phones; `_fold` returning its input fails the en-dash, NBSP, zero-width and full-width
rows; `PHONE_REGIONS = ('US',)` fails `тел89161234567`; a check that always says yes (`_card_kind`, `_iban_kind`,
`_inn_kind`, `_snils_kind`, `_account_kind`) fails at least one look-alike each."""
import re
import unicodedata
from collections import Counter

import pytest

from llmclone_nb.samples import PLACEHOLDERS, scrub_text

ZW, NBSP, NBH, EN = '\u200b', '\u00a0', '\u2011', '\u2013'

PII = [  # (text, what it must become)
    # phones: separators, Unicode, glued to a word, messenger links
    ('call me at 202.555.0143 tonight', 'call me at [PHONE] tonight'),
    (f'мой новый +7 916 555{EN}01{EN}23, звони', 'мой новый [PHONE], звони'),
    (f'номер 8{NBSP}916{NBSP}555{NBSP}01{NBSP}23', 'номер [PHONE]'),
    (f'my cell is 415{NBH}555{NBH}0132', 'my cell is [PHONE]'),
    (f'+7{ZW}916{ZW}555{ZW}01{ZW}23 это мама', '[PHONE] это мама'),
    ('звони на ＋７ ９１６ ５５５ ０１ ２３', 'звони на [PHONE]'),
    ('тел89161234567', 'тел[PHONE]'),
    ('call+14155550132 asap', 'call[PHONE] asap'),
    ('пиши в вотсап wa.me/79161234567', 'пиши в вотсап [PHONE]'),
    ('text me https://wa.me/14155550132', 'text me [PHONE]'),
    ('t.me/+79035550199 это я', '[PHONE] это я'),
    ('office: (212) 555-0199', 'office: [PHONE]'),
    ('звони 9161234567', 'звони [PHONE]'),
    ('переведи 1 500 ₽ на +7 916 555-01-23', 'переведи 1 500 ₽ на [PHONE]'),
    # emails: spelled out, Cyrillic domain, invisible or full-width characters
    ('пиши x [at] mail [dot] ru', 'пиши [EMAIL]'),
    ('ivan.petrov (at) yandex (dot) ru', '[EMAIL]'),
    ('почта ivan собака mail точка ru', 'почта [EMAIL]'),
    ('пиши на почта@пример.рф', 'пиши на [EMAIL]'),
    (f'mail me: kate{ZW}.orlova@example.org', 'mail me: [EMAIL]'),
    ('ivan＠mail.ru', '[EMAIL]'),
    # cards: dots, zero-width spaces, full-width digits
    ('карта 4111.1111.1111.1111', 'карта [CARD]'),
    (f'card 5500{ZW}0000{ZW}0000{ZW}0004', 'card [CARD]'),
    ('карта ４２４２ ４２４２ ４２４２ ４２４２', 'карта [CARD]'),
    ('amex 3782.822463.10005', 'amex [CARD]'),
    # IBANs in lowercase or with dashes; Russian 20-digit accounts
    ('iban gb82 west 1234 5698 7654 32', 'iban [IBAN]'),
    ('IBAN: DE89-3704-0044-0532-0130-00', 'IBAN: [IBAN]'),
    ('р/с 40817810099910004312', 'р/с [ACCOUNT]'),
    ('счёт 4070 2810 9000 0000 1234', 'счёт [ACCOUNT]'),
    ('send it to 40817840099910004312 pls', 'send it to [ACCOUNT] pls'),
    ('IBAN FR14 2004 1010 0505 0001 3M02 606', 'IBAN [IBAN]'),
    ('карта №4111 1111 1111 1111', 'карта №[CARD]'),
    # INN, SNILS, passports
    ('мой ИНН 500100732259', 'мой ИНН [ID]'),
    ('INN: 7707083893', 'INN: [ID]'),
    ('СНИЛС 112-233-445 95', 'СНИЛС [ID]'),
    ('snils 11223344595', 'snils [ID]'),
    ('вот он: 112-233-445 95', 'вот он: [ID]'),
    ('паспорт 45 08 123456', 'паспорт [ID]'),
    ('паспорт серия 4508 номер 123456', 'паспорт серия [ID]'),
    ('passport no. 533380006', 'passport no. [ID]'),
    # passwords without a colon
    ('пароль hunter2', 'пароль [SECRET]'),
    ('пароль от вайфая qwerty123', 'пароль от вайфая [SECRET]'),
    ('my password is sunshine', 'my password is [SECRET]'),
    ('the password is Tr0ub4dor&3.', 'the password is [SECRET].'),
    ('мой пароль это котик2024', 'мой пароль это [SECRET]'),
    # PIN and SMS codes
    ('код 4821', 'код [SECRET]'),
    ('PIN 1234', 'PIN [SECRET]'),
    ('your code is 123456', 'your code is [SECRET]'),
    ('код из смс 482913', 'код из смс [SECRET]'),
    ('пин-код 0000', 'пин-код [SECRET]'),
    ('verification code: 774 219', 'verification code: [SECRET]'),
    ('cvv 123', 'cvv [SECRET]'),
]

ORDINARY = [  # must pass untouched
    'встреча 03.12.2026 в 18:30', 'deadline 2026-12-03', 'в 18:30 у входа', 'цена 1 500 ₽', 'it was $1,299.99',
    'заказ № 123456789', 'order #100234567 shipped', 'в 2019 году', 'Python 3.11.7', "I'll be there in 15 min",
    'сделал 200 отжиманий, 555 приседаний', 'ISBN 978-3-16-148410-0', 'рейс SU 1402 в 07:45', '+15 градусов', 'v0.21.0',
    'с 10:45 до 11:15', 'за ужин 2 400 ₽', 'код города 495', 'error code 5001', 'the code is on GitHub', 'zip code 94107',
    'пароль от вайфая на холодильнике', 'password is required', 'forgot my password again lol', 'пароль поменял в 2024',
    'my password manager is great', 'промокод SALE20', 'трек 80082634153871', 'order 1234 5678 9012 3456',
    'в 12.05 буду', 'IP 192.168.1.1', 'ставка 4,5%', '€12.50 за кофе', 'meet at the station at 5', 'ГОСТ 7.0.5-2008',
    '100500 раз', 'телефон сел, напишу позже', 'ИНН спросили, а я не помню', 'паспорт забыл дома', 'комната 404, этаж 4',
    'тираж 10 000 000 экземпляров', 'население 146 150 789 человек', '2019–2024', 'с 1 по 15 декабря', '42300915746182',
    'ИНН 7707083890 (опечатка)', 'заказ 4823019375 доставлен', 'серийник XB12-7QWE-LM3P-88ZT',
    'ID транзакции 3141 5926 5358 9793 2384', 'выручка 4 950 120 300 руб', 'СНИЛС 112-233-445 96 не сходится',
]


def test_table_is_balanced():
    "As many ordinary look-alikes as shapes, and every placeholder but [URL] exercised."
    assert len(ORDINARY) == len(PII), (len(ORDINARY), len(PII))
    used = {p for _, want in PII for p in re.findall(r'\[[A-Z]+\]', want)}
    assert set(PLACEHOLDERS.values()) - used == {'[URL]'}


@pytest.mark.parametrize('text,want', PII, ids=[t for t, _ in PII])
def test_pii_is_scrubbed(text, want):
    c = Counter()
    assert scrub_text(text, c) == want
    assert sum(c.values()) == want.count('[')


@pytest.mark.parametrize('text', ORDINARY)
def test_ordinary_text_survives(text):
    assert scrub_text(text) == text


def _snils_check(d9:str)->str:
    "The SNILS check number, as the Pension Fund publishes it."
    s = sum(int(x) * (9 - i) for i, x in enumerate(d9))
    while s > 101: s %= 101
    return f'{0 if s in (100, 101) else s:02d}'


def test_values_are_valid_by_independent_references():
    "The planted numbers are real shapes (so the test is about finding them): checked by python-stdnum, libphonenumber and the SNILS rule."
    import phonenumbers
    from stdnum import iban, luhn
    from stdnum.ru import inn
    digits = lambda s: re.sub(r'\D', '', unicodedata.normalize('NFKC', s))
    for card in ('4111.1111.1111.1111', '5500000000000004', '4242424242424242', '378282246310005'): assert luhn.is_valid(digits(card))
    for v in ('GB82WEST12345698765432', 'DE89370400440532013000', 'FR1420041010050500013M02606'): assert iban.is_valid(v)
    assert inn.is_valid('500100732259') and inn.is_valid('7707083893') and not inn.is_valid('7707083890')
    assert _snils_check('112233445') == '95'
    for number, region in [('202.555.0143', 'US'), ('+7 916 555 01 23', 'RU'), ('8 916 555 01 23', 'RU'), ('(212) 555-0199', 'US'),
                           ('+1 415 555 0132', None), ('+7 903 555 01 99', None)]:
        assert phonenumbers.is_valid_number(phonenumbers.parse(number, region)), number
    assert not phonenumbers.is_valid_number(phonenumbers.parse('200 555 0143', 'US'))  # the count above is no number


def test_replaces_in_the_original_text():
    "Matching sees NFKC text without invisible characters, but the rest of the message keeps its own characters."
    s = f'ＯＫ {ZW}тел{NBSP}+7{ZW}916{ZW}555{ZW}01{ZW}23{ZW} и всё'
    assert scrub_text(s) == f'ＯＫ {ZW}тел{NBSP}[PHONE]{ZW} и всё'


def test_training_text_is_scrubbed_by_the_same_rules():
    """Chapter 1's `normalise` (what `prepare` writes) gives each shape its placeholder too, in plain and in entity-split texts.
    Planted defect: `normalise`'s inlined hint test left at the old `[\\d@:=/]` skips "my password is sunshine"."""
    from llmclone_nb.reader import fake_message
    from llmclone_nb.samples import normalise
    for i, (text, want) in enumerate(PII):
        assert normalise(fake_message(i, (1, 'A'), text, 1_700_000_000))[3] == want.strip(), text
        m = fake_message(i, (1, 'A'), ['ну вот: ', {'type': 'bold', 'text': text}], 1_700_000_000)
        assert normalise(m)[3] == f'ну вот: {want}'.strip(), text
