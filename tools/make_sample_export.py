#!/usr/bin/env python3
"""Generate the bundled synthetic Telegram Desktop exports (stdlib only, deterministic).

Writes, byte-identically on every run (seeded `random.Random`, atomic temp file + `os.replace`):

- `llmclone_nb/data/sample_export/result.json`: a whole-account export ("Machine-readable JSON")
- `llmclone_nb/data/sample_chat/result.json`: a single-chat export of one personal chat
- `tests/fixtures/planted_pii.json`: the personal data planted in message texts and the ordinary
  substrings a scrubber must leave alone

Usage: `.venv/bin/python tools/make_sample_export.py [--out-dir DIR]` (DIR defaults to the repository root;
the three files go to the same relative paths under it).

Everything here is synthetic: names are invented, emails use example.com/.org/.net, phone numbers use
555 blocks, card numbers are the public test numbers of payment processors, IBANs are the textbook examples.

THE OWNER'S STYLE (what later chapters check the clone picked up; chapter 6 measures it)
The account owner is Никита Белов (user_id 5550100001, @nikita_belov_demo). In every chat, in Russian and
in English, his messages follow these rules, which nobody else in the export follows:
1. all lowercase: no capital letters at all (not even "i" or names), except inside pasted codes/passwords;
2. never a final period: a message ends with a word, ")" / "))", "?", "!" or an emoji, never with ".";
3. frequent bracket smileys: over a third of his messages (about 45%) end with ")" or "))";
4. signature words: "короче" and "ну такое" in Russian, "lol" and "tbh" in English;
5. short bursts: he often sends 2-3 short messages in a row instead of one long one
   (written as "a|b|c" in the scripts below);
6. occasional emoji (👍 🙃 🔥 😅), and stickers.
Everyone else writes in ordinary sentence case with punctuation ("Привет! Ты завтра свободен?").

FORMAT GENERATIONS (see shared/TELEGRAM_FORMAT.md)
- generation 3 (current: string ids "user123", `date_unixtime`, `text_entities`): every chat except the two below;
- generation 2 (string ids, no `date_unixtime`, no `text_entities`): the left supergroup "Python Moscow Chat";
- generation 1 (numeric `from_id`/`actor_id`, no `date_unixtime`, no `text_entities`): the chat "Мама".
A real export is written in one generation; mixing them in one file is a deliberate test device.

SCRIPT MINI-LANGUAGE (the conversation data below)
A chat is a list of sessions; a session is a list of turns:
- "me: text" (the owner) or "X: text" (speaker X of that chat); "a|b|c" is a burst of three messages;
- "~3h", "~2d", "~1d5m", "~40m", "~90s": an exact gap before the next turn;
- a dict for anything else: {"who", "text" (str or list of parts), "label", "reply" (a label),
  "edited" (seconds later), "fwd" ((name, id or None)), "react" ([(emoji, [who...])]), "sticker",
  "photo" ((w, h)), "voice" (seconds), "video_msg" (seconds), "poll", "location", "venue", "contact",
  "via_bot", "service", "unsupported", "at" (pin the session start, first turn only)}.
A part of an entity list is a str or a tuple (type, text[, extra]) where extra is href (text_link),
user_id (mention_name), language (pre), document_id (custom_emoji) or collapsed (blockquote).
"""
import argparse, datetime as dt, json, os, random, re, sys, tempfile
from pathlib import Path

SEED = 20240108
TZ = dt.timezone(dt.timedelta(hours=3))          # the exporting machine's local time (Moscow)
START = dt.datetime(2024, 1, 9, tzinfo=TZ)
END = dt.datetime(2024, 8, 25, tzinfo=TZ)
NOFILE = "(File not included. Change data exporting settings to download.)"
MIGRATED_SHIFT = -1_000_000_000                  # tdesktop's kMigratedMessagesIdShift

OWNER = dict(id=5550100001, first="Никита", last="Белов", phone="+7 999 555 0101",
             username="@nikita_belov_demo", bio="пишу код, хожу в горы)")
OWNER_NAME = f"{OWNER['first']} {OWNER['last']}"

# ----------------------------------------------------------------------------------------------------
# Planted personal data: value -> type. The generator finds each value in exactly one message.
PII = {
    # emails
    "lena.smirnova@example.com": "email", "nikita.belov@example.com": "email",
    "tom.baker@example.org": "email", "nikita.b@example.org": "email",
    "d.kovalev+work@example.org": "email", "booking@altai-tour.example.com": "email",
    "artem.sokolov@example.net": "email", "mama.belova@example.com": "email",
    "kate.orlova@example.org": "email", "hr-team@example.com": "email",
    # phones
    "+7 916 555-01-23": "phone", "8 (926) 555 44 21": "phone", "89035550199": "phone",
    "+7 (495) 555-77-10": "phone", "+44 20 7946 0958": "phone", "+1 (415) 555-0132": "phone",
    "+7 913 555 87 65": "phone", "+49 30 5550 1234": "phone",
    "+7 999 555-12-12": "phone", "8 999 555 34 56": "phone",
    # bank cards (public test numbers, all pass Luhn)
    "4111 1111 1111 1111": "card", "5555555555554444": "card", "4242 4242 4242 4242": "card",
    "5105105105105100": "card", "2200 7012 3456 7896": "card",
    "4012 8888 8888 1881": "card", "378282246310005": "card",
    # IBANs (textbook examples, valid check digits)
    "GB82 WEST 1234 5698 7654 32": "iban", "DE89370400440532013000": "iban",
    # URLs carrying tokens
    "https://files.example.com/share/8f3a?token=q7WzK2pL9xVb4nR1": "token_url",
    "https://api.example.org/v1/export?user=42&access_key=AKIA5EXAMPLE7KEY9Q2": "token_url",
    "https://example.com/reset-password?uid=77&token=c3f9e1a7b5d2e8f4": "token_url",
    # passwords and keys
    "Xk9#mQ2$vL": "secret", "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c": "secret", "Tr0ub4dor&3": "secret",
}

# Ordinary text a scrubber must NOT touch (each occurs verbatim in some message text).
MUST_SURVIVE = ["1 250 ₽", "$19.99", "12.03.2024", "2024-05-01", "18:30", "2019", "SU 1402", "3.11.7",
                "482913", "80082634153871", "15%", "4,5%", "€12.50", "07:45", "2 400 ₽", "v0.21.0",
                "BA 0875", "42300915746182", "25.06", "100500"]

# ----------------------------------------------------------------------------------------------------
# PEOPLE: key -> (user_id, display name)
P = {
    "me": (OWNER["id"], OWNER_NAME),
    "L": (5550100002, "Лена Смирнова"), "T": (5550100003, "Tom Baker"), "D": (5550100004, "Дима Ковалёв"),
    "M": (5550100005, "Мама"), "O": (5550100006, "Оля Петрова"), "A": (5550100007, "Артём Соколов"),
    "S": (5550100008, "Sam Wilson"), "X": (5550100009, None),          # X: a deleted account
    "K": (5550100010, "Катя Орлова"), "B": (5550109001, "Weather Bot"),
    "P1": (5550100011, "Игорь Лапин"), "P2": (5550100012, "Alex Chen"),
}

