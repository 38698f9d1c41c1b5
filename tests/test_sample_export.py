"""The bundled synthetic Telegram exports: present, reproducible, and carrying every feature the parser,
the scrubber and the style checks rely on. Regenerate with `.venv/bin/python tools/make_sample_export.py`."""
import collections, datetime as dt, json, re, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPORT = ROOT / "llmclone_nb" / "data" / "sample_export" / "result.json"
CHAT = ROOT / "llmclone_nb" / "data" / "sample_chat" / "result.json"
FIXTURE = ROOT / "tests" / "fixtures" / "planted_pii.json"
GEN = ROOT / "tools" / "make_sample_export.py"
OWNER_IDS = {5550100001, "user5550100001"}
NOFILE = "(File not included. Change data exporting settings to download.)"


def luhn(s):
    d = [int(c) for c in s if c.isdigit()][::-1]
    return sum(x if i % 2 == 0 else (x * 2 - 9 if x > 4 else x * 2) for i, x in enumerate(d)) % 10 == 0


def iban_ok(s):
    s = s.replace(" ", "")
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def flat(text):
    return text if isinstance(text, str) else "".join(p if isinstance(p, str) else p["text"] for p in text)


def ts(m):
    "Seconds since the epoch: date_unixtime, else the local `date` (the generator wrote UTC+3)."
    if "date_unixtime" in m: return int(m["date_unixtime"])
    return int(dt.datetime.fromisoformat(m["date"]).replace(tzinfo=dt.timezone(dt.timedelta(hours=3))).timestamp())


@pytest.fixture(scope="module")
def export(): return json.loads(EXPORT.read_text(encoding="utf-8"))

@pytest.fixture(scope="module")
def single(): return json.loads(CHAT.read_text(encoding="utf-8"))

@pytest.fixture(scope="module")
def fixture(): return json.loads(FIXTURE.read_text(encoding="utf-8"))

@pytest.fixture(scope="module")
def chats(export): return export["chats"]["list"] + export["left_chats"]["list"]

@pytest.fixture(scope="module")
def msgs(chats): return [m for c in chats for m in c["messages"]]

def by_name(chats, name): return next(c for c in chats if c.get("name") == name)


def test_files_exist_and_parse():
    for p in (EXPORT, CHAT, FIXTURE):
        assert p.is_file(), f"{p} missing: run tools/make_sample_export.py"
        raw = p.read_bytes()
        json.loads(raw.decode("utf-8"))
        assert raw.startswith(b'{\n "'), f"{p}: not indented with one space as Telegram Desktop writes it"
    assert "Лена".encode() in EXPORT.read_bytes(), "Cyrillic must be written as UTF-8, not \\u escapes"


def test_generator_is_deterministic(tmp_path):
    subprocess.run([sys.executable, str(GEN), "--out-dir", str(tmp_path)], check=True, capture_output=True)
    for p in (EXPORT, CHAT, FIXTURE):
        fresh = tmp_path / p.relative_to(ROOT)
        assert fresh.read_bytes() == p.read_bytes(), f"{p} differs from a fresh generator run: regenerate it"
    assert not [f for f in tmp_path.rglob("*.tmp")], "temporary files left behind"


def test_whole_account_shape(export):
    assert list(export) == ["about", "personal_information", "profile_pictures", "contacts", "frequent_contacts",
                            "chats", "left_chats"]
    pi = export["personal_information"]
    assert list(pi) == ["user_id", "first_name", "last_name", "phone_number", "username", "bio"]
    assert pi["user_id"] == 5550100001 and pi["first_name"] == "Никита"
    assert set(export["chats"]) == {"about", "list"} and set(export["left_chats"]) == {"about", "list"}
    types = collections.Counter(c["type"] for c in export["chats"]["list"])
    assert types["personal_chat"] >= 3
    assert types["private_group"] + types["private_supergroup"] >= 1
    assert types["public_channel"] + types["private_channel"] >= 1
    assert types["bot_chat"] == 1 and types["saved_messages"] == 1
    assert "name" not in next(c for c in export["chats"]["list"] if c["type"] == "saved_messages")
    assert export["left_chats"]["list"], "left_chats should hold a chat"


def test_sizes_and_time_span(export, msgs, single):
    n = len([m for c in export["chats"]["list"] for m in c["messages"]])
    assert 800 <= n <= 1500, n
    assert 100 <= len(single["messages"]) <= 200
    assert list(single) == ["name", "type", "id", "messages"] and single["type"] == "personal_chat"
    times = [ts(m) for m in msgs if "date" in m]
    assert (max(times) - min(times)) / 86400 >= 180


