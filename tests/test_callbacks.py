"""The one progress protocol: ppdata.callbacks, its CLI bar and fsspec's callbacks."""

from __future__ import annotations

import threading
from pathlib import Path

from ppdata.callbacks import DEFAULT_CALLBACK, Callback, ItemCallback, NoOpCallback, resolve
from ppdata.cli.progress import BarCallback, progress_bar
from ppdata.mirror.world import EPHYS_COMPLETE
from ppdata.transfer.api import download, plan_download
from ppdata.transfer.manifest import verify


def test_updates_from_many_threads_are_all_counted() -> None:
    cb = Callback()
    cb.set_size(8 * 10_000)

    def work() -> None:
        for _ in range(10_000):
            cb.relative_update(1)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (cb.value, cb.size) == (80_000, 80_000)
    cb.absolute_update(5)
    assert cb.value == 5


def test_default_does_nothing_and_branches_are_closed_once() -> None:
    assert resolve(None) is DEFAULT_CALLBACK and isinstance(DEFAULT_CALLBACK, NoOpCallback)
    DEFAULT_CALLBACK.set_size(3)
    DEFAULT_CALLBACK.relative_update(2)
    assert (DEFAULT_CALLBACK.size, DEFAULT_CALLBACK.value) == (None, 0)
    assert Callback().branched("a", "b") is DEFAULT_CALLBACK
    ends: list[str] = []
    item = ItemCallback(lambda: ends.append("x"))
    with item:
        pass
    item.close()
    assert ends == ["x"]


def test_cli_bar_counts_items_and_echoes_steps_without_a_terminal() -> None:
    said: list[str] = []
    with progress_bar("Building", echo=said.append) as bar:  # stderr is not a tty in tests
        assert isinstance(bar, BarCallback)
        bar.set_size(2)
        for step in ("writing a", "writing b"):
            with bar.branched(step, "/dest"):
                pass
            bar.relative_update(1)
    assert said == ["writing a", "writing b"]
    assert (bar.value, bar.size, bar.items_done) == (2, 2, 2)
    with progress_bar("Quiet", echo=said.append, quiet=True) as bar:
        bar.branched("writing c", "/dest").close()
    assert said == ["writing a", "writing b"]  # --quiet: no log lines either


def test_an_fsspec_callback_follows_a_download_and_a_verify(settings, tmp_path: Path) -> None:
    from fsspec.callbacks import Callback as FsspecCallback

    from ppdata.remote.s3 import S3Client

    seen: list[tuple[int | None, int]] = []
    hooks = {"record": lambda size, value, **kw: seen.append((size, value))}
    with S3Client(settings) as client:
        plan = plan_download(
            EPHYS_COMPLETE, client=client, kinds=["sorted"], include=["nwb/*"], dest=tmp_path
        )
        summary = download(plan, client=client, callback=FsspecCallback(hooks=hooks))
    assert summary.ok and seen[0] == (plan.total_bytes, 0)
    assert seen[-1] == (plan.total_bytes, plan.total_bytes)
    hashed = Callback()
    report = verify(tmp_path, callback=hashed)
    assert report.ok and hashed.value == hashed.size == report.bytes_read