# ----------------------------------------------------------------------------------------------------
# CHAT "Лена Смирнова": personal, Russian, generation 3.
LENA = [
    ["L: Привет! Ты в субботу свободен?", "me: привет)|вроде да, а что?",
     "L: Хотела позвать тебя на выставку в Манеж. Билеты по 1 250 ₽.", "me: давай)|во сколько?",
     "L: Давай в 18:30 у входа.", "me: ок, договорились))",
     {"who": "L", "sticker": "😘"}, "me: 👍"],
    ["L: Ты доехал?", "me: да, только зашёл)|короче, такси ехало час",
     "L: Ого. Пробки?", "me: ну такое, снег и все стоят", "L: Отдыхай тогда. Спокойной ночи!",
     "me: спокойной)"],
    ["me: лен|а ты не помнишь как звали того мастера по ремонту?",
     "L: Сергей, кажется. Сейчас найду номер.",
     {"who": "L", "text": ["Вот: ", ("phone", "+7 916 555-01-23"), ". Скажи, что от меня."]},
     "me: спасибо))|позвоню завтра", "L: Не за что!"],
    ["L: Смотри, какой закат сегодня был!",
     {"who": "L", "photo": (1280, 960), "react": [("❤", ["me"])]},
     "me: красота)|это с балкона?", "L: Да, с восьмого этажа.", "me: ну вообще 🔥"],
    ["L: Можешь скинуть мне презентацию с прошлой встречи?",
     {"who": "L", "text": ["Лучше на почту: ", ("email", "lena.smirnova@example.com"), ""]},
     "me: ок, вечером скину)", "~3h", "me: скинул|проверь спам на всякий", "L: Пришло, спасибо!"],
    [{"at": "2024-03-14T20:05"}, "L: Ты где? Мы уже в кафе.", "me: бегу)|минут 10",
     "L: Заказать тебе что-нибудь?", "me: капучино и сырники))", "L: Хорошо.",
     "me: короче|я у метро уже", "L: Мы у окна, слева.", "me: вижу вас)"],
    [{"who": "L", "label": "report", "text": "Посмотришь завтра мой отчёт? Я его наконец дописала."},
     "me: да, давай)", "~1d5m",
     {"who": "me", "reply": "report", "text": "посмотрел|в целом норм, только в таблице проценты не сходятся"},
     "L: Где именно?", "me: там где рост 15%, должно быть 4,5% по-моему",
     "L: Точно, спасибо! Исправлю.", "me: 👍"],
    ["me: пароль от вайфая: Xk9#mQ2$vL", "me: это для твоей сестры)",
     "L: Спасибо, передам.", {"who": "L", "sticker": "🙏"}],
    ["L: Поедешь с нами на дачу в выходные?", "me: ну такое|обещают дождь",
     "L: Там есть крыша, не растаешь :)", "me: ладно уговорила))", "L: Отлично! Выезжаем в 07:45.",
     "me: 07:45 это жестоко|но ок"],
    ["L: Скинь, пожалуйста, номер карты, переведу за билеты.", "me: 5555555555554444|тинькофф",
     "L: Перевела 2 400 ₽.", "me: пришло, спасибо)"],
    ["L: Закажешь продукты на мою карту? У меня приложение глючит.",
     {"who": "L", "text": [("bank_card", "4111 1111 1111 1111"), " (это моя)."]},
     "me: ок|закажу вечером)", "~4h", "me: заказал|номер заказа 550921"],
    ["L: Я записала тебя к стоматологу на 12.03.2024.", "me: ох|ну спасибо))",
     "L: Не забудь, пожалуйста. В прошлый раз ты забыл.", "me: не забуду, честно)"],
    [{"who": "L", "voice": 14}, "me: не могу слушать голосовые сейчас|напиши плз)",
     "L: Ладно. Говорю: купи хлеб и молоко по дороге.", "me: ок)"],
    ["L: Ты видел новость про наш офис?",
     {"who": "L", "fwd": ("Новости района", "channel1987650077"),
      "text": "С 1 апреля в бизнес-центре на Лесной меняется пропускной режим."},
     "me: ну такое|опять пропуска менять", "L: Угу."],
    [{"service": "phone_call", "who": "L", "duration": 324, "reason": "hangup"},
     "L: Ссылка на ту квартиру, которую обсуждали:",
     {"who": "L", "text": [("link", "https://realty.example.com/flat/48213"), ""]},
     "me: посмотрел|дороговато, но район хороший)"],
    [{"service": "phone_call", "who": "me", "reason": "missed"},
     "L: Прости, была на совещании. Что случилось?", "me: да ничего|хотел спросить про выходные",
     "L: Давай вечером обсудим.", "me: ок)"],
    ["L: Мой новый номер, если что: 8 (926) 555 44 21", "me: записал)",
     "L: Старый больше не работает.", "me: понял"],
    ["me: короче|я купил билеты в питер)", "L: Ура! На какие числа?",
     "me: с 25.06 на три дня", "L: Отлично, я возьму отгул.", {"who": "L", "sticker": "🎉"}],
    [{"who": "L", "location": (59.939095, 30.315868)}, "L: Мы здесь, у Дворцовой.",
     "me: иду)|минут 5", "L: Ждём."],
    ["L: Спасибо за поездку, было здорово!", "me: да, кайф был)|надо повторить",
     {"who": "L", "text": "Повторим обязательно. Фотки скину позже.", "edited": 95}, "me: жду))"],
]
# Routine dialogs with slots, to make the chat long enough (each fill is a different session).
LENA_ROUTINE = ["L: Ты во сколько сегодня будешь?", "me: к {t} думаю)", "L: Купишь {item}?",
                "me: ок|что-нибудь ещё?", "L: Нет, это всё. Спасибо!", "me: 👍"]
LENA_FILLS = [dict(t="восьми", item="яблоки"), dict(t="семи", item="кофе"), dict(t="девяти", item="сыр"),
              dict(t="десяти", item="корм коту"), dict(t="половине восьмого", item="хлеб"),
              dict(t="шести", item="батарейки"), dict(t="восьми", item="гречку")]

# CHAT "Tom Baker": personal, English, generation 3.
TOM = [
    ["T: Hi Nikita! Are we still on for the call on Thursday?", "me: hey)|yes, thursday works",
     "T: Great. 3 pm London time?", "me: ok lol that's 18:00 for me", "T: Perfect, see you then."],
    [{"service": "joined_telegram", "who": "T"}, "T: Finally switched to Telegram. Much better than email.",
     "me: welcome)|tbh it's the only messenger i use"],
    ["T: Could you send me the draft contract?",
     {"who": "T", "text": ["My work address is ", ("email", "tom.baker@example.org"), "."]},
     {"who": "me", "text": ["sent from ", ("email", "nikita.b@example.org"), " lol"]},
     "T: Got it, thanks!"],
    ["T: If anything is urgent, call me.",
     {"who": "T", "text": ["Office: ", ("phone", "+44 20 7946 0958"), ", mobile is the same as before."]},
     "me: ok)|my us colleague is on +1 (415) 555-0132 btw", "T: Noted."],
    [{"at": "2024-03-14T20:08"}, "T: Quick question: is the release still planned for Monday?",
     "me: yes|well tbh maybe tuesday", "T: Tuesday is fine. I'll tell the client.",
     "me: thanks)|i'll confirm tomorrow"],
    ["T: For the invoice, here are our bank details:", "T: IBAN GB82 WEST 1234 5698 7654 32, reference 482913.",
     "me: got it|will pay this week)", "T: Thanks a lot."],
    ["T: The new subscription costs $19.99 a month. Worth it?", "me: tbh no lol",
     "me: we used it in 2019 and it was slow", "T: Fair enough."],
    ["T: I'm flying to Moscow next month!", "me: no way)|which flight?",
     "T: BA 0875, landing at 14:20.", "me: i'll pick you up)", "T: You're a star.",
     {"who": "T", "sticker": "🤩"}],
    ["T: How was your weekend?", "me: hiking lol|my legs hate me", "T: Ha! Where did you go?",
     "me: just outside the city|photos later)", {"who": "me", "photo": (1600, 1200)}, "T: Stunning view!"],
    ["T: Did the deploy go well?", "me: yes)|no incidents", "~2h",
     {"who": "me", "label": "lied", "text": "ok i lied"}, "me: one small incident lol",
     {"who": "T", "reply": "lied", "text": "Nothing serious, I hope?"}, "me: nah, fixed in 10 min"],
    [{"who": "T", "voice": 22}, "me: sorry, can't listen now|text me?)",
     "T: Sure. The meeting moved to Friday.", "me: ok)"],
    ["T: Happy birthday, Nikita! 🎂", "me: thanks tom))|very kind", {"who": "T", "sticker": "🥳"}],
]
TOM_ROUTINE = ["T: Morning! Any update on {thing}?", "me: morning)|{status}", "T: Thanks for the update.",
               "me: np)"]
TOM_FILLS = [dict(thing="the API docs", status="almost done, tbh one more section"),
             dict(thing="ticket 4512", status="fixed yesterday lol"),
             dict(thing="the dashboard", status="waiting for design"),
             dict(thing="the migration", status="running now, ~2h left"),
             dict(thing="the test report", status="sent it last night)")]

