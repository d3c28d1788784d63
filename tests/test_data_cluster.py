"""Datasets on a dask cluster the client did not start (issue 16): paths sent to workers
are absolute, the client finds each shard's file where it sent it or fails naming the
worker and the path, a worker that cannot write the output folder says so, bad
``workers`` and an unreachable ``scheduler`` are refused at once."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_data import contents, write_recipe

import pdesim.data as data
from pdesim.cli import main
from pdesim.data import SharedFilesystemError, generate, run_shard
from pdesim.file_checks import check_dataset
from pdesim.io import RECIPE_HASH_ATTR, SHARD_ATTR
from pdesim.recipes import load_recipe


def closed_port_address() -> str:
    """A loopback address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


# ---------------------------------------------------------------- arguments, scheduler


@pytest.mark.parametrize(
    ("workers", "error", "words"),
    [
        (0, ValueError, "an integer >= 1, got 0"),
        (-1, ValueError, "an integer >= 1, got -1"),
        (1.5, TypeError, "an integer >= 1"),
        ("2", TypeError, "an integer >= 1"),
        (True, TypeError, "an integer >= 1"),
    ],
)
def test_generate_refuses_bad_workers_before_any_work(tmp_path, workers, error, words):
    recipe = load_recipe(write_recipe(tmp_path))
    with pytest.raises(error, match="'workers'") as caught:
        generate(recipe, tmp_path, workers=workers)
    assert words in str(caught.value)
    assert not (tmp_path / "tiny").exists()  # no lock, no folders: nothing started


