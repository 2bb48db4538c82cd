"""The ordering gate: exclusive turns paced from the end of the previous request, bans and doubt
periods shared through the gate file, across threads and processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oneatlas_plan.api.gate import (
    RUNTIME_DIR_ENV,
    FileGate,
    LocalGate,
    gate_path,
    machine_gate,
    runtime_dir,
)
from oneatlas_plan.errors import ConfigError

KEY = "secret-api-key-4f2a9c"
ORIGIN = "https://order.api.oneatlas.airbus.com:443"


class FakeTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def file_gate(path: Path, fake: FakeTime, wall: float = 1_700_000_000.0) -> FileGate:
    return FileGate(path, clock=fake.clock, sleep=fake.sleep,
                    wall=lambda: wall + fake.now, clock_id="test-boot")


def test_local_gate_counts_the_interval_from_the_end_of_the_previous_request() -> None:
    # the server saw the previous request at an unknown moment before its answer: only the
    # end of the previous request is a safe origin for the interval
    fake = FakeTime(0.0)
    gate = LocalGate(clock=fake.clock, sleep=fake.sleep)
    starts = []
    for duration in (0.5, 2.0, 0.1):
        with gate.turn(1.0) as turn:
            starts.append(fake.now)
            turn.sent()
            fake.now += duration
    # one interval of grace first (another process may just have ordered), then end + 1 s
    assert starts == pytest.approx([1.0, 2.5, 5.5])


def test_file_gates_on_one_file_share_the_pacing(tmp_path: Path) -> None:
    fake = FakeTime()
    first, second = file_gate(tmp_path / "g.lock", fake), file_gate(tmp_path / "g.lock", fake)
    starts = []
    for gate, duration in ((first, 0.3), (second, 0.2), (first, 0.0)):
        with gate.turn(1.0) as turn:
            starts.append(fake.now)
            turn.sent()
            fake.now += duration
    # unknown history: as if a request had just ended
    assert starts == pytest.approx([1001.0, 1002.3, 1003.5])


def test_a_turn_that_sent_nothing_does_not_delay_the_next(tmp_path: Path) -> None:
    fake = FakeTime()
    gate = file_gate(tmp_path / "g.lock", fake)
    with gate.turn(1.0) as turn:
        turn.sent()
    with gate.turn(1.0):
        fake.now += 5.0  # refused before sending (e.g. a ban check)
    opened = fake.now
    with gate.turn(1.0):
        pass
    assert fake.now == opened  # paced from the last request sent, long past


def test_a_request_in_doubt_holds_the_next_turn_back(tmp_path: Path) -> None:
    fake = FakeTime()
    gate = file_gate(tmp_path / "g.lock", fake)
    with gate.turn(1.0) as turn:
        turn.sent()
        fake.now += 2.0  # our read timeout: no answer
        turn.in_doubt(2.0)  # Airbus may still be processing it for another 2 s
    gave_up = fake.now
    with file_gate(tmp_path / "g.lock", fake).turn(1.0):
        assert fake.now == pytest.approx(gave_up + 2.0 + 1.0)


def test_a_ban_is_shown_to_every_gate_of_the_file_until_it_ends(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with file_gate(path, fake).turn(1.0) as turn:
        assert turn.banned_until is None and not turn.banned()
        turn.sent()
        turn.ban(600.0)
        banned_at = fake.now
    other = file_gate(path, fake)
    until = other.banned_until()
    assert until == datetime.fromtimestamp(1_700_000_000.0 + banned_at + 600.0, UTC)
    before = fake.now
    with other.turn(1.0) as turn:
        assert turn.banned_until == until
        assert turn.banned(datetime.fromtimestamp(1_700_000_000.0 + fake.now, UTC))
    assert fake.now == before  # no waiting for a turn that must not send
    fake.now += 601.0
    assert other.banned_until() is None
    with other.turn(1.0) as turn:
        assert turn.banned_until is None


def test_the_end_of_a_request_from_another_boot_is_not_trusted(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with file_gate(path, fake).turn(1.0) as turn:
        turn.sent()
    record = json.loads(path.read_text())
    record["clock"], record["idle_at"] = "another-boot", 10.0**9
    path.write_text(json.dumps(record))
    start = fake.now
    with file_gate(path, fake).turn(1.0):
        assert fake.now == pytest.approx(start + 1.0)  # one interval, not 10**9 s


def test_an_unreadable_gate_file_means_one_interval(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    path.write_bytes(b"\x00garbage{")
    start = fake.now
    with file_gate(path, fake).turn(1.0) as turn:
        assert fake.now == pytest.approx(start + 1.0)
        turn.sent()
    assert json.loads(path.read_text())["idle_at"] == pytest.approx(start + 1.0)


def test_a_record_is_written_over_a_longer_one_without_leftovers(tmp_path: Path) -> None:
    # turns rewrite the record in place (no truncation per turn): whatever a longer previous
    # record left must not survive into the new one
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with file_gate(path, fake).turn(1.0) as turn:
        turn.sent()
        turn.ban(600.0)
    long_record = json.loads(path.read_text()) | {"note": "x" * 300}
    path.write_text(json.dumps(long_record))
    fake.now += 601.0  # the ban is over
    with file_gate(path, fake).turn(1.0) as turn:
        turn.sent()
        ended = fake.now
    text = path.read_text()
    assert len(text) == len(json.dumps(long_record))  # padded over, not truncated
    assert json.loads(text) == {"banned_until": long_record["banned_until"], "busy_until": 0.0,
                                "clock": "test-boot", "format": 1, "idle_at": ended}
    start = fake.now
    with file_gate(path, fake).turn(1.0):
        assert fake.now == pytest.approx(ended + 1.0) and fake.now > start


def test_a_gate_file_too_long_to_be_a_record_is_replaced(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    path.write_bytes(b"{" * 10_000)  # unreadable: one interval, then a clean record
    with file_gate(path, fake).turn(1.0) as turn:
        turn.sent()
    record = json.loads(path.read_text())
    assert record["idle_at"] == pytest.approx(fake.now) and path.stat().st_size < 4096


def test_gate_file_names_and_contents_never_hold_the_key(tmp_path: Path) -> None:
    path = gate_path(tmp_path, ORIGIN, KEY)
    assert path.parent == tmp_path / "gates" and path.suffix == ".lock"
    assert gate_path(tmp_path, ORIGIN, KEY) == path
    assert gate_path(tmp_path, ORIGIN, KEY + "x") != path
    assert gate_path(tmp_path, "http://127.0.0.1:8080", KEY) != path
    gate = machine_gate(tmp_path, ORIGIN, KEY)
    with gate.turn(0.0) as turn:
        turn.sent()
        turn.ban(1.0)
    for file in (tmp_path / "gates").iterdir():
        assert KEY not in file.name and KEY.encode() not in file.read_bytes()
        assert stat.S_IMODE(file.stat().st_mode) & 0o077 == 0, file
    assert stat.S_IMODE((tmp_path / "gates").stat().st_mode) == 0o700
    # another user's salt gives other names: the name cannot be checked against a guess
    other = tmp_path / "other-user"
    assert gate_path(other, ORIGIN, KEY).name != path.name


def test_a_gate_directory_others_can_write_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "gates").mkdir(parents=True)
    (shared / "gates").chmod(0o777)
    with pytest.raises(ConfigError, match="not private to this user"):
        gate_path(shared, ORIGIN, KEY)


def test_runtime_dir_sources() -> None:
    assert runtime_dir({RUNTIME_DIR_ENV: "/run/x"}) == Path("/run/x")
    assert runtime_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/oneatlas-plan")
    assert runtime_dir({"HOME": "/home/u"}) == Path("/home/u/.cache/oneatlas-plan")


def test_threads_of_one_process_take_turns(tmp_path: Path) -> None:
    path = tmp_path / "g.lock"
    inside = 0
    most = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal inside, most
        gate = FileGate(path)  # one gate object per thread: the flock must still exclude
        for _ in range(5):
            with gate.turn(0.0) as turn:
                with lock:
                    inside += 1
                    most = max(most, inside)
                turn.sent()
                with lock:
                    inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert most == 1


CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from oneatlas_plan.api.gate import FileGate
    with FileGate(Path(sys.argv[1])).turn(0.0) as turn:
        turn.sent()
        print("holding", flush=True)
        sys.stdin.readline()  # released by the test
    print("released", flush=True)
""")