# CHAT "Дима Ковалёв": personal, Russian with English tech words, generation 3, rich entities.
DIMA = [
    ["D: Здорово! Ты уже обновился на Python 3.11.7?", "me: привет)|да, ещё в январе",
     "D: А pytest не ломается?", "me: не|только один плагин ругался))"],
    ["D: Глянь конфиг, что-то не так:",
     {"who": "D", "text": [("pre", "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\naddopts = \"-q\"", "toml")]},
     "me: addopts норм|а где у тебя conftest?", "D: В корне.", "me: вот в этом и дело)"],
    [{"who": "D", "text": ["Ключ для тестового стенда: ", ("code", "sk-test-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
                           ". Никому не показывай."]},
     "me: ок)|ты бы его в секреты положил", "D: Положу, сейчас некогда."],
    ["D: Залил архив с логами:",
     {"who": "D", "text": [("link", "https://files.example.com/share/8f3a?token=q7WzK2pL9xVb4nR1"), ""]},
     "me: скачал|смотрю"],
    ["me: короче|в логах ошибка на строке 214", "D: Какая?",
     {"who": "me", "text": [("code", "KeyError: 'date_unixtime'"), " lol"]},
     "D: Старый формат экспорта, наверное.", "me: ну такое|придётся поддерживать оба"],
    ["D: Почитай, хорошая статья про LoRA:",
     {"who": "D", "text": [("text_link", "вот тут", "https://blog.example.org/lora-explained"),
                           ", особенно раздел про ", ("bold", "rank"), " и ", ("italic", "alpha"), "."]},
     "me: спасибо)|вечером почитаю"],
    ["D: Скинь реквизиты, верну за сервер.", "me: у меня нет реквизитов|кидай на карту",
     "D: Давай номер.", {"who": "me", "text": "2200 7012 3456 7896"}, "D: Отправил.",
     "me: пришло)"],
    ["D: Мой рабочий ящик поменялся: d.kovalev+work@example.org", "me: ок)",
     "D: И немецкий счёт для оплаты хостинга: DE89370400440532013000", "me: принял"],
    ["D: Если что, звони на 89035550199, это мой новый.",
     "me: ок)|стоп это мой номер лол", "D: Ой, точно. Перепутал.", "me: бывает))"],
    ["D: Карта для общих расходов: 4242 4242 4242 4242", "me: записал)"],
    ["D: Ты видел, peft v0.21.0 вышел?", "me: да)|обновил уже", "D: И как?", "me: вроде ничего не сломалось))"],
    ["D: Я написал в поддержку хостинга, номер заявки 42300915746182.", "me: ок)|держи в курсе"],
    ["D: Заказ пришёл, трек 80082634153871.", "me: ну наконец)", "D: Три недели ехал.",
     "me: ну такое"],
    ["me: дим|у тебя есть зарядка type-c?", "D: Есть, занесу завтра.", "me: спасибо)"],
    ["D: Помнишь, ты говорил про фичу с голосовыми?", "me: да|а что?",
     {"who": "D", "video_msg": 18}, "D: Вот, показал как работает.", "me: круто)|сделаешь пр?"],
    [{"who": "D", "text": ["Спойлер к сериалу: ", ("spoiler", "он его отец"), "."]},
     "me: ну спасибо))|я не досмотрел"],
]
DIMA_ROUTINE = ["D: Ты сегодня на созвоне в {t}?", "me: да)|буду", "D: Ок, я ссылку кину."]
DIMA_FILLS = [dict(t="11"), dict(t="12:30"), dict(t="15"), dict(t="16:30"), dict(t="10")]

# CHAT "Мама": personal, Russian, GENERATION 1 (numeric from_id, no date_unixtime, no text_entities).
MAMA = [
    ["M: Никита, ты поел?", "me: да мам)", "M: Что ел?", "me: суп|и котлеты))", "M: Молодец."],
    ["M: Позвони бабушке, у неё день рождения.", "me: ок, позвоню вечером)", "M: Обязательно!"],
    ["M: Запиши номер тёти Гали: +7 (495) 555-77-10", "me: записал)"],
    [{"who": "M", "text": ["Моя новая почта: ", ("email", "mama.belova@example.com"), ". Пиши туда фотографии."]},
     "me: ок мам)"],
    ["M: Когда приедешь?", "me: в субботу|к обеду)", {"who": "M", "label": "pie", "text": "Испеку пирог.", "edited": 30},
     {"who": "me", "reply": "pie", "text": "ура))"}],
    ["M: Как работа?", "me: норм)|много задач", "M: Не переутомляйся.", "me: не буду"],
    [{"who": "M", "photo": (960, 1280)}, "M: Смотри, какие у нас цветы выросли.", "me: красивые)"],
    ["M: Ты шапку надел? Там -15.", "me: мам|надел))"],
    ["M: Папа спрашивает, поможешь с компьютером?", "me: помогу)|что там?",
     "M: Не включается интернет.", "me: ну такое|приеду посмотрю"],
    ["M: С праздником, сынок!", "me: спасибо мам))", {"who": "M", "sticker": "🌷"}],
]
MAMA_ROUTINE = ["M: Ты дома?", "me: {a}", "M: Хорошо. Позвони, когда будет минутка."]
MAMA_FILLS = [dict(a="ещё на работе)"), dict(a="да, только пришёл)"), dict(a="еду в метро"),
              dict(a="в магазине|перезвоню)"), dict(a="да)")]

# CHAT "Поход на Алтай 🏔": supergroup migrated from a basic group (negative ids), Russian + English.
# Members: the owner, Оля (O), Артём (A), Sam (S), and a deleted account (X).
GROUP_BASIC = [  # the basic-group part: migrated ids (negative)
    [{"service": "create_group", "who": "me", "title": "Поход на Алтай", "members": ["O", "A"]},
     "me: короче|создал чат для похода)", "O: Ура! Наконец-то.", "A: Я в деле.",
     {"service": "invite_members", "who": "O", "members": ["S", "X"]},
     "O: Добавила Сэма и Витю.", "S: Hi all! I'll write in English, my Russian is bad.",
     "me: no problem lol|welcome)", "X: Привет всем!"],
    ["O: Предлагаю даты: с 5 по 15 июля.", "A: Мне подходит.", "S: Works for me.",
     "me: ок)|беру отпуск", "X: Я пока не знаю, напишу позже.",
     {"service": "migrate_to_supergroup", "who": "me"}],
]
GROUP = [
    [{"service": "migrate_from_group", "who": "me", "title": "Поход на Алтай"},
     {"service": "edit_group_title", "who": "me", "title": "Поход на Алтай 🏔"},
     "me: переименовал)", "O: Красиво.",
     {"who": "O", "poll": {"question": "Как едем до Барнаула?",
                           "answers": [("Поезд", 1, False), ("Самолёт", 3, True)], "total": 4}},
     "A: Самолёт, конечно.", "me: самолёт)|поезд 3 дня это ну такое"],
    [{"who": "O", "label": "tour", "text": ["Нашла турбазу. Бронь через ", ("email", "booking@altai-tour.example.com"),
                                            ", стоимость 4 200 ₽ в сутки."]},
     {"service": "pin_message", "who": "O", "reply": "tour"},
     "A: Дороговато.", "S: Is that per person?", "O: Yes, per person.", "me: норм)|берём"],
    ["O: Инструктор Андрей, его телефон:",
     {"who": "O", "text": [("phone", "+7 913 555 87 65"), ", звонить после 18:00."]},
     "A: Записал.", "me: 👍"],
    ["A: Скидываемся на снаряжение, переводите на карту:",
     {"who": "A", "text": [("bank_card", "5105105105105100"), " (Артём С.)"]},
     "me: перевёл)", "S: Can I pay in euros? It's €12.50 per day for the rent, right?",
     "A: Да, переведи Оле, она разберётся.", "S: OK, thanks.",
     {"who": "A", "text": "Чек пришлю на artem.sokolov@example.net, если кому нужно.", "edited": 240}],
    ["S: I uploaded the route to our tracker:",
     "S: https://api.example.org/v1/export?user=42&access_key=AKIA5EXAMPLE7KEY9Q2",
     "me: thanks sam)|opened it", "S: If the link fails, call me: +49 30 5550 1234"],
    [{"who": "S", "via_bot": "@gif", "file": "animation", "mime": "video/mp4", "duration": 3,
      "wh": (320, 240)}, "O: Ахаха.", "me: lol))"],
    [{"service": "custom", "who": "A", "info": "Артём Соколов boosted the group"},
     "O: Кто везёт газовую горелку?", "me: я)|у меня две", "A: Отлично.",
     {"who": "X", "text": "Ребята, я, наверное, не поеду. Простите."},
     "O: Жаль! Если передумаешь, пиши.", {"unsupported": True}],
    ["O: Список вещей:",
     {"who": "O", "label": "list", "text": [("bold", "Обязательно:"), "\n— спальник до +3°\n— треккинговые палки\n— ",
                           ("underline", "аптечка"), "\n", ("strikethrough", "— палатка"), " (палатки даёт база)"],
      "react": [("👍", ["me", "A", "S"]), ("🔥", ["A"])]},
     "me: спасибо)|распечатаю", {"who": "S", "reply": "list", "text": "Do I need a sleeping bag too?"},
     "O: Yes, Sam!"],
    ["me: короче|вылет 2024-05-01 не получится, рейс отменили", "O: Ой. Это SU 1402? А другой есть?",
     "me: да, он|есть на следующий день, возьму его)", "A: Ок, мы подстроимся."],
    ["O: Фото с первого дня!", {"who": "O", "photo": (2048, 1536), "react": [("❤", ["me", "S"])]},
     {"who": "A", "photo": (1536, 2048)}, "me: огонь 🔥|я в кадре вообще есть?)", "A: Нет :)",
     {"who": "me", "sticker": "😭"}],
    [{"who": "S", "text": ["Shout-out to ", ("mention_name", "Olya", 5550100006), " for organising everything!"],
      "react": [("❤", ["me", "A", "O"])]},
     {"who": "A", "text": ["Поддерживаю ", ("mention", "@olya_petrova_demo"), "! ",
                           ("hashtag", "#алтай2024")]},
     "me: плюсую)|оля лучшая", {"who": "O", "sticker": "🥰"}],
    [{"who": "A", "venue": ("Гора Белуха", "Республика Алтай, Усть-Коксинский район", 49.806944, 86.589444)},
     "A: Следующим летом сюда?", "me: ну такое|там холодно))", "S: I'm in!"],
]
GROUP_ROUTINE = ["O: Напоминаю: встреча в {place} в {t}.", "me: буду)", "A: Ок.", "S: See you there."]
GROUP_FILLS = [dict(place="кофейне на Чистых прудах", t="19:00"), dict(place="магазине снаряжения", t="12:00"),
               dict(place="кофейне у Белорусской", t="20:00"), dict(place="парке Горького", t="11:00")]

# CHANNEL "Никита пишет код": public channel, posts signed with `author`.
CHANNEL = [
    [{"service": "create_channel", "who": "me", "title": "Никита пишет код"}],
    [{"who": "C", "author": "Никита Белов",
      "text": [("bold", "Привет!"), " Здесь я пишу про Python, данные и локальные модели. ", ("hashtag", "#intro")]}],
    [{"who": "C", "author": "Никита Белов",
      "text": ["Обновил проект на Python 3.11.7. Всё работает, кроме одного плагина. ", ("hashtag", "#python")]}],
    [{"who": "C", "author": "Дима Ковалёв",
      "text": ["Гостевой пост. Как запускать тесты быстрее:\n", ("pre", "pytest -q -n auto", "bash"),
               "\nЭкономия около 40%."], "react": [("🔥", ["me", "L"])]}],
    [{"who": "C", "author": "Никита Белов",
      "text": [("blockquote", "Простое лучше, чем сложное.", False), "\n— The Zen of Python"]}],
    [{"who": "C", "author": "Никита Белов",
      "text": ["Новая статья: ", ("text_link", "как я обучил модель на своих чатах", "https://blog.example.org/clone"),
               ". Спойлер: ", ("spoiler", "она пишет без точек"), " ",
               ("custom_emoji", "🤖", "stickers/sticker (3).webp")]}],
    [{"who": "C", "author": "Никита Белов", "photo": (1200, 675),
      "text": "График потерь при обучении: после 60 шагов модель заговорила моим стилем."}],
    [{"who": "C", "fwd": ("Python Digest", "channel1987650123"),
      "text": ["Вышел Python 3.13. ", ("cashtag", "$PY"), " ", ("bot_command", "/changelog")]}],
    [{"who": "C", "author": "Никита Белов",
      "text": ["Код без подсветки: ", ("pre", "print('hello')", ""), " и с ней тоже бывает."]}],
    [{"who": "C", "author": "Никита Белов", "text": "Опрос в комментариях: какие модели вы запускаете локально?",
      "edited": 600}],
]
CHANNEL_ROUTINE = ["C: Заметка дня: {note}"]
CHANNEL_FILLS = [dict(note="используйте pathlib вместо os.path."), dict(note="пишите тесты до рефакторинга."),
                 dict(note="json.load читает весь файл в память, ijson нет."),
                 dict(note="не храните токены в коде."), dict(note="fp16 на T4, bf16 на Ampere."),
                 dict(note="атомарная запись: временный файл и os.replace."),
                 dict(note="seed делает генераторы воспроизводимыми."),
                 dict(note="профилируйте, прежде чем оптимизировать."),
                 dict(note="LoRA с рангом 16 часто достаточно."), dict(note="логируйте версии библиотек.")]

# CHAT "Weather Bot": bot chat (a parser excludes it).
BOT = [
    [{"who": "me", "text": [("bot_command", "/start")]},
     "B: Hello! I send the weather forecast. Send me a city name.", "me: moscow",
     "B: Moscow: +3°, light snow, wind 5 m/s."],
    [{"who": "me", "text": [("bot_command", "/weather"), " piter"]}, "B: Saint Petersburg: +1°, rain."],
]
BOT_ROUTINE = ["me: {city}", "B: {city_cap}: {w}."]
BOT_FILLS = [dict(city="moscow", city_cap="Moscow", w="+18°, sunny"), dict(city="kazan", city_cap="Kazan", w="+21°, clouds"),
             dict(city="barnaul", city_cap="Barnaul", w="+24°, clear"), dict(city="london", city_cap="London", w="+15°, rain"),
             dict(city="moscow", city_cap="Moscow", w="+27°, thunderstorm")]

# SAVED MESSAGES
SAVED = [
    ["me: купить: гречка, кофе, батарейки"],
    [{"who": "me", "fwd": ("Tom Baker", "user5550100003"), "saved_from": "Tom Baker",
      "text": "Reminder: the client demo is on Friday at 11:00."}],
    [{"who": "me", "text": [("link", "https://docs.python.org/3/library/json.html"), ""]}],
    [{"who": "me", "photo": (1080, 1920)}],
    ["me: идеи для канала|1 стиль письма|2 сессии по паузам|3 скраббинг"],
    [{"who": "me", "contact": ("Андрей", "Инструктор", "+7 913 555 00 00")}],
    [{"who": "me", "fwd": ("Python Digest", "channel1987650123"), "saved_from": "Python Digest",
      "text": "10 советов по asyncio."}],
    ["me: размер рюкзака 65 л|вес до 12 кг"],
    [{"who": "me", "voice": 41}],
    ["me: не забыть продлить домен до 100500 лет)"],
]

# LEFT CHAT "Python Moscow Chat": public supergroup, GENERATION 2 (string ids, no date_unixtime/text_entities).
LEFT = [
    [{"service": "join_group_by_link", "who": "me", "inviter": "P1"},
     "P1: Добро пожаловать! Представьтесь, пожалуйста.", "me: привет) никита, пишу на python",
     "P2: Welcome!"],
    ["P1: Кто идёт на митап в четверг?", "P2: Me.", "me: я)|если успею",
     "P1: Регистрация по ссылке в закрепе."],
    ["P2: Does anyone know a good library for streaming JSON?", "me: ijson lol", "P2: Thanks!"],
    [{"service": "remove_members", "who": "me", "members": ["me"]}],
]

# SINGLE-CHAT EXPORT "Катя Орлова": personal, Russian + English, generation 3.
KATE = [
    ["K: Никита, привет! Это Катя из HR.", "me: привет)", "K: Мы подготовили оффер, отправлю на почту.",
     {"who": "K", "text": ["Подтверди, что адрес верный: ", ("email", "kate.orlova@example.org"), " — это мой, а твой?"]},
     "me: nikita.belov@example.com|вроде он)", "K: Отлично, отправила."],
    ["K: Если будут вопросы, пиши на hr-team@example.com или звони.",
     {"who": "K", "text": ["Мой телефон: ", ("phone", "+7 999 555-12-12"), "."]}, "me: ок спасибо)"],
    ["me: катя|а можно перенести собеседование?", "K: Конечно. На какое время?", "me: после 18:30 если можно)",
     "K: Давай в 19:00.", "me: супер)"],
    ["K: Для оформления нужна карта для зарплаты.",
     {"who": "me", "text": [("bank_card", "4012 8888 8888 1881")]}, "K: Спасибо, передала в бухгалтерию.",
     "me: 👍"],
    ["K: Ссылка для входа в личный кабинет:",
     {"who": "K", "text": [("link", "https://example.com/reset-password?uid=77&token=c3f9e1a7b5d2e8f4"), ""]},
     "K: Временный пароль: Tr0ub4dor&3", "me: зашёл)|поменял пароль"],
    ["K: Ещё нужен контактный телефон родственника.", "me: 8 999 555 34 56|это мама", "K: Записала."],
    ["K: Компенсация спортзала до 2 400 ₽ в месяц.", "me: о)|приятно"],
    ["K: Hi! Our London team asks if you can join the onboarding in English.", "me: sure lol|when?",
     "K: Next Monday, 11:00.", "me: ok)"],
    ["K: У нас корпоративная карта для командировок, старые данные: 378282246310005. Выбрось её, пожалуйста.",
     "me: ок|уже выкинул)"],
    [{"who": "K", "photo": (1280, 720)}, "K: Фото с тимбилдинга!", "me: ахаха)|я моргнул на всех"],
    [{"who": "K", "label": "docs", "text": "Документы подписал?"}, "~1d5m",
     {"who": "me", "reply": "docs", "text": "да|вчера вечером)"}, "K: Спасибо!"],
]
KATE_ROUTINE = ["K: {q}", "me: {a}", "K: {k}"]
KATE_FILLS = [dict(q="Ты получил пропуск?", a="да)|вчера", k="Отлично."),
              dict(q="Не забудь про медосмотр 12.03.2024.", a="помню)", k="Хорошо."),
              dict(q="Как первый день?", a="норм)|много всего", k="Привыкнешь!"),
              dict(q="Ты подписал NDA?", a="да|отправил скан)", k="Спасибо."),
              dict(q="Тебе выдали ноутбук?", a="выдали)|макбук", k="Супер."),
              dict(q="Как тебе команда?", a="ну такое|шучу, классные)", k="Рада слышать!"),
              dict(q="Пришли, пожалуйста, фото для пропуска.", a="ок|вечером)", k="Спасибо."),
              dict(q="Отпуск на 25.06 согласован.", a="ура))", k="Хорошего отдыха!")]
# (`K`, `me` ... routine sessions are interleaved with the scripted ones by `_expand`.)

# ---------------------------------------------------------------------------------------------------- more sessions
LENA += [
    ["L: Ты читал книгу, которую я дала?", "me: начал)|пока ну такое, медленно раскачивается",
     "L: Дальше будет интереснее, обещаю.", "me: ок, верю))"],
    ["L: Пойдём в субботу в бассейн?", "me: давай)|в какой?", "L: В тот, что у парка. Открывается в 8:00.",
     "me: в 8 это рано|давай к 10", "L: Хорошо, в 10."],
    ["L: У тебя есть зонт? Обещают ливень.", "me: есть)|даже два", "L: Возьми один для меня, пожалуйста.",
     "me: ок)"],
    ["me: лен|ты не видела мои наушники?", "L: Кажется, на полке в прихожей.", "me: нашёл))|спасибо",
     "L: Всегда пожалуйста."],
    ["L: Какой фильм посмотрим вечером?", "me: что-нибудь лёгкое)|комедию", "L: Может, «Амели»?",
     "me: давай)|сто лет не смотрел", "L: Отлично, я сделаю попкорн."],
    ["L: Как прошло собеседование у Димы?", "me: говорит норм)|ждёт ответа", "L: Держим кулачки!",
     "me: ага"],
    ["L: Смотри, какого кота я встретила.", {"who": "L", "photo": (1080, 1350)},
     "me: ахаха)|наглая морда", "L: Он просил колбасу.", "me: правильный кот))"],
    ["me: короче|я сегодня задержусь, релиз", "L: Надолго?", "me: часа на два|не жди с ужином)",
     "L: Хорошо. Удачи с релизом!", "~3h", "me: всё|выкатили)", "L: Ура! Поздравляю."],
    ["L: Напомни, сколько стоила та кофемашина?", "me: 32 тысячи вроде|а что?",
     "L: Хочу подарить маме на юбилей.", "me: хорошая идея)"],
    ["L: Завтра будет +30, оденься легко.", "me: ок)|спасибо что следишь))"],
    ["L: Я испекла пирог. Зайдёшь?", "me: уже иду)|с чем пирог?", "L: С вишней.", "me: 🔥"],
    [{"who": "L", "text": "Ты не забыл, что у Оли день рождения в пятницу?", "edited": 40},
     "me: забыл|спасибо что напомнила)", "L: Я купила общий подарок, скинешься?", "me: конечно|сколько?",
     "L: По 1 500.", "me: ок, перевёл)"],
]
LENA_ROUTINE = [LENA_ROUTINE,
                ["L: {q}", "me: {a}", "L: {k}"]]
LENA_FILLS += [dict(r=1, q="Ты уже дома?", a="почти)|подхожу", k="Хорошо, ставлю чайник."),
               dict(r=1, q="Как день прошёл?", a="ну такое|много созвонов", k="Отдохни вечером."),
               dict(r=1, q="Во сколько завтра встаём?", a="в семь)|будильник поставил", k="Договорились."),
               dict(r=1, q="Ты ужинал?", a="нет ещё|закажу пиццу)", k="Только не острую!"),
               dict(r=1, q="Видел, какая луна сегодня?", a="да)|огромная", k="Красиво."),
               dict(r=1, q="Позвонишь маме?", a="уже позвонил)", k="Молодец."),
               dict(r=1, q="Купить тебе что-нибудь в аптеке?", a="нет, спасибо)", k="Хорошо."),
               dict(r=1, q="Ты не спишь?", a="нет|работаю ещё", k="Не засиживайся.")]

TOM += [
    ["T: Did you see the new pricing page?", "me: yes|tbh it's confusing lol", "T: Agreed. I'll raise it.",
     "me: thanks)"],
    ["T: Can you review my pull request today?", "me: sure)|after lunch", "~2h", "me: done|left 3 comments",
     "T: Great, thanks! I'll fix them now."],
    ["T: The client wants a 15% discount.", "me: lol no|maybe 5", "T: I'll try 10 and see.",
     "me: ok)"],
    ["T: What's the weather like in Moscow?", "me: +28 and sunny)|summer finally", "T: Lucky you. It's raining here.",
     "me: as always lol"],
    ["T: Are you going to the conference in Berlin?", "me: not sure|tbh depends on the budget",
     "T: I can ask our manager to cover it.", "me: that would be great)"],
    ["T: Quick sanity check: is the staging server down?", "me: checking|yes, it's down lol",
     "me: restarting now", "T: Thanks!", "me: up again)"],
    ["T: I'm reading a book about Russian history.", "me: nice)|which one?", "T: The one by Figes.",
     "me: heard it's good|tell me later)"],
    ["T: Can we move our 1:1 to Wednesday?", "me: sure)|same time?", "T: Yes, same time.", "me: 👍"],
]
TOM_ROUTINE = [TOM_ROUTINE, ["T: {q}", "me: {a}", "T: {k}"]]
TOM_FILLS += [dict(r=1, q="Do you have a minute for a call?", a="in 10 min?)", k="Perfect."),
              dict(r=1, q="Did you get my email?", a="yes|will reply today)", k="Thanks."),
              dict(r=1, q="Is the build green?", a="green lol|finally", k="Excellent."),
              dict(r=1, q="Are you around tomorrow?", a="yes)|all day", k="Great, talk then."),
              dict(r=1, q="Can you share the slides?", a="sent)", k="Got them, thanks."),
              dict(r=1, q="How's your Russian class going? Oh wait, it's mine.", a="lol|how is it going?)",
                   k="Slowly. Cases are hard."),
              dict(r=1, q="Lunch break?", a="yes|tbh starving", k="Enjoy!")]

DIMA += [
    ["D: Какой ноут посоветуешь для ML?", "me: с нвидией|хотя бы 12 гб видео", "D: А на маке нельзя?",
     "me: можно, но ну такое)"],
    ["D: У нас CI упал, ты ничего не мержил?", "me: мержил|сорян))", "me: сейчас откачу", "D: Спасибо.",
     "me: откатил)"],
    ["D: Пойдёшь в пятницу на пиво?", "me: пойду)|где?", "D: В «Рыбе» на Китай-городе.", "me: ок)"],
    ["D: Сколько шагов ты обучал свою модель?", "me: 60|на цпу полчаса)", "D: И как, похоже на тебя?",
     "me: пишет без точек))|значит похоже"],
    ["D: Глянь, какую клавиатуру я собрал.", {"who": "D", "photo": (1600, 900)}, "me: красота)|свитчи какие?",
     "D: Коричневые.", "me: норм"],
]
DIMA_ROUTINE = [DIMA_ROUTINE, ["D: {q}", "me: {a}", "D: {k}"]]
DIMA_FILLS += [dict(r=1, q="Ты ревьюнул мой PR?", a="ещё нет|вечером)", k="Ок."),
               dict(r=1, q="Есть минутка?", a="да)", k="Сейчас позвоню."),
               dict(r=1, q="Как деплой?", a="всё зелёное)", k="Отлично!"),
               dict(r=1, q="Ты на работе завтра?", a="удалённо)", k="Понял."),
               dict(r=1, q="Какая версия transformers у тебя?", a="5|последняя)", k="Ага, у меня старая.")]

MAMA += [
    ["M: Ты записался к врачу?", "me: записался)|на среду", "M: Хорошо. Расскажешь потом."],
    ["M: Папа передаёт привет.", "me: и ему привет)"],
    ["M: Купила тебе свитер.", {"who": "M", "photo": (1280, 1280)}, "me: ого)|спасибо мам",
     "M: Приезжай, примеришь."],
]
MAMA_FILLS += [dict(a="да)|отдыхаю"), dict(a="на тренировке"), dict(a="у лены)")]

GROUP += [
    ["A: Кто-нибудь знает, нужна ли регистрация в нацпарке?", "O: Да, я всех зарегистрирую.",
     "me: спасибо оля)", "S: Thanks Olya!"],
    ["S: How cold is it at night there?", "O: Around +5 in July.", "me: бери тёплую куртку lol",
     "S: Got it."],
    ["A: Я купил новые ботинки.", {"who": "A", "photo": (1200, 1600)}, "me: норм)|разнашивай заранее",
     "A: Да, уже хожу в них на работу.", "O: Ахаха, представляю."],
    ["O: Кто отвечает за еду?", "me: могу я)|составлю меню", "O: Отлично, спасибо.",
     "me: короче|будет гречка, гречка и гречка))", "A: Ну уж нет.", "S: What is гречка?",
     "me: buckwheat lol"],
    ["A: Скинул всем маршрут в GPX.", "O: Спасибо!", "S: Thanks, loaded it into my watch."],
    ["O: Итоги похода: 72 км, 3 перевала, 0 травм.", "A: Лучший отпуск!", "S: Best trip ever.",
     "me: согласен)|повторим", {"who": "O", "sticker": "🏔"}],
]
GROUP_FILLS += [dict(place="кофейне на Маросейке", t="19:30"), dict(place="зуме", t="21:00")]

KATE += [
    ["K: Ты уже познакомился с командой?", "me: да)|все норм", "K: Хорошо! Если что-то нужно, пиши."],
    ["K: На следующей неделе корпоратив. Придёшь?", "me: приду)|где будет?", "K: В лофте на Бауманской.",
     "me: ок)"],
    ["K: Не забудь пройти курс по безопасности до пятницы.", "me: ой|сегодня пройду)", "~2h",
     "me: прошёл)", "K: Отлично, вижу в системе."],
    ["K: Can you help us with the English version of the job post?", "me: sure)|send it", "K: Sent.",
     "me: fixed a few typos lol", "K: Thank you!"],
    ["K: Тебе удобно работать из офиса по вторникам?", "me: ну такое|лучше по средам)", "K: Хорошо, отмечу."],
]
KATE_FILLS += [dict(q="Ты получил письмо про ДМС?", a="да)", k="Хорошо."),
               dict(q="Как прошла первая неделя?", a="быстро)|много нового", k="Это нормально!"),
               dict(q="Загрузи, пожалуйста, фото в профиль.", a="загрузил)", k="Спасибо."),
               dict(q="Ты будешь на встрече с CEO?", a="буду)", k="Отлично."),
               dict(q="Пришли мне номер твоего пропуска.", a="он на обороте|вечером скину)", k="Хорошо."),
               dict(q="Ты выбрал себе место в офисе?", a="у окна)", k="Отличный выбор."),
               dict(q="Hi! Do you need a visa letter for Berlin?", a="no, thanks)|i have one", k="Great.")]

BOT_FILLS += [dict(city="sochi", city_cap="Sochi", w="+29°, sunny"), dict(city="moscow", city_cap="Moscow", w="+22°, clouds"),
              dict(city="piter", city_cap="Saint Petersburg", w="+19°, rain")]
SAVED += [["me: книги: «мастер и маргарита», «sapiens»"], ["me: пароль от роутера на наклейке снизу)"],
          [{"who": "me", "text": [("link", "https://github.com/ggerganov/llama.cpp"), ""]}]]

# ====================================================================================================
# ENGINE
GAP_RE = re.compile(r"^~(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def _fill(turn, fill):
    "Substitute `{slot}`s of a routine turn."
    return turn.format(**fill) if isinstance(turn, str) else turn


def _expand(scripted, routine, fills):
    """Scripted sessions with the routine sessions (one per fill) spread evenly between them.
    `routine` is one template or a list of templates; a fill picks one with its key "r" (default 0)."""
    if routine and isinstance(routine[0], str): routine = [routine]
    out, n, k = [], len(scripted), len(fills)
    slots = {}
    for i in range(k): slots.setdefault(int((i + 1) * n / (k + 1)), []).append(i)
    for i, sess in enumerate(scripted):
        for f in slots.get(i, []):
            out.append([_fill(t, fills[f]) for t in routine[fills[f].get("r", 0)]])
        out.append(sess)
    return out


def _parse_turns(session):
    "Session -> (pinned start or None, [turn dicts]); splits bursts, attaches explicit gaps."
    pinned, turns, gap = None, [], None
    for t in session:
        if isinstance(t, str) and t.startswith("~"):
            g = GAP_RE.match(t)
            assert g, t
            d, h, m, s = (int(x or 0) for x in g.groups())
            gap = ((d * 24 + h) * 60 + m) * 60 + s
            continue
        if isinstance(t, dict) and "at" in t and len(t) == 1:
            pinned = dt.datetime.fromisoformat(t["at"]).replace(tzinfo=TZ)
            continue
        if isinstance(t, str):
            who, _, text = t.partition(": ")
            parts = [dict(who=who, text=x) for x in text.split("|")]
        else:
            t = dict(t)
            if "service" in t: t.setdefault("who", "me")
            if t.get("unsupported"): t.setdefault("who", "?")
            parts = [t]
        for p in parts:
            if gap is not None: p["gap"], gap = gap, None
            turns.append(p)
    return pinned, turns


def _plain(text):
    "Flatten a text (str or parts) to plain text."
    if isinstance(text, str): return text
    return "".join(p if isinstance(p, str) else p[1] for p in text)


def _check_style(chat_name, turns):
    "Enforce the owner's style rules (and sentence case for others) on the data itself."
    pii = list(PII)
    for t in turns:
        if "text" not in t or "fwd" in t: continue
        txt = _plain(t["text"])
        if not txt or any(v in txt for v in pii): continue
        if t["who"] == "me":
            if not isinstance(t["text"], str):  # pasted code and links keep their case
                txt = "".join(p if isinstance(p, str) else ("" if p[0] in ("code", "pre", "link", "bot_command") else p[1])
                              for p in t["text"])
            assert txt == txt.lower(), f"{chat_name}: owner message not lowercase: {txt!r}"
            assert not txt.endswith("."), f"{chat_name}: owner message ends with a period: {txt!r}"
        elif t["who"] not in ("B", "C"):
            if not isinstance(t["text"], str) and not isinstance(t["text"][0], str): continue
            if txt.startswith("http"): continue
            first = next((c for c in txt if c.isalpha()), "")
            assert not first or first.isupper(), f"{chat_name}: {t['who']} should write in sentence case: {txt!r}"


def _schedule(sessions, rng, start=START, end=END):
    "Give every turn a UTC-aware datetime: sessions spread over [start, end], realistic gaps inside."
    parsed = [_parse_turns(s) for s in sessions]
    n, span = len(parsed), (end - start).total_seconds()
    bases = []
    for i, (pinned, _) in enumerate(parsed):
        if pinned is not None: bases.append((pinned, True, i)); continue
        b = start + dt.timedelta(seconds=span * (i + 0.15 + 0.7 * rng.random()) / n)
        b = b.replace(hour=rng.randint(9, 22), minute=rng.randint(0, 59), second=rng.randint(0, 59), microsecond=0)
        bases.append((b, False, i))
    bases.sort(key=lambda x: (x[0], x[2]))
    out, prev_end = [], None
    for base, pinned, i in bases:
        if prev_end is not None and base < prev_end + dt.timedelta(minutes=20):
            assert not pinned, f"pinned session {i} collides with the previous one"
            base = prev_end + dt.timedelta(seconds=rng.randint(2 * 3600, 9 * 3600))
        cur, prev_who, sess = base, None, []
        for j, t in enumerate(parsed[i][1]):
            if j:
                if "gap" in t: delta = t["gap"]
                elif t["who"] == prev_who: delta = rng.randint(3, 25)
                elif rng.random() < 0.08: delta = rng.randint(5 * 60, 25 * 60)
                else: delta = rng.randint(15, 200)
                cur = cur + dt.timedelta(seconds=delta)
            sess.append(dict(t, time=cur))
            prev_who = t["who"]
        out.extend(sess)
        prev_end = cur
    return out


# ---------------------------------------------------------------------------------------------------- serialisation
def _date(t): return t.astimezone(TZ).replace(tzinfo=None).isoformat()
def _unix(t): return str(int(t.timestamp()))


def _peer_id(key, gen, kind="user"):
    uid = P[key][0] if key in P else key
    return uid if gen == 1 else f"{kind}{uid}"


def _entity(part):
    "A text part -> the entity object as Telegram writes it."
    if isinstance(part, str): return {"type": "plain", "text": part}
    typ, text, *extra = part
    e = {"type": typ, "text": text}
    if extra:
        key = {"text_link": "href", "mention_name": "user_id", "pre": "language", "custom_emoji": "document_id",
               "blockquote": "collapsed"}[typ]
        e[key] = extra[0]
    return e


def _text_fields(text, gen):
    "The `text` and (generation 3) `text_entities` values."
    if isinstance(text, str):
        parts = [text] if text else []
    else:
        parts = list(text)
    if not parts: t = ""
    elif len(parts) == 1 and isinstance(parts[0], str): t = parts[0]
    else: t = [p if isinstance(p, str) else _entity(p) for p in parts]
    out = {"text": t}
    if gen == 3: out["text_entities"] = [_entity(p) for p in parts]
    return out


def _media(t, rng):
    "Media fields, in tdesktop's key order."
    m = {}
    if "photo" in t:
        w, h = t["photo"]
        m.update(photo=NOFILE, photo_file_size=rng.randint(60_000, 400_000), width=w, height=h)
    elif "sticker" in t:
        m.update(file=NOFILE, file_name="sticker.webp", file_size=rng.randint(8_000, 40_000), thumbnail=NOFILE,
                 thumbnail_file_size=rng.randint(2_000, 9_000), media_type="sticker", sticker_emoji=t["sticker"],
                 mime_type="image/webp", width=512, height=512)
    elif "voice" in t:
        m.update(file=NOFILE, file_size=t["voice"] * 2_000 + rng.randint(0, 999), media_type="voice_message",
                 mime_type="audio/ogg", duration_seconds=t["voice"])
    elif "video_msg" in t:
        m.update(file=NOFILE, file_size=t["video_msg"] * 60_000 + rng.randint(0, 9999), thumbnail=NOFILE,
                 thumbnail_file_size=rng.randint(3_000, 9_000), media_type="video_message",
                 mime_type="video/mp4", duration_seconds=t["video_msg"], width=384, height=384)
    elif t.get("file") == "animation":
        w, h = t["wh"]
        m.update(file=NOFILE, file_name="gif.mp4", file_size=rng.randint(100_000, 900_000), thumbnail=NOFILE,
                 thumbnail_file_size=rng.randint(2_000, 9_000), media_type="animation", mime_type=t["mime"],
                 duration_seconds=t["duration"], width=w, height=h)
    elif "contact" in t:
        first, last, phone = t["contact"]
        m.update(contact_information={"first_name": first, "last_name": last, "phone_number": phone})
    elif "location" in t:
        lat, lon = t["location"]
        m.update(location_information={"latitude": lat, "longitude": lon})
    elif "venue" in t:
        name, addr, lat, lon = t["venue"]
        m.update(place_name=name, address=addr, location_information={"latitude": lat, "longitude": lon})
    elif "poll" in t:
        p = t["poll"]
        m.update(poll={"question": p["question"], "closed": False, "total_voters": p["total"],
                       "answers": [{"text": a, "voters": v, "chosen": c} for a, v, c in p["answers"]]})
    return m


def _name(key, chat):
    if key == "C": return chat["name"]
    return P[key][1]


def _serialise(chat, turns, ids, gen, rng):
    "Turn dicts (with `time`) -> message objects of the given format generation."
    labels = {t["label"]: ids[i] for i, t in enumerate(turns) if "label" in t}
    msgs = []
    for i, t in enumerate(turns):
        if t.get("unsupported"):
            msgs.append({"id": ids[i], "type": "unsupported"}); continue
        kind = "service" if "service" in t else "message"
        m = {"id": ids[i], "type": kind, "date": _date(t["time"])}
        if gen == 3: m["date_unixtime"] = _unix(t["time"])
        if "edited" in t:
            e = t["time"] + dt.timedelta(seconds=t["edited"])
            m["edited"] = _date(e)
            if gen == 3: m["edited_unixtime"] = _unix(e)
        who = t["who"]
        fid = _peer_id(chat["id"], gen, "channel") if who == "C" else _peer_id(who, gen)
        if kind == "service":
            act = t["service"]
            if act == "create_channel": m.update(actor=chat["name"], actor_id=_peer_id(chat["id"], gen, "channel"))
            else: m.update(actor=_name(who, chat), actor_id=fid)
            if act != "custom": m["action"] = act
            if "title" in t: m["title"] = t["title"]
            if "members" in t: m["members"] = [P[k][1] for k in t["members"]]
            if "inviter" in t: m["inviter"] = P[t["inviter"]][1]
            if act == "pin_message": m["message_id"] = labels[t["reply"]]
            if t.get("duration"): m["duration_seconds"] = t["duration"]
            if "reason" in t: m["discard_reason"] = t["reason"]
            if act == "custom": m["information_text"] = t["info"]
            m.update(_text_fields("", gen))
        else:
            m["from"], m["from_id"] = _name(who, chat), fid
            if "author" in t: m["author"] = t["author"]
            if "fwd" in t:
                name, fwd_id = t["fwd"]
                m["forwarded_from"] = name
                if fwd_id and gen == 3: m["forwarded_from_id"] = fwd_id
            if "saved_from" in t: m["saved_from"] = t["saved_from"]
            if "reply" in t: m["reply_to_message_id"] = labels[t["reply"]]
            if "via_bot" in t: m["via_bot"] = t["via_bot"]
            m.update(_media(t, rng))
            m.update(_text_fields(t.get("text", ""), gen))
        if "react" in t and gen == 3:
            m["reactions"] = [{"type": "emoji", "count": len(ws), "emoji": emo,
                               "recent": [{"from": P[w][1], "from_id": _peer_id(w, gen),
                                           "date": _date(t["time"] + dt.timedelta(minutes=3 + k))}
                                          for k, w in enumerate(ws)]} for emo, ws in t["react"]]
        msgs.append(m)
    return msgs


def _consecutive_ids(n, rng, first):
    out, cur = [], first
    for _ in range(n):
        out.append(cur); cur += 1 if rng.random() < 0.9 else rng.randint(2, 4)
    return out


def build(seed=SEED):
    "Build (whole-account export, single-chat export, planted-pii fixture) as Python objects."
    rng = random.Random(seed)
    chats = [  # (chat header, sessions, generation, id space)
        (dict(name="Лена Смирнова", type="personal_chat", id=P["L"][0]), _expand(LENA, LENA_ROUTINE, LENA_FILLS), 3, "user"),
        (dict(name="Tom Baker", type="personal_chat", id=P["T"][0]), _expand(TOM, TOM_ROUTINE, TOM_FILLS), 3, "user"),
        (dict(name="Поход на Алтай 🏔", type="private_supergroup", id=1987650010), None, 3, "group"),
        (dict(name="Дима Ковалёв", type="personal_chat", id=P["D"][0]), _expand(DIMA, DIMA_ROUTINE, DIMA_FILLS), 3, "user"),
        (dict(name="Никита пишет код", type="public_channel", id=1987650001),
         _expand(CHANNEL, CHANNEL_ROUTINE, CHANNEL_FILLS), 3, "own"),
        (dict(name="Мама", type="personal_chat", id=P["M"][0]), _expand(MAMA, MAMA_ROUTINE, MAMA_FILLS), 1, "user"),
        (dict(name="Weather Bot", type="bot_chat", id=P["B"][0]), _expand(BOT, BOT_ROUTINE, BOT_FILLS), 3, "user"),
        (dict(type="saved_messages", id=OWNER["id"]), SAVED, 3, "user"),
    ]
    # --- timelines
    timed = []
    for head, sessions, gen, space in chats:
        name = head.get("name", "Saved Messages")
        if sessions is None:  # the group: basic part (Jan-Feb) then the supergroup (Feb-Aug)
            mid = dt.datetime(2024, 2, 20, tzinfo=TZ)
            basic = _schedule(GROUP_BASIC, rng, START + dt.timedelta(days=3), mid)
            for t in basic: t["basic"] = True
            sup = _schedule(_expand(GROUP, GROUP_ROUTINE, GROUP_FILLS), rng, mid + dt.timedelta(hours=1), END)
            turns = basic + sup
        else:
            turns = _schedule(sessions, rng)
        _check_style(name, turns)
        timed.append((head, turns, gen, space))
    # --- ids: personal chats, bots, saved messages and basic groups share one account-wide counter
    pool = sorted(((t["time"], ci, ti) for ci, (_, turns, _, space) in enumerate(timed)
                   for ti, t in enumerate(turns) if space == "user" or t.get("basic")))
    gids = _consecutive_ids(len(pool), rng, 183_204)
    ids = {ci: [None] * len(turns) for ci, (_, turns, _, _) in enumerate(timed)}
    for (_, ci, ti), g in zip(pool, gids):
        ids[ci][ti] = g + MIGRATED_SHIFT if timed[ci][1][ti].get("basic") else g
    for ci, (_, turns, _, space) in enumerate(timed):
        if space != "user":
            own = iter(_consecutive_ids(len(turns), rng, 1))
            ids[ci] = [x if x is not None else next(own) for x in ids[ci]]
    chat_objs = [dict(head, messages=_serialise(head, turns, ids[ci], gen, rng))
                 for ci, (head, turns, gen, _) in enumerate(timed)]
    # --- left chat (generation 2)
    lhead = dict(name="Python Moscow Chat", type="public_supergroup", id=1987650002)
    lturns = _schedule(LEFT, rng, START, dt.datetime(2024, 3, 1, tzinfo=TZ))
    _check_style(lhead["name"], lturns)
    left = dict(lhead, messages=_serialise(lhead, lturns, _consecutive_ids(len(lturns), rng, 48_210), 2, rng))

    export = {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't sell your data, "
                 "and it never will. (This sample is synthetic: written for llmclone_nb by tools/make_sample_export.py.)",
        "personal_information": {"user_id": OWNER["id"], "first_name": OWNER["first"], "last_name": OWNER["last"],
                                 "phone_number": OWNER["phone"], "username": OWNER["username"], "bio": OWNER["bio"]},
        "profile_pictures": [{"date": "2023-11-02T19:14:05", "date_unixtime": "1698941645",
                              "photo": "(Photo not included. Change data exporting settings to download.)"}],
        "contacts": {"about": "If you allow access, contacts are continuously synced with Telegram. "
                              "Contacts are used to notify you when your contacts join Telegram.",
                     "list": [{"user_id": P[k][0], "first_name": P[k][1].split()[0],
                               "last_name": (P[k][1].split() + [""])[1], "phone_number": ph,
                               "date": "2023-09-12T10:00:00", "date_unixtime": "1694502000"}
                              for k, ph in (("L", "+7 916 555 0123"), ("T", "+44 20 7946 0000"),
                                            ("D", "+7 903 555 0100"), ("M", "+7 495 555 7700"))]},
        "frequent_contacts": {"about": "This rating predicts how likely it is that you'd be messaging "
                                       "that person or chat.",
                              "list": [{"id": P["L"][0], "category": "people", "type": "user",
                                        "name": P["L"][1], "rating": 5.23},
                                       {"id": P["T"][0], "category": "people", "type": "user",
                                        "name": P["T"][1], "rating": 2.71},
                                       {"id": P["X"][0], "category": "people", "type": "user",
                                        "name": None, "rating": 0.05}]},
        "chats": {"about": "This page lists all chats from this export.", "list": chat_objs},
        "left_chats": {"about": "This page lists all supergroups and channels from this export that you've left.",
                       "list": [left]},
    }

    # --- single-chat export
    krng = random.Random(seed + 1)
    khead = dict(name="Катя Орлова", type="personal_chat", id=P["K"][0])
    kturns = _schedule(_expand(KATE, KATE_ROUTINE, KATE_FILLS), krng, dt.datetime(2024, 2, 1, tzinfo=TZ), END)
    _check_style(khead["name"], kturns)
    single = dict(khead, messages=_serialise(khead, kturns, _consecutive_ids(len(kturns), krng, 512_090), 3, krng))

    return export, single, _fixture(export, single)


def _flat(text):
    return text if isinstance(text, str) else "".join(p if isinstance(p, str) else p["text"] for p in text)


def _fixture(export, single):
    "Locate every planted value (exactly one message each) and check the survivors exist."
    sources = [("sample_export", c) for c in export["chats"]["list"] + export["left_chats"]["list"]]
    sources += [("sample_chat", single)]
    planted, all_text = [], []
    for value, typ in PII.items():
        hits = []
        for file, chat in sources:
            for m in chat["messages"]:
                if value in _flat(m.get("text", "")):
                    ent = isinstance(m["text"], list) and any(
                        isinstance(p, dict) and p["type"] in ("email", "phone", "bank_card") and p["text"] == value
                        for p in m["text"])
                    hits.append(dict(type=typ, value=value, file=file, chat=chat.get("name", "Saved Messages"),
                                     message_id=m["id"], as_entity=ent))
        assert len(hits) == 1, f"planted value {value!r} found {len(hits)} times"
        planted.extend(hits)
    texts = [_flat(m.get("text", "")) for _, c in sources for m in c["messages"]]
    for s in MUST_SURVIVE:
        assert any(s in t for t in texts), f"must-survive string {s!r} not in any message"
        assert not any(s in v or v in s for v in PII), s
    return {"planted": planted, "must_survive": MUST_SURVIVE}


# ---------------------------------------------------------------------------------------------------- writing
def _dump(obj):
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def _write(path, text):
    "Atomic write: temp file in the same folder, then os.replace."
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f: f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp): os.unlink(tmp)
        raise


OUTPUTS = ("llmclone_nb/data/sample_export/result.json", "llmclone_nb/data/sample_chat/result.json",
           "tests/fixtures/planted_pii.json")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parents[1],
                    help="root under which the three files are written (default: the repository root)")
    args = ap.parse_args(argv)
    for rel, obj in zip(OUTPUTS, build()):
        _write(args.out_dir / rel, _dump(obj))
        print(f"wrote {args.out_dir / rel}")


if __name__ == "__main__":
    main()
