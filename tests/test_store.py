"""Both state stores keep the same contract: claim once, expire, list by prefix. The embedded
store's file, emptied, removed, damaged or on a full disk, is never silently made anew."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.errors import StoreError
from monitor.store import RedisStore, SqliteStore, Store
from tests.support.alerting import run_monitor


@pytest.fixture(params=["redis", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "redis":
        opened: Store = RedisStore(request.getfixturevalue("redis_url"))
    else:
        opened = SqliteStore(tmp_path / "state.db")
    yield opened
    opened.close()


@pytest.fixture
def another(store: Store, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Store]:
    """Opens the same store on a connection of its own, as another worker's."""

    def open_another() -> Store:
        if isinstance(store, RedisStore):
            return RedisStore(request.getfixturevalue("redis_url"))
        return SqliteStore(tmp_path / "state.db")

    return open_another


def test_claim_succeeds_once(store: Store) -> None:
    assert store.claim("seen:a", 60, {"state": "queued"})
    assert not store.claim("seen:a", 60, {"state": "other"})
    assert store.get("seen:a") == {"state": "queued"}


def test_claim_is_free_again_after_expiry(store: Store) -> None:
    assert store.claim("slot:x", 0.3)
    time.sleep(0.5)
    assert store.get("slot:x") is None
    assert store.claim("slot:x", 0.3)


def test_claim_all_sets_only_the_absent_keys_in_one_call(store: Store) -> None:
    assert store.claim("b", 60, {"v": "first"})
    claimed = store.claim_all({"a": {"v": 1}, "b": {"v": 2}, "c": {"v": 3}}, 60)
    assert claimed == {"a", "c"}
    assert store.get_all(["a", "b", "c", "missing"]) == {
        "a": {"v": 1},
        "b": {"v": "first"},
        "c": {"v": 3},
    }
    assert store.claim_all({}, 60) == set() and store.get_all([]) == {}


def test_put_all_and_get_all_many_keys_with_expiry(store: Store) -> None:
    store.put_all({f"k{i}": {"i": i} for i in range(1200)}, 60)  # more than one batch
    store.put_all({"short": {"i": -1}}, 0.2)
    found = store.get_all([f"k{i}" for i in range(1200)] + ["short"])
    assert len(found) == 1201 and found["k1199"] == {"i": 1199}
    time.sleep(0.3)
    assert store.get_all(["short", "k0"]) == {"k0": {"i": 0}}
    assert store.claim_all({"short": {"i": -2}}, 60) == {"short"}  # expired: free again


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


# --- schedules: members by time, taken when due --------------------------------------------


def test_take_due_takes_the_due_members_once_and_pushes_them_a_lease_ahead(store: Store) -> None:
    now = time.time()
    store.schedule("plan", {"past": now - 10, "now": now, "later": now + 60})
    assert sorted(store.take_due("plan", now, 10, 30)) == ["now", "past"]
    assert store.take_due("plan", now, 10, 30) == []
    times = store.scheduled("plan")
    assert times["past"] == times["now"] == pytest.approx(now + 30)
    assert times["later"] == pytest.approx(now + 60)


def test_a_member_taken_and_lost_is_due_again_after_its_lease(store: Store) -> None:
    store.schedule("plan", {"feed": time.time()})
    assert store.take_due("plan", time.time(), 10, 0.3) == ["feed"]
    assert store.take_due("plan", time.time(), 10, 0.3) == []
    time.sleep(0.4)
    assert store.take_due("plan", time.time(), 10, 0.3) == ["feed"]


def test_take_due_takes_the_earliest_up_to_its_limit(store: Store) -> None:
    now = time.time()
    store.schedule("plan", {f"m{i}": now - i for i in range(10)})
    assert sorted(store.take_due("plan", now, 3, 60)) == ["m7", "m8", "m9"]
    assert len(store.take_due("plan", now, 100, 60)) == 7


def test_schedule_sets_times_and_only_new_keeps_those_there(store: Store) -> None:
    store.schedule("plan", {"a": 100.0, "b": 200.0})
    store.schedule("plan", {"a": 150.0})
    store.schedule("plan", {"b": 1.0, "c": 300.0}, only_new=True)
    assert store.scheduled("plan") == {"a": 150.0, "b": 200.0, "c": 300.0}
    store.schedule("plan", {})
    assert store.scheduled("other") == {}


def test_unschedule_and_delete_remove_members(store: Store) -> None:
    store.schedule("plan", {f"m{i}": float(i) for i in range(1200)})  # more than one batch
    store.unschedule("plan", [f"m{i}" for i in range(1, 1200)])
    store.unschedule("plan", [])
    assert store.scheduled("plan") == {"m0": 0.0}
    assert store.keys("pla") == ["plan"]
    store.delete("plan")
    assert store.scheduled("plan") == {} and store.keys("pla") == []


