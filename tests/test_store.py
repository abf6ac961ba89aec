"""Both state stores keep the same contract: claim once, expire, list by prefix."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import RedisStore, SqliteStore, Store


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "redis":
        opened: Store = RedisStore(request.getfixturevalue("redis_url"))
    else:
        opened = SqliteStore(tmp_path / "state.db")
    yield opened
    opened.close()


def test_claim_succeeds_once(store: Store) -> None:
    assert store.claim("seen:a", 60, {"state": "queued"})
    assert not store.claim("seen:a", 60, {"state": "other"})
    assert store.get("seen:a") == {"state": "queued"}


def test_claim_is_free_again_after_expiry(store: Store) -> None:
    assert store.claim("slot:x", 0.3)
    time.sleep(0.5)
    assert store.get("slot:x") is None
    assert store.claim("slot:x", 0.3)


def test_put_get_delete_keys(store: Store) -> None:
    store.put("alert:1", {"status": "pending", "title": "ماسك"})
    store.put("alert:2", {"status": "sent"})
    store.put("feed:x", {})
    assert store.get("alert:1") == {"status": "pending", "title": "ماسك"}
    assert store.keys("alert:") == ["alert:1", "alert:2"]
    store.delete("alert:1")
    assert store.keys("alert:") == ["alert:2"]


def test_sqlite_claims_are_exclusive_across_connections(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.db"), SqliteStore(tmp_path / "s.db")
    assert first.claim("k", 60)
    assert not second.claim("k", 60)


def test_set_members_from_many_keys_at_once(store: Store) -> None:
    store.add_member("near:0:ab", "one", 60)
    store.add_member("near:0:ab", "two", 60)
    store.add_member("near:1:cd", "three", 60)
    store.add_member("near:1:cd", "three", 60)  # adding again keeps one
    assert store.members(["near:0:ab", "near:1:cd", "near:2:absent"]) == {"one", "two", "three"}
    assert store.members(["near:1:cd"]) == {"three"}
    assert store.members([]) == set()


def test_set_members_expire_one_by_one(store: Store) -> None:
    store.add_member("near:0:ab", "short", 0.3)
    store.add_member("near:0:ab", "long", 60)
    store.add_member("near:0:cd", "renewed", 0.3)
    store.add_member("near:0:cd", "renewed", 60)  # the later expiry stands
    store.add_member("near:0:cd", "kept", 60)
    store.add_member("near:0:cd", "kept", 0.3)  # a shorter one does not cut it
    time.sleep(0.5)
    assert store.members(["near:0:ab"]) == {"long"}
    assert store.members(["near:0:cd"]) == {"renewed", "kept"}


def test_a_set_lives_as_long_as_its_last_member(store: Store) -> None:
    store.add_member("near:0:ab", "long", 60)
    store.add_member("near:0:ab", "short", 0.3)
    store.add_member("near:0:cd", "short", 0.3)
    time.sleep(0.5)
    assert store.keys("near:") == ["near:0:ab"]
    store.delete("near:0:ab")
    assert store.keys("near:") == []
    assert store.members(["near:0:ab"]) == set()


def test_set_members_many_keys(store: Store) -> None:
    keys = [f"near:{i}" for i in range(1200)]  # more than one SQL query's worth
    store.add_member(keys[-1], "last", 60)
    store.add_member(keys[0], "first", 60)
    assert store.members(keys) == {"first", "last"}
