"""download against the sandbox: MD5 verified, corruption refused, resume and restart."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oneatlas_plan import _files
from oneatlas_plan.api.auth import ApiKey
from oneatlas_plan.api.client import OneAtlasClient
from oneatlas_plan.api.profiles import resolve_endpoint
from oneatlas_plan.applying.download import DownloadTask, download_tasks, fetch
from oneatlas_plan.errors import ExitCode
from oneatlas_plan.state.model import Delivery, OrderRecord, ResourceRecord, State
from oneatlas_plan.state.store import StateStore
from tests.conftest import API_KEY, World

TOULOUSE = "specs/toulouse-pleiades.yaml"
ADDRESS = "toulouse.city-centre.polygon-1"
CUT = 5000


@pytest.fixture
def delivered(world: World) -> World:
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    return world


@pytest.fixture
def client(world: World) -> Iterator[OneAtlasClient]:
    with OneAtlasClient(resolve_endpoint(world.base_url), ApiKey(API_KEY)) as opened:
        yield opened


def _task(world: World) -> DownloadTask:
    state = StateStore(world.project / "oneatlas-state.json").load()
    [task], _ = download_tasks(state, [ADDRESS], world.project / "downloads")
    return task


def _order(world: World) -> dict[str, Any]:
    return dict(world.state()["resources"][ADDRESS]["orders"][-1])


class Bars:
    """A progress factory remembering where each transfer started."""

    def __init__(self) -> None:
        self.starts: list[tuple[int | None, int]] = []

    def __call__(self, name: str, total: int | None, initial: int) -> Bars:
        self.starts.append((total, initial))
        return self

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_download_verifies_records_and_skips_next_time(
    delivered: World, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert delivered.cli("download", "--dest", "out") == ExitCode.OK
    [item] = _order(delivered)["deliveries"]
    zip_path = delivered.project / "out" / item["resource_id"]
    md5 = hashlib.md5(zip_path.read_bytes()).hexdigest()
    assert item["checksum"] == md5
    [record] = _order(delivered)["downloads"]
    assert record == {
        "path": f"out/{zip_path.name}",
        "md5": md5,
        "size": zip_path.stat().st_size,
        "at": record["at"],
    }
    assert "1 downloaded" in capsys.readouterr().out
    serial = delivered.state()["serial"]
    assert delivered.cli("download", ADDRESS, "--dest", "out", "--extract") == ExitCode.OK
    out = capsys.readouterr().out
    assert "already downloaded and verified" in out and "0 downloaded, 1 already there" in out
    assert delivered.state()["serial"] == serial
    assert list((delivered.project / "out" / zip_path.stem).glob("DIM_*.XML"))


def test_a_corrupted_transfer_is_detected_and_not_kept(
    delivered: World, capsys: pytest.CaptureFixture[str]
) -> None:
    delivered.faults(corrupt_downloads=3)  # every attempt of this run
    capsys.readouterr()
    assert delivered.cli("download", "--dest", "out") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "does not match" in out and "corrupted in transit" in out
    assert list((delivered.project / "out").iterdir()) == [], "neither the file nor a .part"
    assert _order(delivered)["downloads"] == []
    delivered.faults(corrupt_downloads=1)  # the first attempt only: the second one is good
    assert delivered.cli("download", "--dest", "out") == ExitCode.OK
    [record] = _order(delivered)["downloads"]
    path = delivered.project / str(record["path"])
    assert hashlib.md5(path.read_bytes()).hexdigest() == record["md5"]


def test_an_interrupted_transfer_resumes_with_range(
    delivered: World, client: OneAtlasClient
) -> None:
    task = _task(delivered)
    delivered.faults(truncate_downloads_at=CUT)
    first = fetch(client, task, attempts=1)
    assert first.status == "failed" and "interrupted" in first.message
    kept = task.part.stat().st_size
    assert 0 < kept <= CUT and not task.path.exists()  # at most the chunk being read is lost
    bars = Bars()
    second = fetch(client, task, progress=bars, attempts=1)
    assert second.status == "downloaded", second.message
    assert bars.starts[0][1] == kept, "resumed where it stopped"
    assert hashlib.md5(task.path.read_bytes()).hexdigest() == second.md5
    assert not task.part.exists()


def test_an_interrupted_transfer_restarts_when_ranges_are_ignored(
    delivered: World, client: OneAtlasClient
) -> None:
    task = _task(delivered)
    delivered.faults(truncate_downloads_at=CUT)
    assert fetch(client, task, attempts=1).status == "failed"
    delivered.faults(truncate_downloads_at=0, ignore_ranges=True)
    bars = Bars()
    result = fetch(client, task, progress=bars, attempts=1)
    assert result.status == "downloaded", result.message
    assert bars.starts == [(task.path.stat().st_size, 0)], "restarted from byte 0"
    assert hashlib.md5(task.path.read_bytes()).hexdigest() == result.md5


def test_the_cli_resumes_within_one_run(delivered: World) -> None:
    delivered.faults(truncate_downloads_at=CUT)
    assert delivered.cli("download", "--dest", "out") == ExitCode.OK
    [record] = _order(delivered)["downloads"]
    assert (
        hashlib.md5((delivered.project / str(record["path"])).read_bytes()).hexdigest()
        == (record["md5"])
    )


def test_nothing_delivered_yet_and_unknown_addresses(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.faults(delivery_delay_s=60)
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    capsys.readouterr()
    assert world.cli("download") == ExitCode.OK
    assert f"{ADDRESS}: nothing delivered recorded yet" in capsys.readouterr().out
    assert world.cli("download", "nowhere.to.be.found") == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "Error: no resource 'nowhere.to.be.found' in the state" in err
    assert "Traceback" not in err


def test_a_link_to_another_host_is_never_followed(world: World, tmp_path: Path) -> None:
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    state_file = world.project / "oneatlas-state.json"
    text = state_file.read_text().replace('"/api/v1/items/', '"http://127.0.0.1:9/api/v1/items/')
    assert "http://127.0.0.1:9/" in text
    state_file.write_text(text)
    # the stale link (another host) is replaced by Airbus's current one, read by a refresh
    assert world.cli("download", "--dest", "out") == ExitCode.OK
    [item] = _order(world)["deliveries"]
    assert str(item["download_href"]) == f"/api/v1/items/{item['item_id']}/download"


# ------------------------------------------------------------- issues 15.6, 16.3, 16.7


def test_connections_cut_before_the_first_4_kib_still_make_progress(
    delivered: World, client: OneAtlasClient
) -> None:
    task = _task(delivered)
    delivered.faults(truncate_downloads_at=1000)  # every transfer from byte 0 ends at byte 1000
    first = fetch(client, task, attempts=1)
    assert first.status == "failed" and "interrupted" in first.message
    assert task.part.stat().st_size == 1000, "every byte received is kept"
    second = fetch(client, task, attempts=1)  # the resume (Range) is not cut
    assert second.status == "downloaded", second.message
    assert hashlib.md5(task.path.read_bytes()).hexdigest() == second.md5


def test_the_cli_gets_through_early_cuts_within_one_run(delivered: World) -> None:
    delivered.faults(truncate_downloads_at=100)
    assert delivered.cli("download", "--dest", "out") == ExitCode.OK
    [record] = _order(delivered)["downloads"]
    assert hashlib.md5((delivered.project / str(record["path"])).read_bytes()).hexdigest() == (
        record["md5"]
    )


def test_a_partial_file_longer_than_the_product_restarts_from_zero(
    delivered: World, client: OneAtlasClient
) -> None:
    task = _task(delivered)
    with client.open_download(task.href) as stream:
        size = stream.total_size
    assert size
    task.part.parent.mkdir(parents=True, exist_ok=True)
    task.part.write_bytes(b"\0" * (size + 100))  # a Range past the end: 416, not 500
    bars = Bars()
    result = fetch(client, task, progress=bars, attempts=2, sleep=lambda s: None)
    assert result.status == "downloaded", result.message
    assert bars.starts == [(size, 0)], "restarted from byte 0 after the 416"
    assert task.path.stat().st_size == size and not task.part.exists()


def test_a_range_past_the_end_is_answered_416(delivered: World, client: OneAtlasClient) -> None:
    import requests

    task = _task(delivered)
    with client.open_download(task.href) as stream:
        size = stream.total_size
    token = requests.post(
        f"{delivered.base_url}/auth/realms/IDP/protocol/openid-connect/token",
        data={"apikey": API_KEY, "grant_type": "api_key", "client_id": "IDP"},
        timeout=10,
    ).json()["access_token"]
    response = requests.get(
        f"{delivered.base_url}{task.href}",  # the state keeps a path on the access service
        headers={"Authorization": f"Bearer {token}", "Range": f"bytes={size}-"},
        timeout=10,
    )
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("method", ["MD5", "md5"])
def test_the_announced_md5_method_is_honoured(
    delivered: World, client: OneAtlasClient, method: str
) -> None:
    delivered.faults(checksum_method=method)
    result = fetch(client, _task(delivered), attempts=1)
    assert result.status == "downloaded" and result.message == "", result.message


def test_an_unknown_checksum_method_is_refused_not_skipped(
    delivered: World, capsys: pytest.CaptureFixture[str]
) -> None:
    delivered.faults(checksum_method="sha256")
    capsys.readouterr()
    assert delivered.cli("download", "--dest", "out") == ExitCode.ERROR
    out = capsys.readouterr().out
    assert "checksum method 'sha256'" in out and "cannot verify" in out
    assert not list((delivered.project / "out").glob("*.zip")), "nothing unverified is kept"
    assert _order(delivered)["downloads"] == []


@pytest.mark.parametrize("shape", ["none", "array"])
def test_a_delivered_item_without_a_download_object_is_still_fetched(
    world: World, shape: str
) -> None:
    """The archive guide's delivered item has no ``_links.download``: the documented access
    path on the item's own access host is used; an array of links is followed too."""
    world.faults(download_links=shape)
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    [item] = _order(world)["deliveries"]
    assert item["download_href"] == f"/api/v1/items/{item['item_id']}/download"
    assert world.cli("download", "--dest", "out") == ExitCode.OK
    [record] = _order(world)["downloads"]
    path = world.project / str(record["path"])
    assert hashlib.md5(path.read_bytes()).hexdigest() == record["md5"]