def test_languages(export):
    def cyr(c):
        t = " ".join(flat(m.get("text", "")) for m in c["messages"])
        letters = [ch for ch in t if ch.isalpha()]
        return sum("а" <= ch.lower() <= "я" or ch in "ёЁ" for ch in letters) / max(1, len(letters))
    pers = [cyr(c) for c in export["chats"]["list"] if c["type"] == "personal_chat"]
    assert max(pers) > 0.8 and min(pers) < 0.2, pers   # a Russian and an English personal chat
    assert any(0.2 < x < 0.8 for x in [cyr(c) for c in export["chats"]["list"]]), "a mixed-language chat"


def test_message_ids_and_dates(chats, single):
    for c in chats + [single]:
        ms = [m for m in c["messages"]]
        ids = [m["id"] for m in ms]
        assert ids == sorted(ids) and len(set(ids)) == len(ids), c.get("name")
        dated = [m for m in ms if m["type"] != "unsupported"]
        assert [ts(m) for m in dated] == sorted(ts(m) for m in dated), c.get("name")
        for m in dated:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", m["date"]), m["date"]
            if "date_unixtime" in m:
                assert isinstance(m["date_unixtime"], str) and m["date_unixtime"].isdigit()
                local = dt.datetime.fromtimestamp(int(m["date_unixtime"]), dt.timezone(dt.timedelta(hours=3)))
                assert local.replace(tzinfo=None).isoformat() == m["date"]
        ids_in = set(ids)
        for m in ms:
            if "reply_to_message_id" in m: assert m["reply_to_message_id"] in ids_in
            if m.get("action") == "pin_message": assert m["message_id"] in ids_in


def test_generations(chats):
    gen1 = [c for c in chats if all(isinstance(m.get("from_id", m.get("actor_id", 0)), int) for m in c["messages"])]
    assert [c["name"] for c in gen1] == ["Мама"]
    for m in gen1[0]["messages"]:
        assert "date_unixtime" not in m and "text_entities" not in m and "edited_unixtime" not in m
    gen2 = [c for c in chats if c not in gen1 and all("date_unixtime" not in m for m in c["messages"])]
    assert gen2 and all(isinstance(m.get("from_id", m.get("actor_id")), str) for m in gen2[0]["messages"])
    for c in chats:
        if c in gen1 or c in gen2: continue
        for m in c["messages"]:
            if m["type"] == "unsupported": continue
            assert "date_unixtime" in m and "text_entities" in m, (c.get("name"), m["id"])
            fid = m.get("from_id", m.get("actor_id"))
            assert isinstance(fid, str) and re.fullmatch(r"(user|channel|chat)\d+", fid), fid


def test_text_entities_match_text(msgs):
    n_lists = 0
    for m in msgs:
        if "text_entities" not in m: continue
        ents, text = m["text_entities"], m["text"]
        assert all(isinstance(e, dict) and "type" in e for e in ents)
        assert "".join(e["text"] for e in ents) == flat(text)
        if isinstance(text, list):
            n_lists += 1
            assert [p if isinstance(p, str) else p for p in text] == \
                   [e["text"] if e["type"] == "plain" else e for e in ents]
        else:
            assert ents == ([{"type": "plain", "text": text}] if text else [])
    assert n_lists >= 20


def test_entity_types(msgs):
    ents = [p for m in msgs if isinstance(m.get("text"), list) for p in m["text"] if isinstance(p, dict)]
    kinds = collections.Counter(e["type"] for e in ents)
    for k in ("bold", "italic", "underline", "strikethrough", "link", "text_link", "mention", "mention_name",
              "code", "pre", "spoiler", "custom_emoji", "blockquote", "hashtag", "bot_command", "cashtag",
              "email", "phone", "bank_card"):
        assert kinds[k] >= 1, f"no {k} entity"
    assert all(isinstance(e["href"], str) for e in ents if e["type"] == "text_link")
    assert all(isinstance(e["user_id"], int) for e in ents if e["type"] == "mention_name")
    assert all("language" in e for e in ents if e["type"] == "pre")
    assert {e["language"] for e in ents if e["type"] == "pre"} >= {"", "bash"}
    assert all("document_id" in e for e in ents if e["type"] == "custom_emoji")
    assert any(isinstance(m.get("text"), list) and m["text"][-1] == "" for m in msgs), "a list ending with \"\""


