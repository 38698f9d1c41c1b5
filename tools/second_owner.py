#!/usr/bin/env python3
"""A second owner's Telegram Desktop whole-account export, unlike the bundled sample in every habit the chapters look at.

Stdlib only, deterministic (seeded `random.Random`): `build()` returns the export as a Python object, `write(dest)` writes
`dest/result.json` as Telegram Desktop does (UTF-8, indented with one space, current format generation: string ids,
`date_unixtime`, `text_entities`; see ../shared/TELEGRAM_FORMAT.md).

Usage: `.venv/bin/python tools/second_owner.py DEST_DIR` (writes DEST_DIR/result.json).

THE OWNER (Emily Carter, user_id 5550200001, @emily_carter_demo), against the sample's Никита Белов:
- mostly English (about three messages in four), Russian with her friend Дмитрий and her grandmother (the sample: mostly Russian);
- sentence case: every message starts with a capital letter, and "I" and names are capitalised (the sample: all lowercase);
- final periods: most messages end with "." (the sample: never);
- emoji in about a third of her messages, inside the text, so that the message still ends with its period (the sample: 3 %);
- never a bracket smiley: no ")" anywhere in her messages (the sample: in over 40 %);
- one longer message rather than bursts of short ones; signature words "Honestly", "Absolutely", "Конечно".
Everybody else writes the other way: lowercase, no final period, ")" and "haha" (Sarah, Дмитрий, Jordan), or sentence case
with "..." (Dad). Chats (other names and sizes than the sample's): Sarah Mitchell (the biggest), Дмитрий Волков, Dad, Бабушка,
Jordan Lee (small), the group "Book Club 📚" (private_group), a bot chat, saved messages, and one left supergroup.
Synthetic personal data (example.com emails, 555 phone numbers, a public test card number) is planted in a few messages
(`PII`) so that scrubbing has something to find. Everything is invented.
"""
import argparse, datetime as dt, json, os, random, re, sys, tempfile
from pathlib import Path

SEED = 20250214
TZ = dt.timezone(dt.timedelta(hours=1))        # the exporting machine's local time (Lisbon, winter)
START = dt.datetime(2025, 2, 3, tzinfo=TZ)
END = dt.datetime(2025, 10, 28, tzinfo=TZ)
NOFILE = "(File not included. Change data exporting settings to download.)"

OWNER = dict(id=5550200001, first="Emily", last="Carter", phone="+1 555 010 0200", username="@emily_carter_demo",
             bio="Books, coffee and long walks.")
P = {  # key -> (user_id, display name)
    "me": (OWNER["id"], "Emily Carter"), "S": (5550200002, "Sarah Mitchell"), "D": (5550200003, "Дмитрий Волков"),
    "F": (5550200004, "Dad"), "G": (5550200005, "Бабушка"), "J": (5550200006, "Jordan Lee"),
    "R": (5550200007, "Priya Shah"), "H": (5550200008, "Hannah Brooks"), "B": (5550209001, "Coffee Order Bot"),
    "L1": (5550200011, "Marta Silva"), "L2": (5550200012, "Tiago Costa"),
}

# Planted personal data: value -> type (each value occurs in exactly one message; `build` checks).
PII = {"emily.carter@example.com": "email", "sarah.m@example.org": "email", "d.volkov@example.net": "email",
       "+1 (555) 014-2273": "phone", "+44 20 7946 0312": "phone", "8 (916) 555-31-07": "phone",
       "4242 4242 4242 4242": "card"}

EMOJI = ["😊", "🙂", "✨", "☕", "📚", "🌿", "🎉", "💛", "🙏", "😄", "🌧", "🍰"]