def test_generate_refuses_workers_with_a_scheduler_and_a_scheduler_that_is_no_address(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    with pytest.raises(ValueError, match=r"'workers'.*'scheduler'"):
        generate(recipe, tmp_path, workers=2, scheduler="tcp://127.0.0.1:8786")
    for scheduler in ("", 8786):
        with pytest.raises(TypeError, match="'scheduler'"):
            generate(recipe, tmp_path, scheduler=scheduler)
    assert not (tmp_path / "tiny").exists()
    with pytest.raises(ValueError, match=r"'scheduler' must be a dask scheduler address.*'foo'"):
        generate(recipe, tmp_path, scheduler="foo")


def test_an_unreachable_scheduler_fails_quickly_naming_its_address(tmp_path, monkeypatch):
    assert data.SCHEDULER_TIMEOUT <= 10  # not dask's 30 s default
    monkeypatch.setattr(data, "SCHEDULER_TIMEOUT", 1.0)
    address = closed_port_address()
    recipe = load_recipe(write_recipe(tmp_path))
    started = time.monotonic()
    with pytest.raises(data.SchedulerUnreachable) as caught:
        generate(recipe, tmp_path, scheduler=address)
    assert time.monotonic() - started < 8
    message = str(caught.value)
    assert address in message and "did not answer within 1 s" in message
    assert "\n" not in message
    assert isinstance(caught.value, OSError)  # the CLI's exit status 1
    assert not (tmp_path / "tiny" / data.LOCK_NAME).exists()  # released on the way out


# ------------------------------------------------------- files where the client expects


@pytest.fixture(scope="module")
def threads_cluster():
    """A cluster of one in-process worker, so that a test can replace run_shard."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


def _fake_report(path: str) -> dict:
    return {
        "path": path,
        "trajectories": 2,
        "trajectory_steps": 80,
        "excluded": [],
        "bytes": 0,
    }


def _writes_nothing(recipe, shard, path):
    """A worker whose filesystem is not the client's: it says it wrote ``path``."""
    return _fake_report(path)


def _reports_another_path(recipe, shard, path):
    return _fake_report("/elsewhere/" + shard.relative_path)


def _writes_no_hdf5(recipe, shard, path):
    Path(path).write_text("not HDF5")
    return _fake_report(path)


def _writes_another_shard(recipe, shard, path):
    with h5py.File(path, "w") as h5:
        h5.attrs[SHARD_ATTR] = "data/train/other.hdf5"
        h5.attrs[RECIPE_HASH_ATTR] = recipe.hash
    return _fake_report(path)


@pytest.mark.parametrize(
    ("fake", "words"),
    [
        (_writes_nothing, "the client finds no file at"),
        (_reports_another_path, "reports the path '/elsewhere/"),
        (_writes_no_hdf5, "cannot read"),
        (_writes_another_shard, "carries shard 'data/train/other.hdf5'"),
    ],
)
def test_a_shard_file_not_where_the_client_expects_is_a_failure(
    tmp_path, monkeypatch, threads_cluster, fake, words
):
    monkeypatch.setattr(data, "run_shard", fake)
    recipe = load_recipe(write_recipe(tmp_path))
    reports = []
    summary = generate(
        recipe, tmp_path, scheduler=threads_cluster.scheduler_address, progress=reports.append
    )
    assert not summary.ok and summary.files_written == 0 and summary.trajectories == 0
    shard_failures = [f for f in summary.failures if "path" in f]
    assert len(shard_failures) == len(recipe.shards()) == len(reports)
    (worker,) = threads_cluster.scheduler_info["workers"]
    out = (tmp_path / "tiny").resolve()
    for failure in shard_failures:
        error = failure["error"]
        assert error.startswith("SharedFilesystemError: worker ")
        assert worker in error, error  # the worker that ran it, by address
        assert words in error and str(out / failure["path"]) in error
        assert "same absolute path" in error
    assert not (out / "stats.yaml").exists()


def test_the_cli_exits_1_when_the_files_are_not_where_it_expects(
    tmp_path, monkeypatch, threads_cluster, capsys
):
    monkeypatch.setattr(data, "run_shard", _writes_nothing)
    recipe = write_recipe(tmp_path)
    argv = ["data", str(recipe), "--scheduler", threads_cluster.scheduler_address, "--quiet"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.count("FAILED: {'path'") == len(load_recipe(recipe).shards())
    assert "SharedFilesystemError" in out and "the client finds no file at" in out


# ------------------------------------------------- a worker that cannot write the folder


def test_a_worker_without_the_output_folder_fails_naming_host_and_path(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    shard = recipe.shards()[0]
    path = tmp_path / "not_shared" / shard.relative_path
    with pytest.raises(SharedFilesystemError) as caught:
        run_shard(recipe, shard, str(path))
    message = str(caught.value)
    assert f"host {os.uname().nodename!r}" in message and f"pid {os.getpid()}" in message
    assert str(path.parent) in message and "does not exist there" in message
    assert not (tmp_path / "not_shared").exists()  # the folder was not made


def test_a_worker_that_cannot_write_the_output_folder_fails_naming_host_and_path(
    tmp_path, monkeypatch
):
    recipe = load_recipe(write_recipe(tmp_path))
    shard = recipe.shards()[0]
    path = tmp_path / shard.relative_path
    path.parent.mkdir(parents=True)
    real_open = open

    def refusing(file, mode="r", *args, **kwargs):  # a read-only folder, also for root
        if Path(file).parent == path.parent and "x" in mode:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing)
    with pytest.raises(SharedFilesystemError) as caught:
        run_shard(recipe, shard, str(path))
    message = str(caught.value)
    assert "cannot write to the output folder" in message and "Permission denied" in message
    assert str(path.parent) in message and f"host {os.uname().nodename!r}" in message
    assert list(path.parent.iterdir()) == []


def test_a_cluster_worker_that_cannot_see_the_folder_fails_the_run(
    tmp_path, monkeypatch, threads_cluster
):
    def elsewhere(recipe, shard, path):  # as on a worker without the shared filesystem
        return run_shard(recipe, shard, str(tmp_path / "not_shared" / shard.relative_path))

    monkeypatch.setattr(data, "run_shard", elsewhere)
    recipe = load_recipe(write_recipe(tmp_path))
    summary = generate(recipe, tmp_path, scheduler=threads_cluster.scheduler_address)
    (worker,) = threads_cluster.scheduler_info["workers"]
    shard_failures = [f for f in summary.failures if "path" in f]
    assert not summary.ok and len(shard_failures) == len(recipe.shards())
    for failure in shard_failures:
        assert failure["error"].startswith(f"SharedFilesystemError: worker {worker} (host ")
        assert "cannot see the output folder" in failure["error"]
    assert not (tmp_path / "not_shared").exists()


# -------------------------------------------------------------- a real, separate cluster


def _start(cmd: list[str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def _wait(predicate, what: str, processes, logs, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        dead = [p.args[1:3] for p in processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            text = "\n".join(f"--- {log.name}\n{log.read_text()[-2000:]}" for log in logs)
            pytest.fail(f"{what}: {'exited: ' + str(dead) if dead else 'timed out'}\n{text}")
        time.sleep(0.1)


def _fields(dataset: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(dataset.glob("data/*/*.hdf5")):
        with h5py.File(path) as h5:
            for name in h5["t0_fields"].attrs["field_names"]:
                found[f"{path.relative_to(dataset)}/{name}"] = h5["t0_fields"][name][()]
    return found


@pytest.mark.slow
def test_a_separate_cluster_with_a_killed_worker_equals_a_local_cluster_run(tmp_path, monkeypatch):
    """`dask scheduler` and two `dask worker` processes started in another directory: the
    files land where the client wants them (given a relative path), a SIGKILLed worker's
    shards are redone by the other, and the dataset equals a LocalCluster run's."""
    dask = [str(Path(sys.executable).with_name("dask"))]
    if not Path(dask[0]).exists():
        dask = [sys.executable, "-m", "dask"]
    client_dir, workers_dir, logs_dir, local_dir = (
        tmp_path / name for name in ("client", "workers", "logs", "local")
    )
    for folder in (client_dir, workers_dir, logs_dir, local_dir):
        folder.mkdir()
    # test_data's tiny recipe with six shards, so that the run outlives the first one
    write_recipe(local_dir, write_recipe(client_dir, **{"train = 4": "train = 8"}).read_text())
    scheduler_file = logs_dir / "scheduler.json"
    processes: list[subprocess.Popen] = []
    logs = [logs_dir / "scheduler.log", logs_dir / "worker0.log", logs_dir / "worker1.log"]
    watchdog = threading.Timer(600, lambda: [_stop(p) for p in processes])  # never hang
    watchdog.daemon = True
    probe = None
    watchdog.start()
    try:
        processes.append(
            _start(
                [
                    *dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--no-dashboard",
                ],
                workers_dir,
                logs[0],
            )
        )
        _wait(scheduler_file.exists, "the scheduler", processes, logs)
        _wait(lambda: scheduler_file.stat().st_size > 0, "the scheduler file", processes, logs)
        address = json.loads(scheduler_file.read_text())["address"]
        for i in range(2):
            processes.append(
                _start(
                    [
                        *dask,
                        "worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--death-timeout",
                        "60",
                    ],
                    workers_dir,
                    logs[1 + i],
                )
            )
        from dask.distributed import Client

        probe = Client(address, timeout=30)  # watches the cluster during the run
        probe.wait_for_workers(2, timeout=90)
        pids = probe.run(os.getpid)  # {worker address: its pid}
        by_group = {p.pid: p for p in processes[1:]}  # `dask worker` leads its session
        worker_process = {a: by_group[os.getpgid(pid)] for a, pid in pids.items()}

        monkeypatch.chdir(client_dir)  # a relative output folder, as `pdesim data x.toml`
        recipe = load_recipe("tiny.toml")
        total = len(recipe.shards())
        reports: list[dict] = []
        victim: list[str] = []

        def kill_one_worker(report):
            """After the first shard's report, SIGKILL the other worker while it runs one."""
            reports.append(report)
            if victim:
                return
            (address,) = (a for a in worker_process if a not in report["worker"])
            deadline = time.monotonic() + 60
            while not probe.processing(workers=[address]).get(address):
                assert time.monotonic() < deadline, "the other worker never got a shard"
                time.sleep(0.01)
            victim.append(address)
            os.killpg(worker_process[address].pid, signal.SIGKILL)
            worker_process[address].wait(timeout=30)

        summary = generate(recipe, ".", scheduler=address, progress=kill_one_worker)
        killed = worker_process[victim[0]]
        assert killed.returncode == -signal.SIGKILL and len(reports) == total > 1
        (survivor,) = (p for p in worker_process.values() if p is not killed)
        assert survivor.poll() is None
        assert all(victim[0] not in r["worker"] for r in reports)  # its shard was redone
        assert summary.ok, summary.failures
        assert summary.files_written == total
    finally:
        watchdog.cancel()
        if probe is not None:
            probe.close()
        for process in reversed(processes):
            _stop(process)

    local = generate(load_recipe(local_dir / "tiny.toml"), local_dir, workers=2)
    assert local.ok and local.files_written == total
    ours, theirs = client_dir / "tiny", local_dir / "tiny"
    assert check_dataset(ours) and not any(check_dataset(ours).values())
    assert main(["validate", str(ours)]) == 0
    mine, reference = _fields(ours), _fields(theirs)
    assert sorted(mine) == sorted(reference) and len(mine) == total
    for key in reference:
        assert np.array_equal(mine[key], reference[key]), key
    assert contents(ours) == contents(theirs)  # every dataset and attribute but VOLATILE
    assert not list(workers_dir.rglob("*.hdf5")) and not (workers_dir / "tiny").exists()