def test_a_turn_held_by_another_process_blocks_until_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "g.lock"
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=dict(os.environ)) as child:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "holding"
        entered = threading.Event()

        def take_turn() -> None:
            with FileGate(path).turn(0.0):
                entered.set()

        thread = threading.Thread(target=take_turn, daemon=True)
        thread.start()
        # the child is inside its turn and waits for us: ours cannot open
        assert not entered.wait(0.3)
        child.stdin.write("go\n")
        child.stdin.flush()
        assert entered.wait(30)
        assert child.stdout.readline().strip() == "released"
        assert child.wait(timeout=30) == 0


def test_a_killed_holder_does_not_block_the_gate(tmp_path: Path) -> None:
    path = tmp_path / "g.lock"
    with subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        child.kill()
        child.wait(timeout=10)
    with FileGate(path).turn(0.0) as turn:  # the kernel released the lock
        assert turn.banned_until is None


# ---------------------------------------------------------------------------- cut-off turns


def test_a_request_is_marked_in_flight_in_the_gate_file_before_it_leaves(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with file_gate(path, fake).turn(1.0) as turn:
        sent_at = fake.now
        turn.sent(30.0)
        # what a process reading the file now (ours killed) would find: busy until the
        # request's latest possible end, on both clocks
        record = json.loads(path.read_text())
        assert record["idle_at"] == pytest.approx(sent_at + 30.0)
        assert record["busy_until"] == pytest.approx(1_700_000_000.0 + sent_at + 30.0)
        fake.now += 0.5  # the answer comes
    # a turn that closed normally replaces the mark with the real end
    assert json.loads(path.read_text())["idle_at"] == pytest.approx(sent_at + 0.5)
    assert json.loads(path.read_text())["busy_until"] == 0.0
    with file_gate(path, fake).turn(1.0):
        assert fake.now == pytest.approx(sent_at + 0.5 + 1.0)


@pytest.mark.parametrize("cut", [KeyboardInterrupt, RuntimeError], ids=["Ctrl-C", "error"])
def test_a_turn_cut_off_after_sending_leaves_its_mark_for_the_next(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cut: type[BaseException]
) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with pytest.raises(cut), file_gate(path, fake).turn(1.0) as turn:
        sent_at = fake.now
        turn.sent(30.0)
        fake.now += 0.5
        raise cut  # no answer: Airbus may still be processing it
    fake.now += 2.0  # the next run starts
    with caplog.at_level("WARNING", logger="oneatlas_plan.api.gate"), \
            file_gate(path, fake).turn(1.0) as turn:
        assert fake.now == pytest.approx(sent_at + 30.0 + 1.0)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "may still be in progress" in said[0], said
    until = datetime.fromtimestamp(1_700_000_000.0 + sent_at + 31.0, UTC)
    assert f"{until:%Y-%m-%d %H:%M:%S} UTC" in said[0] and KEY not in said[0]


def test_a_turn_cut_off_before_sending_leaves_nothing(tmp_path: Path) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with file_gate(path, fake).turn(1.0) as turn:
        turn.sent(30.0)
    ended = fake.now
    with pytest.raises(KeyboardInterrupt), file_gate(path, fake).turn(1.0):
        raise KeyboardInterrupt  # while waiting for the interval, say
    with file_gate(path, fake).turn(1.0):
        assert fake.now == pytest.approx(ended + 1.0)


def test_a_cut_off_request_from_before_a_reboot_still_holds_on_the_wall_clock(
    tmp_path: Path,
) -> None:
    fake = FakeTime()
    path = tmp_path / "g.lock"
    with pytest.raises(KeyboardInterrupt), file_gate(path, fake).turn(1.0) as turn:
        turn.sent(30.0)
        raise KeyboardInterrupt
    record = json.loads(path.read_text())
    record["clock"] = "another-boot"  # the machine rebooted 10 s later
    path.write_text(json.dumps(record))
    fake.now += 10.0
    start = fake.now
    with file_gate(path, fake).turn(1.0):
        assert fake.now == pytest.approx(start + 20.0 + 1.0)


def test_a_mark_that_cannot_be_written_stops_the_request(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTime()
    gate = file_gate(tmp_path / "g.lock", fake)

    def full(*args: object) -> int:
        raise OSError(28, "No space left on device")

    with gate.turn(1.0) as turn:
        monkeypatch.setattr(os, "pwrite", full)
        with pytest.raises(ConfigError, match=r"No space left on device.*nothing was sent"):
            turn.sent(30.0)
        assert not turn.was_sent


def test_a_local_gate_holds_the_next_turn_after_a_cut_off_one() -> None:
    fake = FakeTime()
    gate = LocalGate(clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(KeyboardInterrupt), gate.turn(1.0) as turn:
        sent_at = fake.now
        turn.sent(30.0)
        raise KeyboardInterrupt
    with gate.turn(1.0):
        assert fake.now == pytest.approx(sent_at + 31.0)