# ---------------------------------------------------------------------------------------------------- fills
F = dict(
    day=["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    time=["six", "seven", "half past six", "eight", "noon", "five", "ten", "nine", "half past four"],
    place=["the little café on Rua Augusta", "the park by the river", "the bookshop near the station", "the new ramen place",
           "the market", "the bakery on the corner", "the gallery", "the climbing gym", "the cinema", "the bike path"],
    thing=["the spare key", "your blue umbrella", "the charger", "the recipe", "the tickets", "the map", "the photos",
           "the invoice", "the plant", "the camera"],
    book=["Middlemarch", "The Remains of the Day", "Piranesi", "Anna Karenina", "Circe", "Stoner", "The Overstory",
          "Pachinko", "Klara and the Sun", "The Master and Margarita"],
    film=["the new Wes Anderson film", "that documentary about octopuses", "Past Lives", "an old Hitchcock", "the Dune sequel",
          "a French comedy", "the festival short films"],
    food=["lasagne", "a lemon cake", "soup", "pancakes", "a curry", "banana bread", "dumplings", "a salad"],
    work=["the quarterly report", "the client presentation", "the grant application", "the design review",
          "the budget sheet", "the onboarding guide", "the survey results"],
    weather=["rainy", "windy", "sunny", "grey", "cold", "warm"],
    den=["понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье"],
    chas=["шесть", "семь", "восемь", "пять", "полдень", "девять"],
    mesto=["кафе у набережной", "парк", "книжный", "музей", "рынок", "кинотеатр", "вокзал"],
    veshch=["книгу", "зонт", "зарядку", "фотографии", "билеты", "ключи", "рецепт"],
    eda=["пирог", "борщ", "блины", "сырники", "пельмени", "вареники"],
    film_ru=["новый фильм Звягинцева", "старую комедию", "документалку про космос", "мультфильм", "сериал про врачей"],
)

# Exchanges: the other person's line(s), then the owner's reply (a list of her sentences, each already ending in . ? or !).
# "{x}" slots are filled from F. The owner's lines go through `_own`, which may add an emoji inside; others' are as written.
SARAH = [
    (["hey are you free on {day}", "thinking of {place}"], ["Yes, {day} works for me.", "Shall we meet there at {time}?"]),
    (["did you finish {book} yet"], ["Almost, I have two chapters left.", "Honestly, the ending is making me nervous."]),
    (["omg i just saw {film} haha", "you have to see it"], ["I have been meaning to.", "Is it as good as everyone says?"]),
    (["can i borrow {thing} this weekend"], ["Of course.", "I will leave it with the neighbour if I am out."]),
    (["im making {food} tonight", "want some :)"], ["Absolutely, thank you.", "I can bring dessert."]),
    (["how did {work} go"], ["It went well, I think.", "They asked good questions and nobody fell asleep."]),
    (["its so {weather} today ugh"], ["I know.", "I am staying in with tea and a book."]),
    (["are you coming to book club on {day}"], ["Yes, I will be there.", "I still have to finish {book}, though."]),
    (["haha guess who i met at {place}"], ["No idea, tell me.", "Was it someone from work?"]),
    (["do you still have {thing}"], ["I think so.", "Let me check when I get home."]),
    (["running late sorry", "10 min"], ["No problem.", "I will get us a table."]),
    (["what are you up to this weekend"], ["Not much, honestly.", "Maybe a walk to {place} if it is not {weather}."]),
    (["i think i left {thing} at yours"], ["You did, it is on the shelf by the door.", "Come by whenever you like."]),
    (["any book recommendations", "need something for the train"], ["Try {book}.", "It is slow at first but worth it."]),
    (["thank you for yesterday :)"], ["Thank you for coming.", "It was a lovely evening."]),
    (["can you send me the photos from {day}"], ["Sure, I will send them tonight.", "There are a lot of them."]),
    (["ugh {work} is due tomorrow"], ["You will be fine.", "Do you want me to read it before you send it?"]),
    (["lunch on {day}?"], ["Yes, please.", "How about {place} at {time}?"]),
    (["did you see the news about the strike", "no trains on {day}"], ["I did not, thank you for telling me.",
                                                                      "I will cycle then."]),
    (["happy friday!!"], ["Happy Friday to you too.", "Any plans?"]),
]
DIMA = [  # Russian; Дмитрий writes lowercase with ")"
    (["привет) ты в {den} свободна?"], ["Привет!", "Да, в {den} я свободна.", "Что ты предлагаешь?"]),
    (["пошли в {mesto} в {chas}?"], ["Конечно.", "Встретимся у входа."]),
    (["ты вернула мне {veshch}? не могу найти)"], ["Да, я отдала её твоей сестре.", "Спроси у неё."]),
    (["смотрела {film_ru}?"], ["Ещё нет.", "Говорят, очень хороший."]),
    (["как дела на работе?)"], ["Нормально, много встреч.", "А у тебя как?"]),
    (["испекла что-нибудь на выходных?"], ["Да, {eda}.", "Могу оставить тебе кусочек."]),
    (["скинь ссылку на ту книгу плиз"], ["Сейчас найду.", "Это «{book}», в мягкой обложке."]),
    (["ты где? мы уже в {mesto})"], ["Уже иду.", "Буду через десять минут."]),
    (["с днём рождения!!))"], ["Спасибо большое!", "Приходи вечером, будет торт."]),
    (["поможешь с английским текстом?"], ["Конечно, присылай.", "Посмотрю сегодня вечером."]),
    (["ну как тебе {mesto}?)"], ["Очень понравилось.", "Надо сходить ещё раз."]),
    (["в {den} дождь обещают("], ["Тогда пойдём в музей.", "Там тепло и сухо."]),
]
DAD = [
    (["Hello love. Are you coming for dinner on {day}..."], ["Yes, I will be there at {time}.", "Should I bring anything?"]),
    (["Your mother says the garden looks lovely..."], ["Send me a photo, please.", "I miss it."]),
    (["Did you get the parcel..."], ["Yes, it arrived today.", "Thank you, it is perfect."]),
    (["Weather is {weather} here..."], ["It is {weather} here too.", "Stay warm."]),
    (["Remember to call your aunt..."], ["I will call her on {day}.", "Thank you for reminding me."]),
    (["How is work..."], ["Busy but good.", "We finished {work} last week."]),
    (["I have fixed the bike..."], ["Thank you, Dad.", "I will pick it up on {day}."]),
]
GRAN = [  # Russian; Бабушка writes sentence case with "!!"
    (["Эмили, как ты там?!"], ["Всё хорошо, бабушка.", "Много работы, но я отдыхаю по выходным."]),
    (["Ты кушаешь нормально?!"], ["Конечно, бабушка.", "Вчера сварила суп."]),
    (["Пришли фотографию!!"], ["Сейчас пришлю.", "Это я в парке."]),
    (["Когда приедешь?!"], ["Летом, в июле.", "Я уже смотрю билеты."]),
    (["Испекла {eda}!! Жаль, тебя нет."], ["Очень жаль.", "Испечёшь ещё, когда я приеду?"]),
]
JORDAN = [
    (["yo you still need a ride on {day}"], ["Yes, please.", "I will be ready at {time}."]),
    (["got {thing}"], ["Great, thank you.", "I owe you a coffee."]),
    (["running 5 late"], ["No worries."]),
    (["u coming to the thing on {day}"], ["I think so.", "Who else is going?"]),
]
GROUP = [  # Book Club 📚: (speaker, line) pairs, then the owner's reply
    ([("R", "Next month: {book}?"), ("S", "yes!! finally")], ["I am in.", "I have a spare copy if anyone needs one."]),
    ([("H", "Where do we meet on {day}?")], ["My place, at {time}.", "I will make {food}."]),
    ([("S", "i didnt finish it sorry haha")], ["That is fine, nobody did.", "We can still talk about the first half."]),
    ([("R", "Who is bringing snacks this time?")], ["I can bring {food}.", "Someone else please bring drinks."]),
    ([("H", "Did anyone like the ending?"), ("S", "no lol")], ["Honestly, I loved it.", "It felt earned."]),
    ([("R", "Can we move to {day}?")], ["{day} works for me.", "Same time?"]),
]
BOT = [("me", "/order latte"), ("B", "Your latte will be ready in 5 minutes."), ("me", "/order flat white"),
       ("B", "Your flat white will be ready in 4 minutes."), ("me", "/status"), ("B", "No open orders.")]


def _fill(s, rng, fills):
    "Fill `{slot}`s, one value per slot name per exchange (so a slot repeated in a reply agrees with the question)."
    def rep(m):
        k = m.group(1)
        if k not in fills: fills[k] = rng.choice(F[k])
        return fills[k]
    return re.sub(r"\{(\w+)\}", rep, s)


def _own(sentences, rng):
    "The owner's message: her sentences joined, sometimes an emoji inside (after a sentence or at the start)."
    text = " ".join(sentences)
    if rng.random() < 0.36:
        e = rng.choice(EMOJI)
        if len(sentences) > 1 and rng.random() < 0.7:
            k = rng.randrange(1, len(sentences))
            text = " ".join(sentences[:k]) + f" {e} " + " ".join(sentences[k:])
        else: text = f"{e} {text}"
    return text


# ---------------------------------------------------------------------------------------------------- sessions
def _session(bank, rng, who, lo=2, hi=4, owner_first=False):
    "[(speaker, text or dict)]: a few exchanges from `bank`."
    out = []
    for ex in rng.sample(bank, min(len(bank), rng.randint(lo, hi))):
        others, mine = ex
        fills = {}
        if owner_first and not out and rng.random() < 0.3:
            out.append(("me", _own([_fill(s, rng, fills) for s in mine], rng))); continue
        for o in others:
            spk, line = o if isinstance(o, tuple) else (who, o)
            out.append((spk, _fill(line, rng, fills)))
        out.append(("me", _own([_fill(s, rng, fills) for s in mine], rng)))
    return out


def _specials():
    "Scripted turns (media, entities, replies, edits, service messages, planted data), keyed by chat."
    return {
        "S": [[("S", "whats your work email again"),
               ("me", {"text": ["It is ", ("email", "emily.carter@example.com"), ", but I rarely check it at weekends."]}),
               ("S", {"text": ["thx mine is ", ("email", "sarah.m@example.org"), ""]})],
              [("S", "new number btw +1 (555) 014-2273"), ("me", "Saved it, thank you.")],
              [("S", {"sticker": "😂"}), ("me", {"text": "I cannot believe you sent that sticker 😄 It made my day.", "edited": 40})],
              [("me", {"photo": (1280, 960), "text": "The view from the hill this morning 🌿 Worth the climb."}),
               ("S", "wow!! where is that"), ("me", {"reply": -2, "text": "Monsanto park, the top of the west trail."})],
              [("S", {"service": "phone_call", "duration": 412, "reason": "hangup"}),
               ("S", "sorry the line was bad"), ("me", "No problem, we can talk tomorrow.")],
              [("me", {"text": ["The booking is here: ", ("link", "https://tickets.example.com/event/31415"), "."]}),
               ("S", "got it ty")],
              [("S", {"fwd": ("Lisbon Events", "channel2031415926"), "text": "Free concert in the park on Saturday at 18:00."}),
               ("me", "We should go, it sounds lovely.")],
              [("S", "can you pay me back for the tickets", ), ("me", "Yes, I will send it tonight."),
               ("S", "my card is 4242 4242 4242 4242 thanks :)"), ("me", "Done, it should arrive tomorrow.")]],
        "D": [[("D", "запиши мой рабочий: 8 (916) 555-31-07)"), ("me", "Записала, спасибо.")],
              [("D", "почта новая: d.volkov@example.net"), ("me", "Хорошо, поправлю в контактах.")],
              [("D", {"voice": 23}), ("me", "Не могу сейчас слушать голосовые, напиши, пожалуйста.")]],
        "F": [[("F", "Your uncle's new office number is +44 20 7946 0312..."), ("me", "Thank you, I will call him on Monday.")],
              [("me", {"service": "phone_call", "duration": 1260, "reason": "hangup"}), ("F", "Lovely to talk, love..."),
               ("me", "You too, Dad.")]],
        "G": [[("G", {"photo": (960, 1280)}), ("G", "Это наш сад!!"), ("me", "Какая красота, бабушка.")]],
    }


def _schedule(sessions, rng, start=START, end=END):
    "[(speaker, payload, datetime)]: sessions spread over [start, end] at least 8 hours apart, gaps of seconds to minutes inside."
    n, span, out, prev = len(sessions), (end - start).total_seconds(), [], None
    for i, sess in enumerate(sessions):
        t = start + dt.timedelta(seconds=span * (i + 0.1 + 0.8 * rng.random()) / n)
        t = t.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59), second=rng.randint(0, 59))
        if prev is not None and t < prev + dt.timedelta(hours=8): t = prev + dt.timedelta(hours=rng.randint(8, 30))
        for j, (who, x) in enumerate(sess):
            if j: t += dt.timedelta(seconds=rng.randint(20, 240) if sess[j - 1][0] != who else rng.randint(5, 30))
            out.append((who, x, t))
        prev = t
    return out


