"""Syndicated copies: the same story under another URL with small edits raises one alert per
rule and target, not one per copy; a rule only the copy fires still alerts; off, or out of the
window, each copy alerts."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter

import pytest
from prometheus_client import REGISTRY

from monitor import pipeline
from monitor.ingest.feeds import Entry
from monitor.pipeline import file_fingerprint, first_of_copies, run_cycle
from monitor.settings import Settings
from monitor.text.extract import extract_article
from monitor.text.neardup import (
    MIN_WORDS,
    Filed,
    distance,
    filing_keys,
    fingerprint,
    nearest,
    probe_keys,
)
from tests.support.feeds import rss
from tests.support.files import SEED
from tests.support.mail import SmtpSink
from tests.support.servers import SiteServer, WebhookSink

DEFAULT = Settings().near_duplicate_distance

STORY = """Elon Musk has been in regular contact with Russian President Vladimir Putin since late 2022, The Wall Street Journal reported on Thursday, citing several current and former officials in the United States, Europe and Russia.
The conversations touched on personal matters, business and geopolitical tensions, the newspaper said. At one point Putin is said to have asked the billionaire to avoid activating his Starlink satellite internet service over Taiwan as a favour to Chinese leader Xi Jinping.
The contacts are likely to worry officials in Washington, where the administration regards Russia as a dangerous adversary. Through his rocket company, Musk holds contracts with the Pentagon and the intelligence agencies and has access to classified information about American space programmes.
Musk has also backed the Republican candidate Donald Trump in the coming presidential election. Filings published this week show that he gave about 70 million dollars to a political group supporting the campaign between July and September.
Trump has said that Musk would have a role in his government if he won. That would not be good news for Kyiv: both men appear to agree on improving relations with Moscow at the expense of Ukraine, which depends on American military and financial aid to keep fighting.
Starlink has played a part in the war from the start. At the request of the Ukrainian government the company switched the service on in early 2022 to keep the country online, and it was soon used on the front line as well, to guide drones and to coordinate artillery.
Neither Musk nor the Kremlin answered questions from the newspaper. Earlier this year Musk said that Russia could not lose the war in Ukraine and that continued American support would only prolong the fighting, but he called accusations that he defends Putin absurd.
"""
# The same story as another outlet runs it: its own credit line, one word changed.
COPY = "By Evening Herald staff and wire services.\n" + STORY.replace(
    "dangerous adversary", "serious adversary"
)
ORIGINAL = "WASHINGTON (Wire Service) - " + STORY
# Another story on the same topic, with the same people and many of the same words.
OTHER = """Vladimir Putin said on Friday that Elon Musk was an outstanding person and a talented businessman, speaking to reporters at an economic forum in the Russian Far East.
Asked whether he had ever spoken to the owner of Tesla and SpaceX, Putin declined to give details and said the Kremlin did not comment on private conversations. His spokesman later told state television that there had been one telephone call, about space and future technologies.
The remarks came a day after an American newspaper reported regular contacts between the two men. In Washington, members of Congress called for a review of the security clearances held by Musk and demanded briefings from the Pentagon about Starlink terminals found with Russian troops in occupied parts of Ukraine.
Musk wrote on his social network that the report was false and that he had spoken to Putin only once, in 2021, about the future of rockets. Shares of Tesla fell slightly in early trading in New York.
"""


def seed_text() -> str:
    entry = Entry(url="http://x/a", key="http://x/a", feed_url="http://x/feed")
    return extract_article(SEED.read_bytes(), entry.url, entry).text


# --------------------------------------------------------------------------- the fingerprint


def test_a_lightly_edited_copy_is_near_and_another_story_on_the_topic_is_far() -> None:
    original, copy, other = fingerprint(ORIGINAL), fingerprint(COPY), fingerprint(OTHER)
    assert original is not None and copy is not None and other is not None
    assert distance(original, copy) <= DEFAULT
    assert distance(original, other) >= 2 * DEFAULT
    assert distance(copy, other) >= 2 * DEFAULT


def test_arabic_letter_forms_and_diacritics_do_not_change_the_fingerprint() -> None:
    text = seed_text()
    spelled_otherwise = (
        text.replace("أ", "ا").replace("إ", "ا").replace("ة", "ه").replace("ى", "ي")
        .replace("ماسك", "مَاسِك").replace("بوتين", "بـوتـين")
    )  # fmt: skip
    assert spelled_otherwise != text
    assert fingerprint(spelled_otherwise) == fingerprint(text)


def seeded(seed: int) -> random.Random:
    """The same pseudo-random edits and bits on every run (nothing secret about them)."""
    return random.Random(seed)  # noqa: S311


def light_edit(text: str, rng: random.Random) -> str:
    """A credit line of 5 to 15 words before or after the text, and one word changed."""
    words = text.split(" ")
    words[rng.randrange(len(words))] = rng.choice(words)
    credit = " ".join(rng.choice(words) for _ in range(rng.randint(5, 15)))
    body = " ".join(words)
    return f"{credit}\n{body}" if rng.random() < 0.5 else f"{body}\n{credit}"


@pytest.mark.parametrize(
    ("text", "at_default", "at_three"),
    [(seed_text(), 0.95, 0.7), (STORY, 0.6, 0.2)],
    ids=["474-words-ar", "298-words-en"],
)
def test_how_often_a_lightly_edited_copy_is_within_the_distance(
    text: str, at_default: float, at_three: float
) -> None:
    """Measured: 99% (474 words) and 74% (298 words) at the default of 7; 54% and 7% at 3."""
    rng = seeded(1)
    original = fingerprint(text) or 0
    distances = [distance(original, fingerprint(light_edit(text, rng)) or 0) for _ in range(300)]
    assert sum(d <= DEFAULT for d in distances) / len(distances) >= at_default
    assert sum(d <= 3 for d in distances) / len(distances) <= at_three


def test_short_texts_get_no_fingerprint() -> None:
    words = STORY.split()
    assert fingerprint(" ".join(words[: MIN_WORDS - 1])) is None
    assert fingerprint(" ".join(words[:MIN_WORDS])) is not None
    assert fingerprint("") is None


# --------------------------------------------------------------------------- the lookup


def flipped(value: int, bits: list[int]) -> int:
    return value ^ sum(1 << b for b in bits)


def spread(count: int, rng: random.Random) -> list[int]:
    """``count`` bit positions spread as evenly as the four quarters allow: the hardest case."""
    per_quarter = [count // 4 + (1 if q < count % 4 else 0) for q in range(4)]
    return [16 * q + b for q, n in enumerate(per_quarter) for b in rng.sample(range(16), n)]


@pytest.mark.parametrize("limit", range(12))
def test_the_probes_reach_every_fingerprint_within_the_distance(limit: int) -> None:
    rng = seeded(limit)
    for _ in range(200):
        value = rng.getrandbits(64)
        probes = set(probe_keys(value, limit))
        for bits in range(limit + 1):
            for positions in (spread(bits, rng), rng.sample(range(64), bits)):
                assert probes & set(filing_keys(flipped(value, positions))), (limit, positions)
        # Probes are not a scan: one bit more in every quarter than the radius is beyond them
        # (nearer ones that they do read are refused by ``nearest``, tested below).
        beyond = 4 * (limit // 4 + 1)
        assert not probes & set(filing_keys(flipped(value, spread(beyond, rng))))


def test_probe_counts_stay_small() -> None:
    assert [len(probe_keys(0, d)) for d in (0, 3, 4, 7, 8, 11)] == [4, 4, 68, 68, 548, 548]
    with pytest.raises(ValueError, match="0 to 11"):
        probe_keys(0, 12)


def test_the_store_finds_fingerprints_within_the_distance_and_not_beyond(open_contexts) -> None:
    ctx = open_contexts()
    rng = seeded(7)
    value = rng.getrandbits(64)
    near = {f"near-{bits}": flipped(value, spread(bits, rng)) for bits in range(DEFAULT + 1)}
    far = {
        "far-spread": flipped(value, spread(DEFAULT + 1, rng)),
        "far-one-quarter": flipped(value, list(range(DEFAULT + 1))),  # probed, then refused
        "unrelated": value ^ 0xFFFF_0000_FFFF_0000,
    }
    for key, other in (near | far).items():
        file_fingerprint(ctx, Filed(other, key))
    file_fingerprint(ctx, Filed(value, "self"))

    members = ctx.store.members(probe_keys(value, DEFAULT))
    found = nearest(value, members, DEFAULT, own_key="self")

    assert [f.key for f in found] == [f"near-{bits}" for bits in range(DEFAULT + 1)]
    assert "far-one-quarter" in {Filed.from_member(m).key for m in members}


# --------------------------------------------------------------------------- who is first


def test_a_later_copy_takes_the_first_ones_key_and_a_copy_of_a_copy_too(open_contexts) -> None:
    ctx = open_contexts()
    counted = REGISTRY.get_sample_value("monitor_near_duplicates_total") or 0.0
    assert first_of_copies(ctx, "http://a/1", ORIGINAL) == "http://a/1"
    assert first_of_copies(ctx, "http://b/1", COPY) == "http://a/1"
    assert first_of_copies(ctx, "http://c/1", OTHER) == "http://c/1"
    # A third copy nearer to the second than to the first still gets the first's key.
    third = COPY.replace("Evening Herald", "Morning Star")
    assert first_of_copies(ctx, "http://d/1", third) == "http://a/1"
    # Processed again, each article keeps its answer.
    assert first_of_copies(ctx, "http://a/1", ORIGINAL) == "http://a/1"
    assert first_of_copies(ctx, "http://b/1", COPY) == "http://a/1"
    # Two copies found, each counted once however often it is processed.
    assert REGISTRY.get_sample_value("monitor_near_duplicates_total") == counted + 2


def test_a_copy_whose_worker_died_while_deciding_takes_the_answer_made_meanwhile(
    open_contexts,
) -> None:
    first_worker, second_worker = open_contexts(), open_contexts()
    # The original's worker filed its fingerprint and died before answering.
    file_fingerprint(first_worker, Filed(fingerprint(ORIGINAL) or 0, "http://a/1"))
    # The copy sees a fingerprint with no answer: nothing decided before it, it is first.
    assert first_of_copies(second_worker, "http://b/1", COPY) == "http://b/1"
    # Processed again, the original takes the copy's answer: one alert per rule all the same.
    assert first_of_copies(first_worker, "http://a/1", ORIGINAL) == "http://b/1"


def test_a_lock_left_by_a_dead_worker_holds_a_decision_up_only_until_it_expires(
    open_contexts, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pipeline, "NEAR_LOCK_SECONDS", 0.3)
    ctx = open_contexts()
    assert ctx.store.claim(pipeline.NEAR_LOCK, 0.3, {"token": "a worker since killed"})
    with caplog.at_level(logging.WARNING):
        assert first_of_copies(ctx, "http://a/1", ORIGINAL) == "http://a/1"
        assert first_of_copies(ctx, "http://b/1", COPY) == "http://a/1"
    assert not caplog.records  # each decision took the lock, none went ahead without it
    assert ctx.store.get(pipeline.NEAR_LOCK) is None  # released after each decision


def test_a_lock_held_past_the_wait_is_reported_and_the_article_still_decided(
    open_contexts, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pipeline, "NEAR_LOCK_SECONDS", 0.2)
    ctx = open_contexts()
    assert ctx.store.claim(pipeline.NEAR_LOCK, 30, {"token": "a worker stuck"})
    with caplog.at_level(logging.WARNING):
        assert first_of_copies(ctx, "http://a/1", ORIGINAL) == "http://a/1"
    (record,) = caplog.records
    assert "waited 0.4s for the lock; deciding without it" in record.getMessage()
    assert ctx.store.get(pipeline.NEAR_LOCK) == {"token": "a worker stuck"}  # not ours


# Four outlets' copies of one story: each pair within the default distance.
COPIES = (
    ORIGINAL,
    COPY,
    COPY.replace("Evening Herald", "Morning Star"),
    "AP - " + STORY,
)


def test_the_copies_are_all_near_each_other() -> None:
    values = [fingerprint(text) or 0 for text in COPIES]
    assert all(distance(a, b) <= DEFAULT for a in values for b in values)


@pytest.mark.parametrize("copies", [2, 4])
def test_copies_processed_at_the_same_moment_agree_on_one_first(open_contexts, copies: int) -> None:
    """Each copy in its own worker (a context of its own), all released at once."""
    workers = [open_contexts() for _ in range(copies)]

    def process(
        i: int, key: str, text: str, start: threading.Barrier, results: dict[str, str]
    ) -> None:
        start.wait()
        results[key] = first_of_copies(workers[i], key, text)

    for round_ in range(20):
        keys = [f"http://{outlet}/{round_}" for outlet in "abcd"[:copies]]
        results: dict[str, str] = {}
        start = threading.Barrier(copies)
        threads = [
            threading.Thread(target=process, args=(i, keys[i], COPIES[i], start, results))
            for i in range(copies)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(set(results.values())) == 1, (round_, results)
        assert set(results.values()) <= set(keys)
        for bucket in workers[0].store.keys("near:"):  # the next round's copies must not
            workers[0].store.delete(bucket)  # find this round's


def test_off_when_the_distance_is_minus_one(open_contexts) -> None:
    ctx = open_contexts(near_duplicate_distance=-1)
    assert first_of_copies(ctx, "http://a/1", ORIGINAL) == "http://a/1"
    assert first_of_copies(ctx, "http://b/1", COPY) == "http://b/1"
    assert ctx.store.keys("near") == []


# --------------------------------------------------------------------------- end to end


def rules_text(feeds: list[str], targets: list[str]) -> str:
    feed_lines = "".join(f"  - url: {url}\n    every: 1m\n" for url in feeds)
    return f"""