def test_media_and_special_messages(msgs, chats):
    def has(pred): return sum(1 for m in msgs if pred(m))
    assert has(lambda m: m.get("media_type") == "sticker" and m.get("sticker_emoji") and m["file"] == NOFILE) >= 5
    assert has(lambda m: "photo" in m and m.get("width") and m.get("height") and m.get("photo_file_size")) >= 5
    assert has(lambda m: m.get("media_type") == "voice_message" and m.get("duration_seconds") and m.get("mime_type")) >= 2
    assert has(lambda m: m.get("media_type") == "video_message") >= 1
    assert has(lambda m: "forwarded_from" in m and "forwarded_from_id" in m) >= 2
    assert has(lambda m: "reply_to_message_id" in m) >= 4
    assert has(lambda m: "edited" in m and "edited_unixtime" in m) >= 3
    assert has(lambda m: "edited" in m and "edited_unixtime" not in m) >= 1   # generation 1
    assert has(lambda m: "via_bot" in m) >= 1
    assert has(lambda m: "poll" in m and m["poll"]["answers"]) >= 1
    assert has(lambda m: isinstance(m.get("location_information"), dict)) >= 2
    assert has(lambda m: "contact_information" in m) >= 1
    assert has(lambda m: m.get("reactions")) >= 3
    assert has(lambda m: "author" in m) >= 5
    assert has(lambda m: "saved_from" in m) >= 1
    unsup = [m for m in msgs if m["type"] == "unsupported"]
    assert unsup and all(set(m) == {"id", "type"} for m in unsup)
    dead = [m for m in msgs if "from" in m and m["from"] is None]
    assert dead and all(m.get("from_id") for m in dead)
    group = next(c for c in chats if c["type"] in ("private_group", "private_supergroup"))
    assert sum(m["id"] < 0 for m in group["messages"]) >= 5 and sum(m["id"] > 0 for m in group["messages"]) >= 50
    senders = {m["from_id"] for m in group["messages"] if "from_id" in m}
    assert len(senders - OWNER_IDS) >= 3 and senders & OWNER_IDS


def test_service_messages(msgs):
    svc = [m for m in msgs if m["type"] == "service"]
    actions = collections.Counter(m.get("action") for m in svc)
    for a in ("create_group", "invite_members", "pin_message", "phone_call", "migrate_from_group"):
        assert actions[a] >= 1, a
    assert any(None in m.get("members", []) for m in svc if m.get("action") == "invite_members")
    calls = [m for m in svc if m.get("action") == "phone_call"]
    assert any("duration_seconds" in m and m["discard_reason"] == "hangup" for m in calls)
    assert any(m["discard_reason"] == "missed" and "duration_seconds" not in m for m in calls)
    custom = [m for m in svc if "action" not in m]
    assert custom and all("information_text" in m and "actor" in m for m in custom)


def test_time_gaps_and_interleaving(export):
    gaps, same_sender_fast = [], 0
    for c in export["chats"]["list"]:
        ms = [m for m in c["messages"] if "date" in m]
        for a, b in zip(ms, ms[1:]):
            gaps.append(ts(b) - ts(a))
            if a.get("from_id") == b.get("from_id") and ts(b) - ts(a) < 30: same_sender_fast += 1
    assert 86400 + 300 in gaps, "a reply exactly one day and five minutes after the previous message"
    assert sum(g < 60 for g in gaps) >= 100 and same_sender_fast >= 50, "bursts of minutes"
    assert sum(3600 <= g < 12 * 3600 for g in gaps) >= 3, "gaps of hours"
    assert sum(g >= 3 * 86400 for g in gaps) >= 20, "gaps of several days"
    # two chats interleave: a message of chat B between two messages of chat A less than an hour apart
    per_chat = {c.get("name"): [ts(m) for m in c["messages"] if "date" in m] for c in export["chats"]["list"]}
    found = False
    for a, ta in per_chat.items():
        for b, tb in per_chat.items():
            if a != b and any(any(x < y < z for y in tb) for x, z in zip(ta, ta[1:]) if z - x < 3600):
                found = True
    assert found


def _owner_texts(export):
    out = []
    for c in export["chats"]["list"]:
        if c["type"] in ("bot_chat", "saved_messages", "public_channel"): continue
        for m in c["messages"]:
            if m.get("from_id") in OWNER_IDS and isinstance(m.get("text"), str) and m["text"] and "forwarded_from" not in m:
                out.append((c["name"], m["text"]))
    return out