# ---------------------------------------------------------------------------------------------------- serialising
def _entity(p):
    if isinstance(p, str): return {"type": "plain", "text": p}
    return {"type": p[0], "text": p[1]}


def _text_fields(text):
    "`text` (a string, or a list mixing strings and entity objects; it may end with \"\") and `text_entities`."
    parts = ([text] if text else []) if isinstance(text, str) else list(text)
    if not parts: t = ""
    elif len(parts) == 1 and isinstance(parts[0], str): t = parts[0]
    else: t = [p if isinstance(p, str) else _entity(p) for p in parts]
    return {"text": t, "text_entities": [_entity(p) for p in parts if p != ""]}


def _peer(key): return f"user{P[key][0]}"


def _messages(turns, first_id, rng, chat_name):
    "Message objects (current format) for [(speaker, payload, time)]."
    msgs, ids, cur = [], [], first_id
    for _ in turns:
        ids.append(cur); cur += 1 if rng.random() < 0.9 else rng.randint(2, 4)
    for i, (who, x, t) in enumerate(turns):
        x = {"text": x} if isinstance(x, str) else dict(x)
        m = {"id": ids[i], "type": "service" if "service" in x else "message",
             "date": t.replace(tzinfo=None).isoformat(), "date_unixtime": str(int(t.timestamp()))}
        if "edited" in x:
            e = t + dt.timedelta(seconds=x["edited"])
            m.update(edited=e.replace(tzinfo=None).isoformat(), edited_unixtime=str(int(e.timestamp())))
        if "service" in x:
            m.update(actor=P[who][1], actor_id=_peer(who), action=x["service"])
            if "title" in x: m["title"] = x["title"]
            if "members" in x: m["members"] = [P[k][1] for k in x["members"]]
            if x.get("duration"): m["duration_seconds"] = x["duration"]
            if "reason" in x: m["discard_reason"] = x["reason"]
            m.update(_text_fields(""))
        else:
            m.update({"from": P[who][1], "from_id": _peer(who)})
            if "fwd" in x: m.update(forwarded_from=x["fwd"][0], forwarded_from_id=x["fwd"][1])
            if "reply" in x: m["reply_to_message_id"] = ids[i + x["reply"]]
            if "photo" in x:
                w, h = x["photo"]
                m.update(photo=NOFILE, photo_file_size=rng.randint(80_000, 500_000), width=w, height=h)
            if "sticker" in x:
                m.update(file=NOFILE, file_name="sticker.webp", file_size=rng.randint(9_000, 40_000), thumbnail=NOFILE,
                         thumbnail_file_size=rng.randint(2_000, 9_000), media_type="sticker", sticker_emoji=x["sticker"],
                         mime_type="image/webp", width=512, height=512)
            if "voice" in x:
                m.update(file=NOFILE, file_size=x["voice"] * 2_000 + rng.randint(0, 999), media_type="voice_message",
                         mime_type="audio/ogg", duration_seconds=x["voice"])
            m.update(_text_fields(x.get("text", "")))
            if "react" in x:
                m["reactions"] = [{"type": "emoji", "count": 1, "emoji": x["react"], "recent": [
                    {"from": P["me"][1], "from_id": _peer("me"), "date": (t + dt.timedelta(minutes=2)).replace(tzinfo=None).isoformat()}]}]
        msgs.append(m)
    return msgs


