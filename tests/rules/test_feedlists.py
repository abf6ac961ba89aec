"""Feed lists: OPML and plain-text files of feeds named by a rules file, with tags that rules
filter on; a bad line is placed at file:line and, in the running worker, skipped."""

from __future__ import annotations

import logging
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.errors import RulesError
from monitor.rules.live import RulesSource
from monitor.rules.load import load_rules
from monitor.rules.match import Matcher

OPML = """\
<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0">
  <head><title>press</title></head>
  <body>
    <outline text="Arabic Press">
      <outline text="Gulf">
        <outline type="rss" text="Gulf News" xmlUrl="https://gulf.example/rss.xml"/>
      </outline>
      <outline type="rss" text="Cairo" xmlUrl="https://cairo.example/rss.xml" category="/egypt,daily"/>
    </outline>
    <outline type="rss" text="World" xmlUrl="https://world.example/rss.xml" every="10m" name="world"/>
  </body>
</opml>
"""

TEXT = """\
# the desk's extra feeds
https://extra.example/a.xml

https://extra.example/b.xml  every=1m  tags=urgent,gulf   # checked often
https://gulf.example/rss.xml  tags=wire
"""

RULES = """\
feeds:
  - url: https://inline.example/rss.xml
    tags: [inline]
feed_lists:
  - path: lists/press.opml
  - {path: lists/extra.txt, every: 10m, tags: [desk]}
entities:
  putin: ["Putin", "بوتين"]
channels:
  desk: ["json://127.0.0.1:9/never"]
rules:
  - name: gulf-putin
    entities: {any: [putin]}
    feeds: [tag:gulf]
    notify: [desk]
  - name: any-putin
    entities: {any: [putin]}
    notify: [desk]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    stamp = time.time_ns()  # a visibly newer mtime, whatever the clock grain
    os.utime(path, ns=(stamp, stamp))
    return path


def desk(tmp_path: Path, rules: str = RULES, opml: str = OPML, text: str = TEXT) -> Path:
    write(tmp_path / "lists" / "press.opml", opml)
    write(tmp_path / "lists" / "extra.txt", text)
    return write(tmp_path / "rules.yaml", rules)


def test_opml_and_text_lists_load_with_their_tags(tmp_path: Path) -> None:
    feeds = {f.url: f for f in load_rules(desk(tmp_path)).rules.feeds}
    assert set(feeds) == {
        "https://inline.example/rss.xml",
        "https://gulf.example/rss.xml",
        "https://cairo.example/rss.xml",
        "https://world.example/rss.xml",
        "https://extra.example/a.xml",
        "https://extra.example/b.xml",
    }
    assert set(feeds["https://inline.example/rss.xml"].tags) == {"inline"}
    # nested folders and the list's own tags; a URL in both lists is one feed, tags united
    assert set(feeds["https://gulf.example/rss.xml"].tags) == {
        "arabic-press",
        "gulf",
        "wire",
        "desk",
    }
    assert set(feeds["https://cairo.example/rss.xml"].tags) == {"arabic-press", "egypt", "daily"}
    assert feeds["https://world.example/rss.xml"].name == "world"
    assert feeds["https://world.example/rss.xml"].every == timedelta(minutes=10)
    # a line's every wins over its list's, the list's over the default
    assert feeds["https://extra.example/b.xml"].every == timedelta(minutes=1)
    assert feeds["https://extra.example/a.xml"].every == timedelta(minutes=10)
    assert set(feeds["https://extra.example/b.xml"].tags) == {"urgent", "gulf", "desk"}
    assert feeds["https://cairo.example/rss.xml"].every == timedelta(minutes=5)


def fired(matcher: Matcher, feed: str) -> set[str]:
    return {m.rule for m in matcher.match("Putin spoke today.", [], feed=feed).fired}


def test_a_tag_filter_routes_a_rule_to_the_feeds_with_that_tag(tmp_path: Path) -> None:
    matcher = Matcher(load_rules(desk(tmp_path)).rules)
    assert fired(matcher, "https://gulf.example/rss.xml") == {"gulf-putin", "any-putin"}
    assert fired(matcher, "https://extra.example/b.xml") == {"gulf-putin", "any-putin"}
    assert fired(matcher, "https://cairo.example/rss.xml") == {"any-putin"}
    assert fired(matcher, "https://inline.example/rss.xml") == {"any-putin"}


def test_a_tag_no_feed_carries_yet_lets_nothing_through(tmp_path: Path) -> None:
    # the list that gives the tag is empty for now: the rule is not a rule for every feed
    rules = desk(tmp_path, RULES.replace("tag:gulf", "tag:desk"), text="# to come\n")
    matcher = Matcher(load_rules(rules).rules)
    assert fired(matcher, "https://gulf.example/rss.xml") == {"any-putin"}


def test_an_unknown_tag_in_a_rule_is_an_error_with_a_hint(tmp_path: Path) -> None:
    rules = desk(tmp_path, RULES.replace("tag:gulf", "tag:gulff"))
    with pytest.raises(RulesError) as refused:
        load_rules(rules)
    assert f"{rules}:14:13: unknown tag 'gulff' in rule 'gulf-putin'; did you mean 'gulf'?" in str(
        refused.value
    )


def test_a_missing_list_is_an_error_of_the_rules_file(tmp_path: Path) -> None:
    rules = desk(tmp_path, RULES.replace("lists/extra.txt", "lists/extar.txt"))
    with pytest.raises(RulesError) as refused:
        load_rules(rules)
    assert f"{rules}:6:12: feed_lists[1].path: cannot read lists/extar.txt" in str(refused.value)


BAD_TEXT = TEXT + "extra.example/no-scheme.xml\nhttps://extra.example/c.xml evry=5m\n"
BAD_OPML = OPML.replace(
    '<outline type="rss" text="World"',
    '<outline type="rss" text="Broken"/>\n    <outline type="rss" text="World"',
)


def test_bad_lines_are_placed_at_file_and_line(tmp_path: Path) -> None:
    rules = desk(tmp_path, opml=BAD_OPML, text=BAD_TEXT)
    with pytest.raises(RulesError) as refused:
        load_rules(rules)
    lines = str(refused.value).splitlines()
    opml, text = tmp_path / "lists" / "press.opml", tmp_path / "lists" / "extra.txt"
    assert lines == [
        f"{opml}:11: an rss outline without xmlUrl",
        f"{text}:6: 'extra.example/no-scheme.xml' is not an http or https URL",
        f"{text}:7: unknown option 'evry'; did you mean 'every'?",
    ]


def test_xml_that_is_not_well_formed_is_placed(tmp_path: Path) -> None:
    broken = OPML.replace('text="Cairo"', 'text="Cairo')
    rules = desk(tmp_path, opml=broken)
    with pytest.raises(RulesError) as refused:
        load_rules(rules)
    assert f"{tmp_path / 'lists' / 'press.opml'}:9: not well-formed OPML" in str(refused.value)


def test_opml_entities_are_refused_not_expanded(tmp_path: Path) -> None:
    bomb = OPML.replace(
        "<opml", '<!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n<opml'
    ).replace('text="Gulf News"', 'text="&b;"')
    with pytest.raises(RulesError) as refused:
        load_rules(desk(tmp_path, opml=bomb))
    assert "press.opml:2: " in str(refused.value)
    assert "entit" in str(refused.value)


def test_the_worker_skips_bad_lines_and_polls_the_rest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rules = desk(tmp_path, opml=BAD_OPML, text=BAD_TEXT)
    with caplog.at_level(logging.WARNING):
        source = RulesSource(rules)
    urls = {f.url for f in source.current().feeds}
    assert "https://world.example/rss.xml" in urls
    assert "https://extra.example/b.xml" in urls
    assert len(urls) == 6
    assert "extra.txt:6: 'extra.example/no-scheme.xml' is not an http or https URL" in caplog.text
    assert "press.opml:11: an rss outline without xmlUrl" in caplog.text


def test_an_edit_of_a_list_is_picked_up_by_the_worker(tmp_path: Path) -> None:
    source = RulesSource(desk(tmp_path))
    assert "https://extra.example/new.xml" not in {f.url for f in source.current().feeds}
    write(tmp_path / "lists" / "extra.txt", TEXT + "https://extra.example/new.xml tags=gulf\n")
    feeds = {f.url: f for f in source.current().feeds}
    assert set(feeds["https://extra.example/new.xml"].tags) == {"gulf", "desk"}


def test_a_new_list_that_was_missing_is_picked_up_once_written(tmp_path: Path) -> None:
    rules = desk(tmp_path)
    source = RulesSource(rules)
    write(rules, RULES.replace("feed_lists:\n", "feed_lists:\n  - path: lists/later.txt\n"))
    assert "https://later.example/x.xml" not in {f.url for f in source.current().feeds}
    write(tmp_path / "lists" / "later.txt", "https://later.example/x.xml\n")
    assert "https://later.example/x.xml" in {f.url for f in source.current().feeds}