def test_owner_style(export, fixture):
    pii = [p["value"] for p in fixture["planted"]]
    own = [(c, t) for c, t in _owner_texts(export) if not any(v in t for v in pii)]
    assert len(own) >= 300
    assert all(t == t.lower() for _, t in own), [t for _, t in own if t != t.lower()][:3]
    assert not any(t.endswith(".") for _, t in own)
    smiley = sum(t.endswith(")") for _, t in own) / len(own)
    assert smiley >= 0.25, smiley
    words = " ".join(t for _, t in own)
    for w in ("короче", "ну такое", "lol", "tbh"):
        assert words.count(w) >= 4, w
    en = [t for c, t in own if c == "Tom Baker"]
    assert len(en) >= 60 and sum(t.endswith(")") or "lol" in t or "tbh" in t for t in en) / len(en) > 0.4
    # bursts: runs of 2+ consecutive owner messages
    runs = 0
    for c in export["chats"]["list"]:
        ms = [m for m in c["messages"] if m["type"] == "message"]
        runs += sum(1 for a, b in zip(ms, ms[1:]) if a.get("from_id") in OWNER_IDS and b.get("from_id") in OWNER_IDS
                    and ts(b) - ts(a) < 60)
    assert runs >= 80, runs
    # everyone else: sentence case and punctuation
    others = [m["text"] for c in export["chats"]["list"] if c["type"] in ("personal_chat", "private_supergroup")
              for m in c["messages"] if m["type"] == "message" and isinstance(m.get("text"), str) and m["text"]
              and m.get("from_id") not in OWNER_IDS and not m["text"].startswith("http")]
    assert len(others) >= 300
    assert sum(t[0].isupper() for t in others) / len(others) > 0.9
    assert sum(t.rstrip()[-1] in ".!?:" for t in others) / len(others) > 0.8
    assert sum(t.endswith(")") for t in others) / len(others) < 0.05


def test_planted_pii(fixture, export, single):
    assert set(fixture) == {"planted", "must_survive"}
    planted = fixture["planted"]
    kinds = collections.Counter(p["type"] for p in planted)
    need = {"email": 8, "phone": 8, "card": 6, "iban": 2, "token_url": 2, "secret": 2}
    for k, n in need.items(): assert kinds[k] >= n, (k, kinds[k])
    assert set(kinds) == set(need)
    files = {"sample_export": [c for c in export["chats"]["list"] + export["left_chats"]["list"]],
             "sample_chat": [single]}
    owner_hits = 0
    for p in planted:
        assert set(p) == {"type", "value", "file", "chat", "message_id", "as_entity"}
        chat = next(c for c in files[p["file"]] if c.get("name", "Saved Messages") == p["chat"])
        m = next(m for m in chat["messages"] if m["id"] == p["message_id"])
        assert p["value"] in flat(m["text"]), p
        owner_hits += m.get("from_id") in OWNER_IDS
        etype = {"email": "email", "phone": "phone", "card": "bank_card"}.get(p["type"])
        is_ent = isinstance(m["text"], list) and any(isinstance(e, dict) and e["type"] == etype and e["text"] == p["value"]
                                                     for e in m["text"])
        assert is_ent == p["as_entity"], p
        if p["type"] == "card":
            assert luhn(p["value"]) and len(re.sub(r"\D", "", p["value"])) in (15, 16)
        if p["type"] == "iban": assert iban_ok(p["value"])
        if p["type"] == "token_url": assert re.search(r"[?&](token|access_key)=", p["value"])
        if p["type"] == "phone": assert 10 <= len(re.sub(r"\D", "", p["value"])) <= 12
    for k in ("email", "phone", "card"):
        assert {p["as_entity"] for p in planted if p["type"] == k} == {True, False}, k
    cards = [p["value"] for p in planted if p["type"] == "card"]
    assert any(" " in c for c in cards) and any(c.isdigit() for c in cards)
    assert 5 <= owner_hits <= len(planted) - 10, "plant in the owner's messages and in others'"
    assert {p["file"] for p in planted} == {"sample_export", "sample_chat"}
    phones = [p["value"] for p in planted if p["type"] == "phone"]
    assert any(v.startswith("+7") for v in phones) and any(v.startswith("8") for v in phones)
    assert any(v.startswith("+44") for v in phones) and any(v.startswith("+1") for v in phones)


def test_must_survive(fixture, msgs, single):
    texts = [flat(m.get("text", "")) for m in msgs + single["messages"]]
    surv = fixture["must_survive"]
    assert len(surv) >= 12
    for s in surv:
        assert any(s in t for t in texts), s
        assert not any(s in p["value"] for p in fixture["planted"]), s
    long_digits = [s for s in surv if s.isdigit() and len(s) >= 13]
    assert long_digits and not any(luhn(s) for s in long_digits)
    for pat in (r"\d ?\d{3} ₽", r"\$\d+\.\d\d", r"\d\d\.\d\d\.\d{4}", r"\d{4}-\d\d-\d\d", r"\d\d:\d\d", r"\d+%",
                r"\b\d+\.\d+\.\d+\b", r"[A-Z]{2} \d{3,4}"):
        assert any(re.search(pat, s) for s in surv), pat