def _plain(text):
    if isinstance(text, str): return text
    return "".join(p if isinstance(p, str) else p["text"] for p in text)


def _check_owner(chat_name, msgs):
    "Enforce the owner's habits on the data itself (planted values and pasted links aside)."
    for m in msgs:
        if m.get("from_id") != _peer("me") or not m.get("text"): continue
        t = _plain(m["text"])
        assert ")" not in t, f"{chat_name}: a bracket in the owner's message {t!r}"
        assert t[0].isupper() or not t[0].isalpha() and t.split(" ", 1)[1][0].isupper(), f"{chat_name}: not sentence case: {t!r}"


def build(seed=SEED):
    "The whole-account export as a Python object."
    rng = random.Random(seed)
    spec = _specials()
    plan = [  # key, chat header, sessions (count), bank
        ("S", dict(name="Sarah Mitchell", type="personal_chat", id=P["S"][0]), 44, SARAH),
        ("D", dict(name="Дмитрий Волков", type="personal_chat", id=P["D"][0]), 26, DIMA),
        ("F", dict(name="Dad", type="personal_chat", id=P["F"][0]), 18, DAD),
        ("G", dict(name="Бабушка", type="personal_chat", id=P["G"][0]), 9, GRAN),
        ("J", dict(name="Jordan Lee", type="personal_chat", id=P["J"][0]), 6, JORDAN),
    ]
    chats, next_id = [], 920_411
    for key, head, n, bank in plan:
        sessions = [_session(bank, rng, key, owner_first=True) for _ in range(n)]
        for k, s in enumerate(spec.get(key, [])): sessions.insert((k + 1) * len(sessions) // (len(spec[key]) + 1), list(s))
        msgs = _messages(_schedule(sessions, rng), next_id, rng, head["name"])
        next_id = msgs[-1]["id"] + 7
        _check_owner(head["name"], msgs)
        chats.append(dict(head, messages=msgs))
    # the group: created by Priya, the others invited, then the club's sessions
    gsess = [[("R", {"service": "create_group", "title": "Book Club 📚", "members": ["R", "me", "S", "H"]}),
              ("R", "Welcome everyone! First book: {b}.".replace("{b}", "Stoner")), ("me", "Thank you for setting this up, Priya.")]]
    gsess += [_session(GROUP, rng, "R", 1, 3) for _ in range(30)]
    gmsgs = _messages(_schedule(gsess, rng), 1, rng, "Book Club 📚")
    _check_owner("Book Club 📚", gmsgs)
    chats.insert(2, dict(name="Book Club 📚", type="private_group", id=4440200010, messages=gmsgs))
    chats.append(dict(name="Coffee Order Bot", type="bot_chat", id=P["B"][0],
                      messages=_messages(_schedule([BOT[:2], BOT[2:4], BOT[4:]], rng), next_id, rng, "bot")))
    saved = [[("me", "Books to buy: Piranesi, Stoner, Circe.")], [("me", "Dentist on the 14th at 9:30.")],
             [("me", {"text": ["Recipe: ", ("link", "https://recipes.example.com/lemon-cake"), ""]})]]
    chats.append(dict(type="saved_messages", id=OWNER["id"], messages=_messages(_schedule(saved, rng), next_id + 40, rng, "saved")))
    left_sess = [[("L1", "Olá! Anyone know a good dentist in Alfama?"), ("me", "Mine is on Rua dos Remédios, I can recommend her."),
                  ("L2", "thanks!")], [("L2", "Meetup on Thursday at the usual bar?"), ("me", "I cannot make it this time.")]]
    left = dict(name="Lisbon Expats", type="public_supergroup", id=2031400077,
                messages=_messages(_schedule(left_sess, rng, START, START + dt.timedelta(days=40)), 51_200, rng, "left"))
    export = {
        "about": "Here is the data you requested. Remember: Telegram is ad free, it doesn't sell your data, and it never will. "
                 "(This export is synthetic: written for llmclone_nb's tests by tools/second_owner.py.)",
        "personal_information": {"user_id": OWNER["id"], "first_name": OWNER["first"], "last_name": OWNER["last"],
                                 "phone_number": OWNER["phone"], "username": OWNER["username"], "bio": OWNER["bio"]},
        "contacts": {"about": "If you allow access, contacts are continuously synced with Telegram. "
                              "Contacts are used to notify you when your contacts join Telegram.",
                     "list": [{"user_id": P[k][0], "first_name": P[k][1].split()[0], "last_name": (P[k][1].split() + [""])[1],
                               "phone_number": ph, "date": "2024-11-02T10:00:00", "date_unixtime": "1730538000"}
                              for k, ph in (("S", "+1 555 014 0002"), ("D", "+7 916 555 0003"), ("F", "+44 20 7946 0004"))]},
        "chats": {"about": "This page lists all chats from this export.", "list": chats},
        "left_chats": {"about": "This page lists all supergroups and channels from this export that you've left.", "list": [left]},
    }
    texts = [_plain(m.get("text", "")) for c in chats + [left] for m in c["messages"]]
    for v in PII: assert sum(v in t for t in texts) == 1, f"planted value {v!r} not in exactly one message"
    return export


def owner_texts(export):
    "The owner's message texts (plain) in an export: what the style measurements below read."
    uid, out = export["personal_information"]["user_id"], []
    for c in export["chats"]["list"] + export.get("left_chats", {}).get("list", []):
        for m in c["messages"]:
            if str(m.get("from_id", "")) in (str(uid), f"user{uid}") and m.get("text"): out.append(_plain(m["text"]))
    return out


def write(dest):
    "Write `dest/result.json` (atomically); returns its path."
    dest = Path(dest); dest.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".result.json.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f: f.write(json.dumps(build(), ensure_ascii=False, indent=1) + "\n")
    os.replace(tmp, dest / "result.json")
    return dest / "result.json"


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dest", type=Path, help="folder for result.json")
    print(write(ap.parse_args().dest.expanduser()))