def test_a_delivery_without_any_usable_link_is_reported_plainly(
    delivered: World, capsys: pytest.CaptureFixture[str]
) -> None:
    state_file = delivered.project / "oneatlas-state.json"
    data = json.loads(state_file.read_text())
    order = data["resources"][ADDRESS]["orders"][-1]
    order["deliveries"][0]["download_href"] = None
    state_file.write_text(json.dumps(data))
    capsys.readouterr()
    assert delivered.cli("download", "--dest", "out") == ExitCode.ERROR
    out = capsys.readouterr().out
    item = order["deliveries"][0]["item_id"]
    assert f"{ADDRESS}: delivered item {item} offers no usable download link" in out
    assert "not delivered yet" not in out.replace("0 not delivered yet", "")


def test_every_file_of_a_delivery_is_fetched_verified_and_recorded(
    world: World, client: OneAtlasClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """A delivered item whose ``_links.download`` lists several files (parts or tiles): each
    is fetched, resumed, verified and recorded on its own."""
    world.faults(download_links="parts")
    assert world.cli("apply", TOULOUSE, "--auto-approve") == ExitCode.OK
    assert world.cli("refresh") == ExitCode.OK
    items = _order(world)["deliveries"]
    assert isinstance(items, list) and len(items) == 2
    [item_id] = {i["item_id"] for i in items}
    assert [i["download_href"] for i in items] == [
        f"/api/v1/items/{item_id}/download?part=1",
        f"/api/v1/items/{item_id}/download?part=2",
    ]
    state = StateStore(world.project / "oneatlas-state.json").load()
    tasks, _ = download_tasks(state, [ADDRESS], world.project / "out")
    assert [t.path.name for t in tasks] == [i["resource_id"] for i in items]
    assert len({t.path for t in tasks}) == 2
    # Each part resumes where a cut left it.
    world.faults(truncate_downloads_at=CUT)
    for task in tasks:
        assert fetch(client, task, attempts=1).status == "failed"
        assert 0 < task.part.stat().st_size <= CUT
    world.faults(truncate_downloads_at=0, corrupt_downloads=1)  # and the first is corrupted
    capsys.readouterr()
    assert world.cli("download", "--dest", "out") == ExitCode.OK
    assert "2 downloaded" in capsys.readouterr().out
    order = _order(world)
    records = order["downloads"]
    assert isinstance(records, list)
    assert sorted(r["path"] for r in records) == sorted(f"out/{t.path.name}" for t in tasks)
    for task, item in zip(tasks, order["deliveries"], strict=True):
        md5 = hashlib.md5(task.path.read_bytes()).hexdigest()
        assert item["checksum"] == md5
        assert {"path": f"out/{task.path.name}", "md5": md5} in [
            {"path": r["path"], "md5": r["md5"]} for r in records
        ]
        assert not task.part.exists()
    assert records[0]["md5"] != records[1]["md5"], "two different files"
    # Both verified: the next run fetches neither and changes nothing.
    serial = world.state()["serial"]
    assert world.cli("download", "--dest", "out") == ExitCode.OK
    assert "0 downloaded, 2 already there" in capsys.readouterr().out
    assert world.state()["serial"] == serial
    assert world.cli("refresh") == ExitCode.OK
    assert _order(world)["deliveries"] == order["deliveries"], "refresh keeps both checksums"


def test_files_of_one_item_get_distinct_names(tmp_path: Path) -> None:
    order = OrderRecord(
        order_key="k",
        customer_reference="ref",
        body_digest="sha256:b",
        status="ordered",
        deliveries=[
            Delivery(item_id="i1", download_href="/api/v1/items/i1/download?part=a"),
            Delivery(item_id="i1", download_href="/api/v1/items/i1/download?part=b"),
            Delivery(item_id="i1", download_href="/api/v1/items/i1/download?part=c"),
            Delivery(item_id="i2", download_href="/x", resource_id="i1.zip"),
        ],
    )
    state = State(
        lineage="l",
        serial=1,
        resources={"a.b.c": ResourceRecord(address="a.b.c", config_digest="d", orders=[order])},
    )
    tasks, _ = download_tasks(state, [], tmp_path)
    assert [(t.item_id, t.path.name) for t in tasks] == [
        ("i1", "i1.zip"),
        ("i1", "i1-2.zip"),
        ("i1", "i1-3.zip"),
        ("i2", "i1-4.zip"),
    ]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 KiB filesystem (tmpfs, needs root), unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a full-disk test needs root to mount a small tmpfs")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_exits_1_and_keeps_the_partial_file(
    delivered: World, small_disk: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert delivered.cli("download", "--dest", str(small_disk)) == ExitCode.ERROR
    captured = capsys.readouterr()
    assert "No space left on device" in captured.out and "Traceback" not in captured.err
    [part] = small_disk.glob("*.part")
    assert part.stat().st_size > 0 and "run download again to resume" in captured.out
    subprocess.run(["mount", "-o", "remount,size=1m", str(small_disk)], check=True)
    bars_before = part.stat().st_size
    assert delivered.cli("download", "--dest", str(small_disk)) == ExitCode.OK
    [record] = _order(delivered)["downloads"]
    data = Path(str(record["path"])).read_bytes()
    assert len(data) > bars_before and hashlib.md5(data).hexdigest() == record["md5"]


def test_a_failed_fsync_of_the_download_exits_1_and_keeps_the_partial_file(
    delivered: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The download's fsyncs go through ``_files``' injectable one, like every durable write."""
    real = _files._fsync
    synced: list[str] = []

    def failing(fd: int) -> None:
        name = os.readlink(f"/proc/self/fd/{fd}")
        if name.endswith(".part"):
            synced.append(name)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real(fd)

    monkeypatch.setattr(_files, "_fsync", failing)
    capsys.readouterr()
    assert delivered.cli("download", "--dest", "out") == ExitCode.ERROR
    captured = capsys.readouterr()
    assert synced, "the download never synced through _files"
    assert "Input/output error" in captured.out + captured.err
    assert "Traceback" not in captured.err
    assert list((delivered.project / "out").glob("*.part"))
    monkeypatch.setattr(_files, "_fsync", real)
    assert delivered.cli("download", "--dest", "out") == ExitCode.OK