def test_takers_at_once_never_get_the_same_member(
    store: Store, another: Callable[[], Store]
) -> None:
    now = time.time()
    store.schedule("plan", {f"m{i}": now for i in range(2000)})
    takers = [another() for _ in range(4)]
    with ThreadPoolExecutor(len(takers)) as pool:
        taken = list(pool.map(lambda s: take_all(s, now), takers))
    for taker in takers:
        taker.close()
    everything = [member for part in taken for member in part]
    assert len(everything) == len(set(everything)) == 2000


def take_all(store: Store, now: float) -> list[str]:
    taken: list[str] = []
    while batch := store.take_due("plan", now, 50, 60):
        taken += batch
    return taken


def test_slots_give_at_most_the_limit_and_take_back_what_is_given_back(store: Store) -> None:
    taken = store.trade_slots({}, {"a": ["a1", "a2", "a3"], "b": ["b1"]}, 2, 60)
    assert taken == {"a": ["a1", "a2"], "b": ["b1"]}
    assert store.trade_slots({}, {"a": ["a4"]}, 2, 60) == {"a": []}
    assert store.trade_slots({"a": ["a1"]}, {"a": ["a5", "a6"]}, 2, 60) == {"a": ["a5"]}
    assert store.trade_slots({"a": ["a2", "a5"], "b": ["b1"]}, {}, 2, 60) == {}
    assert store.trade_slots({}, {"a": ["a7", "a8", "a9"]}, 2, 60) == {"a": ["a7", "a8"]}


def test_slots_of_a_holder_that_died_come_back_after_their_hold(store: Store) -> None:
    assert store.trade_slots({}, {"host": ["x1", "x2"]}, 2, 0.3) == {"host": ["x1", "x2"]}
    assert store.trade_slots({}, {"host": ["y1"]}, 2, 0.3) == {"host": []}
    time.sleep(0.4)
    assert store.trade_slots({}, {"host": ["y1", "y2", "y3"]}, 2, 60) == {"host": ["y1", "y2"]}


def test_slots_taken_at_once_never_pass_the_limit(another: Callable[[], Store]) -> None:
    takers = [another() for _ in range(4)]

    def take(taker: Store) -> list[str]:
        name = str(id(taker))
        return [
            token
            for round_ in range(20)
            for token in taker.trade_slots({}, {"host": [f"{name}.{round_}"]}, 3, 60)["host"]
        ]

    with ThreadPoolExecutor(len(takers)) as pool:
        taken = [token for tokens in pool.map(take, takers) for token in tokens]
    for taker in takers:
        taker.close()
    assert len(taken) == 3


# --- the embedded store's file: damaged, emptied, full ---------------------------------------


def used_store(folder: Path) -> Path:
    """A state file that has held state, as after a first run."""
    store = SqliteStore(folder / "state.db")
    store.put("alert:1", {"status": "sent"})
    store.close()
    return folder / "state.db"


@pytest.mark.parametrize("how", ["emptied", "removed"])
def test_a_state_file_emptied_or_removed_is_not_made_anew(tmp_path: Path, how: str) -> None:
    """Made anew, it would hold no record of the alerts sent, and send every one again."""
    path = used_store(tmp_path)
    if how == "emptied":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(StoreError) as refused:
        SqliteStore(path)
    message = str(refused.value)
    assert "send every alert again" in message and "Restore state.db from a backup" in message
    assert str(path) in message and "\n" not in message
    assert not path.exists() or path.stat().st_size == 0  # left as it was found


def test_a_damaged_state_file_says_so_and_what_to_do(tmp_path: Path) -> None:
    path = used_store(tmp_path)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError) as refused:
        SqliteStore(path)
    assert "it is damaged: restore it from a backup" in str(refused.value)


def test_a_full_disk_is_said_as_such(tmp_path: Path) -> None:
    """A small filesystem of its own fills up; the error says so, not "cannot rollback"."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem to fill needs root")
    folder = tmp_path / "small"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], check=True)
    try:
        store = SqliteStore(folder / "state.db")

        def fill() -> None:
            for i in range(10_000):
                store.claim(f"seen:{i}", 3600, {"padding": "x" * 1000})

        with pytest.raises(StoreError) as full:
            fill()
        assert "full" in str(full.value) and "free some space" in str(full.value)
        assert "rollback" not in str(full.value)
        store.close()
    finally:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_commands_on_a_damaged_state_say_it_in_one_line_and_exit_1(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "entities: {musk: [Musk]}\nchannels: {desk: ['json://127.0.0.1:9/x']}\n"
        "rules:\n  - {name: r, entities: {any: [musk]}, notify: [desk]}\n",
        encoding="utf-8",
    )
    state = tmp_path / "state"
    state.mkdir()
    used_store(state).write_bytes(b"")
    env = {"MONITOR_STATE_DIR": str(state), "MONITOR_RULES": str(rules)}
    for command in (["poll", "--once"], ["feeds"], ["alerts"], ["run"]):
        done = run_monitor(*command, env=env)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        lines = [line for line in done.stderr.splitlines() if "state database is empty" in line]
        assert len(lines) == 1, (command, done.stderr)
