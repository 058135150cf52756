"""File uploads: a 100 MiB file through `POST /api/files`, its throughput and
the server's RSS while it arrives (issue #16: "to show that it streams").

One `hubbub serve` (SQLite, the default file:// blob store in the temporary
data dir) on core 0; one user registered over REST, one channel. The file is
random bytes (nothing compresses it) written to disk in 1 MiB chunks, and
`curl -F` uploads it from core 1, so neither side holds it in memory. After
a 1 MiB warm-up upload (first-use imports and buffers), each of `--repeat`
uploads is timed (curl's own total: connect to the 201, which comes after
the blob is fsynced and its row written), with the server's VmRSS read every
20 ms and its peak (VmHWM, reset through /proc/PID/clear_refs before each
transfer, so no spike between two samples is missed). Then the file is
downloaded back whole and as one Range of 10 MiB (at most half of it),
each timed, and checked byte for byte against the original (untimed).

Beside it, what the machine does with the same bytes: the same curl command,
just before each upload, against `bench/sink.c` (native, reads and discards,
answers 201); after the uploads, reading the file (`dd of=/dev/null`) and
copying it into the blob directory, to the page cache and fsynced (`dd`,
`dd conv=fsync`), these on the server core.

A run fails (exit 1) if an upload or download is refused or its bytes
differ, or if the server's RSS grew by more than a quarter of the file
during one transfer: it would not be streaming.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    GEN_CORE,
    PASSWORD,
    SERVER_CORE,
    ServerProc,
    core_breakdown,
    core_share,
    log,
    median,
    pinned,
    proc_cpu,
    proc_rss_kb,
    start_hubbub,
    start_process,
    workdir,
)

MIB = 1024 * 1024
SIZE_MIB = 100
QUICK_SIZE_MIB = 8
WARM_BYTES = MIB
RANGE_BYTES = 10 * MIB  # the Range download, from the middle (at most half the file)
SAMPLE_EVERY = 0.02  # seconds between VmRSS readings
NOT_STREAMING = 0.25  # peak RSS growth, as a share of the file, that fails a run
CHANNEL = "uploads"
SINK_SOURCE = Path(__file__).with_name("sink.c")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--size-mib",
        type=int,
        help=f"the file, MiB (default {SIZE_MIB}; {QUICK_SIZE_MIB} quick)",
    )


# --- the file and the tools ------------------------------------------------------------


def make_file(path: Path, size: int) -> str:
    """`size` random bytes at `path`, written a chunk at a time; their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(MIB, left))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def compile_sink(work: Path) -> Path | None:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        log("WARNING: no C compiler: no native sink to compare with")
        return None
    exe = work / "sink"
    subprocess.run(
        [cc, "-O2", "-Wall", "-Werror", "-o", str(exe), str(SINK_SOURCE)], check=True, timeout=60
    )
    return exe


# curl's own figures, after the body (-o sends that elsewhere).
CURL_OUT = "%{http_code} %{size_upload} %{size_download} %{time_total}"


def curl(args: list[str], timeout: float = 300.0) -> dict[str, Any]:
    """One curl on the generator core: its status, bytes up and down, seconds."""
    # No `Expect: 100-continue` (curl asks for it on big bodies; browsers don't).
    argv = ["curl", "-sS", "-H", "Expect:", "-w", CURL_OUT, *args]
    r = subprocess.run(pinned(GEN_CORE, argv), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"curl failed ({r.returncode}): {r.stderr.strip()}")
    code, up, down, total = r.stdout.split()[-4:]
    return {
        "status": int(code),
        "bytes_up": int(up),
        "bytes_down": int(down),
        "seconds": float(total),
    }


def upload_args(url: str, path: Path, body: Path, token: str | None) -> list[str]:
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    return [
        *auth,
        "-o",
        str(body),
        "-F",
        f"channel={CHANNEL}",
        "-F",
        f"file=@{path};filename=random.bin;type=application/octet-stream",
        url,
    ]


def mib_s(size: int, seconds: float) -> float:
    return round(size / MIB / seconds, 1) if seconds > 0 else 0.0