feeds:
{feed_lines}
entities:
  musk: ["Musk", "إيلون ماسك", "ماسك"]
  putin: ["Putin", "بوتين"]
  zelensky: ["Zelensky", "زيلينسكي"]
channels:
  desk: [{", ".join(f'"{t}"' for t in targets)}]
rules:
  - name: musk-putin
    entities: {{all: [musk, putin]}}
    notify: [desk]
  - name: big-money
    money: {{min: 50000000, currency: EUR}}
    notify: [desk]
  - name: zelensky
    entities: {{any: [zelensky]}}
    notify: [desk]
"""


def syndicated_copy(page: bytes) -> bytes:
    """The seed page as another outlet runs it: its credit line, a word changed, and a
    paragraph of its own that names Zelensky."""
    html = page.decode("utf-8")
    first_paragraph = html.index("<p>")
    last_paragraph = html.rindex("<p>")
    html = (
        html[:first_paragraph]
        + "<p>نقلاً عن وكالة الأنباء الألمانية، بالتعاون مع شركائنا في المنطقة.</p>\n"
        + html[first_paragraph:last_paragraph]
        + "<p>وقال الرئيس الأوكراني زيلينسكي إن بلاده تتابع هذه التقارير باهتمام.</p>\n"
        + html[last_paragraph:]
    ).replace("خطيرًا", "كبيرًا")
    return html.encode("utf-8")


def serve_two_outlets(site: SiteServer, carry_second: bool = True) -> tuple[str, str]:
    """Two feeds, each carrying its own URL of the story; returns the two feed URLs."""
    first = site.route("/wire/story.html", SEED.read_bytes())
    second = site.route("/herald/2026/musk-putin.html", syndicated_copy(SEED.read_bytes()))
    feed_a = site.route(
        "/wire.xml", rss([{"title": "ماسك وبوتين", "link": first}]),
        content_type="application/rss+xml",
    )  # fmt: skip
    serve_second_feed(site, second if carry_second else None)
    return feed_a, site.url("/herald.xml")


def serve_second_feed(site: SiteServer, article: str | None) -> None:
    items = [{"title": "ماسك وبوتين", "link": article}] if article else []
    site.route("/herald.xml", rss(items), content_type="application/rss+xml")


def per_rule(webhook: WebhookSink, smtp: SmtpSink) -> tuple[Counter[str], Counter[str]]:
    def rule(title: str) -> str:
        return title.split("]")[0].strip("[")

    return (
        Counter(rule(p["json"]["title"]) for p in webhook.received),
        Counter(rule(str(m["Subject"])) for m in smtp.messages),
    )


def test_two_feeds_with_copies_of_one_story_alert_once_per_rule_and_target(
    open_contexts, site: SiteServer, webhook: WebhookSink, smtp: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    feeds = serve_two_outlets(site)
    ctx = open_contexts(rules_text(list(feeds), [webhook.apprise_url(), smtp.apprise_url()]))

    with caplog.at_level(logging.INFO, logger="monitor.pipeline"):
        report = run_cycle(ctx)

    assert report.articles == 2
    # musk-putin and big-money fired for both copies: once each; zelensky only for the copy.
    once = Counter({"musk-putin": 1, "big-money": 1, "zelensky": 1})
    assert per_rule(webhook, smtp) == (once, once)
    assert report.alerts == {"sent": 6}
    copies = [r.getMessage() for r in caplog.records if "near-duplicate of" in r.getMessage()]
    assert len(copies) == 1
    # The cycle processes both at once: whichever was decided first is the first.
    wire, herald = site.url("/wire/story.html"), site.url("/herald/2026/musk-putin.html")
    assert copies[0].startswith((f"near-duplicate of {wire},", f"near-duplicate of {herald},"))
    assert wire in copies[0] and herald in copies[0]
    # The copy's own rule points the analyst at the copy, where the name is.
    (zelensky,) = [p for p in webhook.received if p["json"]["title"].startswith("[zelensky]")]
    assert site.url("/herald/2026/musk-putin.html") in zelensky["json"]["message"]

    assert run_cycle(ctx).alerts == {}
    assert len(webhook.received) == len(smtp.messages) == 3


def test_with_the_check_off_each_copy_alerts(
    open_contexts, site: SiteServer, webhook: WebhookSink, smtp: SmtpSink
) -> None:
    feeds = serve_two_outlets(site)
    targets = [webhook.apprise_url(), smtp.apprise_url()]
    ctx = open_contexts(rules_text(list(feeds), targets), near_duplicate_distance=-1)

    run_cycle(ctx)

    twice = Counter({"musk-putin": 2, "big-money": 2, "zelensky": 1})
    assert per_rule(webhook, smtp) == (twice, twice)


def test_a_copy_after_the_window_alerts_again(
    open_contexts, site: SiteServer, webhook: WebhookSink, smtp: SmtpSink
) -> None:
    feeds = serve_two_outlets(site, carry_second=False)
    targets = [webhook.apprise_url(), smtp.apprise_url()]
    ctx = open_contexts(rules_text(list(feeds), targets), near_duplicate_window=1.0)

    run_cycle(ctx)
    assert per_rule(webhook, smtp)[0] == Counter({"musk-putin": 1, "big-money": 1})
    time.sleep(1.5)
    serve_second_feed(site, site.url("/herald/2026/musk-putin.html"))
    run_cycle(ctx)

    twice = Counter({"musk-putin": 2, "big-money": 2, "zelensky": 1})
    assert per_rule(webhook, smtp) == (twice, twice)
