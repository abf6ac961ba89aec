"""Submitted articles (the ingest API's model and store records), on Redis and on the embedded
default: one identity with polled articles, carried pages processed without a fetch, and what
was found kept for the caller."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from monitor.context import Context
from monitor.ingest.submitted import Submission, state, submit
from monitor.pipeline import process_article, run_cycle
from tests.support.feeds import rss
from tests.support.files import SEED
from tests.support.servers import SiteServer

RULES = """
entities:
  musk: ["Musk", "ماسك"]
channels:
  desk: ['json://127.0.0.1:9/x']
rules:
  - {name: musk, entities: {any: [musk]}, notify: [desk]}
"""


def test_an_article_polled_before_is_done_when_submitted(
    open_contexts: Callable[..., Context], site: SiteServer
) -> None:
    page = site.route("/news/a.html", SEED.read_bytes())
    feed = site.route("/feed.xml", rss([{"title": "t", "link": page}]),
                      content_type="application/rss+xml")  # fmt: skip
    ctx = open_contexts(f"feeds:\n  - url: {feed}\n{RULES}")
    assert run_cycle(ctx, patience=0).articles == 1
    ident, new = submit(ctx, Submission(url=page + "?utm_source=cms"))  # the same article
    assert not new
    assert state(ctx, ident) == {"id": ident, "state": "done", "url": page, "title": "t"}
    assert site.hits("/news/a.html") == 1


def test_carried_text_is_processed_without_a_fetch_and_what_was_found_is_kept(
    open_contexts: Callable[..., Context],
) -> None:
    ctx = open_contexts(f"feeds: []\n{RULES}")
    submission = Submission(text="قال ماسك إنه تحدث مع بوتين.", title="خبر", language="ar")
    ident, new = submit(ctx, submission)
    assert new and state(ctx, ident) == {"id": ident, "state": "queued", "url": None,
                                         "title": "خبر"}  # fmt: skip
    process_article(ctx, ident)
    found = state(ctx, ident)
    assert found is not None and found["state"] == "done"
    assert [f["rule"] for f in found["fired"]] == ["musk"]
    assert found["language"] == "ar" and found["title"] == "خبر"
    assert ctx.store.get(f"carried:{ident}") is None  # the carried body is dropped once used
    assert submit(ctx, submission) == (ident, False)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"html": "<p>x</p>"},
        {"url": "ftp://a.example/x"},
        {"text": "   "},
        {"text": "x", "html": "<p>x</p>", "url": "https://a.example/"},
        {"text": "x", "language": "not a tag!"},
        {"text": "x", "extra": 1},
    ],
)
def test_a_submission_is_one_of_three_kinds(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Submission.model_validate(body)