# --- the server's memory -----------------------------------------------------------------


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (Linux >= 4.0); False if refused."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Watch:
    """The server's RSS and CPU across one transfer: VmRSS every 20 ms in a
    thread, VmHWM (reset at the start) for the peak between two samples."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.hwm = reset_peak(pid)
        self.before = proc_rss_kb(pid)
        self.peak = self.before
        self.samples = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.cpu0 = proc_cpu(pid)
        self.core0 = core_breakdown(SERVER_CORE)
        self.t0 = time.monotonic()
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_EVERY):
            self.peak = max(self.peak, proc_rss_kb(self.pid))
            self.samples += 1

    def stop(self) -> dict[str, Any]:
        self._done.set()
        self._thread.join()
        wall = time.monotonic() - self.t0
        cpu = (proc_cpu(self.pid) - self.cpu0) / wall if wall else 0.0
        core = core_share(self.core0, core_breakdown(SERVER_CORE))
        after = proc_rss_kb(self.pid)
        peak = max(self.peak, after)
        if self.hwm:
            peak = max(peak, _status_kb(self.pid, "VmHWM"))
        return {
            "rss_before_kb": self.before,
            "rss_peak_kb": peak,
            "rss_after_kb": after,
            "rss_growth_kb": peak - self.before,
            "rss_samples": self.samples,
            "peak_from_hwm": self.hwm,
            "server_cpu": round(cpu, 3),
            # the server core's time that was neither idle nor the server: the
            # neighbours on this shared machine (and some of our loopback softirq)
            "server_core_not_ours": round(max(0.0, 1 - core["idle"] - cpu), 3),
        }


# --- a run -------------------------------------------------------------------------------------


def _api(server: ServerProc, path: str) -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def sign_up(server: ServerProc) -> str:
    """A user (the server's first: its owner) and the channel; the user's token."""
    import httpx

    with httpx.Client(base_url=_api(server, ""), timeout=60) as client:
        r = client.post("/api/auth/register", json={"username": "bench", "password": PASSWORD})
        r.raise_for_status()
        token: str = r.json()["token"]
        r = client.post(
            "/api/channels", json={"name": CHANNEL}, headers={"Authorization": f"Bearer {token}"}
        )
        r.raise_for_status()
    return token


def upload(server: ServerProc, path: Path, work: Path, token: str) -> dict[str, Any]:
    body = work / "answer.json"
    watch = Watch(server.pid)
    got = curl(upload_args(_api(server, "/api/files"), path, body, token))
    res = {**got, **watch.stop()}
    answer = json.loads(body.read_text() or "null")  # 201: the list of the files sent
    ok = isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], dict)
    res["file"] = answer[0] if ok else None
    return res


def download(
    server: ServerProc, file_id: str, token: str, span: tuple[int, int] | None, out: Path
) -> dict[str, Any]:
    args = ["-H", f"Authorization: Bearer {token}", "-o", str(out)]
    if span is not None:
        args += ["-r", f"{span[0]}-{span[1] - 1}"]
    watch = Watch(server.pid)
    got = curl([*args, _api(server, f"/api/files/{file_id}")])
    return {**got, **watch.stop()}


def downloaded_sha256(server: ServerProc, file_id: str, token: str) -> str:
    """The file as the server sends it, hashed as it arrives (not timed)."""
    url = _api(server, f"/api/files/{file_id}")
    argv = ["curl", "-sS", "--fail", "-H", f"Authorization: Bearer {token}", url]
    digest = hashlib.sha256()
    with subprocess.Popen(pinned(GEN_CORE, argv), stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(MIB):
            digest.update(chunk)
    if proc.returncode:
        raise RuntimeError(f"curl failed ({proc.returncode}) downloading {file_id}")
    return digest.hexdigest()


def dd(args: list[str], size: int) -> float:
    """MiB/s of one `dd` on the server core."""
    t = time.monotonic()
    subprocess.run(
        pinned(SERVER_CORE, ["dd", "bs=1M", "status=none", *args]), check=True, timeout=300
    )
    return mib_s(size, time.monotonic() - t)


def start_sink(work: Path) -> ServerProc | None:
    """The native sink on the server core (idle while hubbub is measured)."""
    exe = compile_sink(work)
    if exe is None:
        return None
    argv = pinned(SERVER_CORE, [str(exe)])
    return start_process(argv, work / "sink.log", r"sink listening on port (\d+)")


def sink_upload(sink: ServerProc, path: Path, work: Path, size: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{sink.port}/api/files"
    got = curl(upload_args(url, path, work / "sink-answer", None))
    got["mib_s"] = mib_s(size, got["seconds"])
    if got["status"] != 201 or got["bytes_up"] <= size:
        raise RuntimeError(f"the sink answered {got['status']} after {got['bytes_up']} bytes")
    return got


def machine_limits(work: Path, path: Path, size: int, repeat: int) -> dict[str, Any]:
    """The same bytes without hubbub or the network: a read, a copy into the
    blob directory (to the page cache, and fsynced as the blob store does)."""
    res: dict[str, Any] = {}
    blobs = work / "data" / "files"
    res["read_mib_s"] = [dd([f"if={path}", "of=/dev/null"], size) for _ in range(repeat)]
    copy = blobs / "copy.part"
    for key, flags in (("copy_mib_s", []), ("copy_fsync_mib_s", ["conv=fsync"])):
        res[key] = []
        for _ in range(repeat):
            res[key].append(dd([f"if={path}", f"of={copy}", *flags], size))
            copy.unlink()
    return res


def run(args: Any) -> dict[str, Any]:
    size = (args.size_mib or (QUICK_SIZE_MIB if args.quick else SIZE_MIB)) * MIB
    repeat = args.repeat
    with workdir(args.keep) as work:
        path = work / "random.bin"
        warm = work / "warm.bin"
        t = time.monotonic()
        sha = make_file(path, size)
        make_file(warm, WARM_BYTES)
        log(f"upload: {size // MIB} MiB of random bytes written in {time.monotonic() - t:.1f} s")
        data = work / "data"
        data.mkdir()
        limits = {"max_file_bytes": size, "file_quota_bytes": (repeat + 1) * size + WARM_BYTES}
        server = start_hubbub(data, limits)
        sink: ServerProc | None = None
        sink_runs: list[dict[str, Any]] = []
        uploads: list[dict[str, Any]] = []
        downloads: list[dict[str, Any]] = []
        problems: list[str] = []
        try:
            sink = start_sink(work)
            token = sign_up(server)
            rss_start = proc_rss_kb(server.pid)
            first = upload(server, warm, work, token)
            if first["status"] != 201 or first["file"] is None:
                raise RuntimeError(f"warm-up upload answered {first['status']}:\n{server.tail()}")
            download(server, first["file"]["id"], token, None, Path(os.devnull))
            rss_warm = proc_rss_kb(server.pid)
            for k in range(repeat):
                # the sink just before each upload: the same moment's neighbours
                if sink is not None:
                    sink_runs.append(sink_upload(sink, path, work, size))
                up = upload(server, path, work, token)
                up["mib_s"] = mib_s(size, up["seconds"])
                uploads.append(up)
                log(
                    f"  upload {k + 1}/{repeat}: {up['status']}, {up['mib_s']} MiB/s "
                    f"({up['seconds']:.2f} s), server CPU {up['server_cpu']:.0%} (core not ours "
                    f"{up['server_core_not_ours']:.0%}), RSS "
                    f"{up['rss_before_kb'] / 1024:.1f} -> peak {up['rss_peak_kb'] / 1024:.1f} "
                    f"-> {up['rss_after_kb'] / 1024:.1f} MiB (+{up['rss_growth_kb']} KB)"
                )
                info = up["file"]
                if up["status"] != 201 or info is None:
                    problems.append(f"upload {k + 1} answered {up['status']}")
                    continue
                if info["size"] != size:
                    problems.append(f"upload {k + 1} stored {info['size']} bytes, not {size}")
                whole = download(server, info["id"], token, None, Path(os.devnull))
                n = min(RANGE_BYTES, size // 2)
                span = (size // 2 - n // 2, size // 2 - n // 2 + n)
                part = work / "range.bin"
                ranged = download(server, info["id"], token, span, part)
                ranged["range"] = list(span)
                for d in (whole, ranged):
                    d["mib_s"] = mib_s(d["bytes_down"], d["seconds"])
                downloads.append({"whole": whole, "range": ranged})
                log(
                    f"  download: {whole['mib_s']} MiB/s ({whole['seconds']:.2f} s, RSS "
                    f"+{whole['rss_growth_kb']} KB); {span[1] - span[0]} B range "
                    f"{ranged['status']} in {ranged['seconds'] * 1000:.0f} ms"
                )
                problems += check_downloads(k + 1, whole, ranged, size, part, path)
                if downloaded_sha256(server, info["id"], token) != sha:
                    problems.append(f"upload {k + 1}: the download differs from the file")
            rss_end = proc_rss_kb(server.pid)
            if server.proc.poll() is not None:
                raise RuntimeError(f"server died:\n{server.tail()}")
        finally:
            server.stop()
            if sink is not None:
                sink.stop()
        limits_res = {"sink_runs": sink_runs, **machine_limits(work, path, size, repeat)}
    sink_mib = [r["mib_s"] for r in sink_runs]
    up_mib_s = median([u["mib_s"] for u in uploads])
    sink_mib_s = median(sink_mib) if sink_mib else None
    m = {
        "upload_mib_s": up_mib_s,
        "upload_share_of_sink": round(up_mib_s / sink_mib_s, 3) if sink_mib_s else None,
        # the worst of the runs: the claim is that none of them grows with the file
        "upload_rss_growth_kb_max": max((u["rss_growth_kb"] for u in uploads), default=0),
        "download_mib_s": median([d["whole"]["mib_s"] for d in downloads]),
        "download_rss_growth_kb_max": max(
            (d["whole"]["rss_growth_kb"] for d in downloads), default=0
        ),
        "range_ms": round(median([d["range"]["seconds"] * 1000 for d in downloads]), 1),
        "sink_mib_s": sink_mib_s,
        "read_mib_s": median(limits_res["read_mib_s"]),
        "copy_mib_s": median(limits_res["copy_mib_s"]),
        "copy_fsync_mib_s": median(limits_res["copy_fsync_mib_s"]),
    }
    for u in uploads:
        if u["rss_growth_kb"] * 1024 > NOT_STREAMING * size:
            problems.append(
                f"the server's RSS grew {u['rss_growth_kb']} KB during a {size // 1024} KB "
                "upload: it does not stream"
            )
    for d in downloads:
        if d["whole"]["rss_growth_kb"] * 1024 > NOT_STREAMING * size:
            problems.append(f"the server's RSS grew {d['whole']['rss_growth_kb']} KB downloading")
    share = f" = {m['upload_share_of_sink']:.0%} of the sink" if sink_mib_s else ""
    log(
        f"upload median {up_mib_s} MiB/s{share}; peak RSS growth at most "
        f"{m['upload_rss_growth_kb_max']} KB for a {size // 1024} KB file; download "
        f"{m['download_mib_s']} MiB/s; native sink {sink_mib_s} MiB/s, read "
        f"{m['read_mib_s']} MiB/s, copy {m['copy_mib_s']} MiB/s, "
        f"fsynced {m['copy_fsync_mib_s']} MiB/s"
    )
    return {
        "file_bytes": size,
        "rss_kb": {"signed_up": rss_start, "warm": rss_warm, "end": rss_end},
        "uploads": uploads,
        "downloads": downloads,
        "machine_limits": limits_res,
        "median": m,
        "loadavg_at_end": os.getloadavg(),
        "problems": problems,
    }


def check_downloads(
    k: int, whole: dict[str, Any], ranged: dict[str, Any], size: int, part: Path, path: Path
) -> list[str]:
    problems = []
    if whole["status"] != 200 or whole["bytes_down"] != size:
        problems.append(f"upload {k}: download {whole['status']}, {whole['bytes_down']} bytes")
    start, end = ranged["range"]
    if ranged["status"] != 206 or ranged["bytes_down"] != end - start:
        problems.append(f"upload {k}: range {ranged['status']}, {ranged['bytes_down']} bytes")
    else:
        with open(path, "rb") as f:
            f.seek(start)
            if part.read_bytes() != f.read(end - start):
                problems.append(f"upload {k}: the range's bytes differ from the file")
    with contextlib.suppress(OSError):
        part.unlink()
    return problems


def check(result: dict[str, Any]) -> list[str]:
    problems: list[str] = result["problems"]
    return problems
