"""``monitor feeds export`` and ``monitor feeds import``: a desk moves its feeds in and out as
OPML; ``monitor rules validate`` refuses a bad line of a list."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from monitor.cli.main import main
from monitor.probes import check_rules
from monitor.rules.load import load_rules
from tests.rules.test_feedlists import BAD_TEXT, desk, write
from tests.support.alerting import run_monitor
from tests.support.feeds import rss
from tests.support.servers import SiteServer


def monitor(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"MONITOR_RULES": None})


def feeds_of(rules: Path) -> dict[str, tuple[str, int, frozenset[str], str | None]]:
    return {
        f.url: (f.url, int(f.every.total_seconds()), frozenset(f.tags), f.name)
        for f in load_rules(rules).rules.feeds
    }


def test_export_then_import_round_trips(tmp_path: Path) -> None:
    rules = desk(tmp_path)
    exported = monitor("feeds", "export", "--rules", str(rules))
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("<?xml")
    (tmp_path / "all.opml").write_text(exported.stdout, encoding="utf-8")

    into = tmp_path / "moved" / "lists" / "all.opml"
    imported = monitor("feeds", "import", str(tmp_path / "all.opml"), "--into", str(into))
    assert imported.exit_code == 0, imported.output
    assert "6 feeds" in imported.stderr
    moved = write(
        tmp_path / "moved" / "rules.yaml",
        "feed_lists: [{path: lists/all.opml}]\nrules: []\n",
    )
    assert feeds_of(moved) == feeds_of(rules)


def test_import_merges_into_an_existing_list_and_adds_tags(tmp_path: Path) -> None:
    into = write(tmp_path / "desk.txt", "https://a.example/rss.xml tags=old\n")
    source = write(tmp_path / "new.txt", "https://a.example/rss.xml\nhttps://b.example/rss.xml\n")
    imported = monitor("feeds", "import", str(source), "--into", str(into), "--tag", "gulf")
    assert imported.exit_code == 0, imported.output
    rules = write(tmp_path / "rules.yaml", "feed_lists: [{path: desk.txt}]\nrules: []\n")
    tags = {url: tags for url, (_, _, tags, _) in feeds_of(rules).items()}
    assert tags == {
        "https://a.example/rss.xml": frozenset({"old", "gulf"}),
        "https://b.example/rss.xml": frozenset({"gulf"}),
    }


def test_import_refuses_a_file_with_bad_lines_and_writes_nothing(tmp_path: Path) -> None:
    source = write(tmp_path / "bad.txt", BAD_TEXT)
    into = tmp_path / "desk.opml"
    imported = monitor("feeds", "import", str(source), "--into", str(into))
    assert imported.exit_code == 1
    assert (
        f"{source}:6: 'extra.example/no-scheme.xml' is not an http or https URL" in imported.stderr
    )
    assert not into.exists()


def test_validate_refuses_a_bad_line_of_a_list(tmp_path: Path) -> None:
    rules = desk(tmp_path, text=BAD_TEXT)
    result = monitor("rules", "validate", str(rules))
    assert result.exit_code == 1
    assert f"{tmp_path / 'lists' / 'extra.txt'}:6: 'extra.example/no-scheme.xml'" in result.stderr


def test_validate_counts_the_feeds_of_the_lists(tmp_path: Path) -> None:
    result = monitor("rules", "validate", str(desk(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "ok (6 feeds, 1 entity, 2 rules)" in result.stdout


def test_a_bad_line_is_skipped_with_a_warning_by_the_commands_that_poll_and_probe(
    tmp_path: Path, site: SiteServer
) -> None:
    """The workers poll the other feeds of a list with a bad line; the one-shot cycle does the
    same, and the health probe does not fail a pod over it."""
    story = site.route("/story.html", b"<html><body><p>Nothing to see.</p></body></html>")
    feed = site.route(
        "/feed.xml", rss([{"title": "t", "link": story}]), content_type="application/rss+xml"
    )
    write(tmp_path / "desk.txt", f"{feed}\nnot a feed at all\n")
    rules = write(tmp_path / "rules.yaml", "feed_lists: [{path: desk.txt}]\nrules: []\n")
    env = {"MONITOR_STATE_DIR": str(tmp_path / "state"), "MONITOR_RULES": str(rules)}

    polled = run_monitor("poll", "--once", env=env)
    assert polled.returncode == 0, polled.stderr
    assert polled.stdout.strip() == "1 feed polled (0 failed), 1 new article, alerts: none"
    warnings = [line for line in polled.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: feed list line skipped: {tmp_path / 'desk.txt'}:2: "
        + warnings[0].split(":2: ", 1)[1]
    ]
    assert check_rules(rules) is None  # monitor health's check of the rules
    assert monitor("rules", "validate", str(rules)).exit_code == 1  # where it is an error
