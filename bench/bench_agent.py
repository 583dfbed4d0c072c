"""Host agent benchmark (needs root). Prints figures; asserts nothing.

1. Exec storm: >= 2,000 short-lived processes at full speed (`/bin/true m<i>` from a shell loop running under a
   login uid of our own); fraction captured with full argv, per source (audit vs proc connector), read back
   from the agent's spool. The agent runs as a subprocess (`python -m cloudwarden.host run`), spooling only.
2. Agent CPU (% of one core) and RSS at idle, ~100 and ~1,000 exec/s, per source; as a same-run reference
   the exec generator's own CPU is printed next to it.
3. Server ingest rate (events/s) over HTTP on loopback (uvicorn + the agent router, gzip batches of 1,000),
   with the in-process ingest rate as the same-run baseline.

    sudo .venv/bin/python bench/bench_agent.py [--storm 2000] [--phase-seconds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PY = sys.executable
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / CLK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class AgentProc:
    def __init__(self, source: str, auid: int, home: Path) -> None:
        self.home = home
        args = [PY, "-m", "cloudwarden.host", "run", "--sources", source, "--no-imds"]
        if source == "audit":
            args += ["--audit-auid", str(auid), "--audit-mode", "netlink"]
        env = {**os.environ, "CLOUDWARDEN_HOME": str(home)}
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        status = home / "agent-status.json"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not status.exists():
            if self.proc.poll() is not None:
                raise SystemExit(f"agent exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            time.sleep(0.1)
        time.sleep(1.5)

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=120)
        return err

    def spool_events(self) -> list[dict[str, object]]:
        db = sqlite3.connect(self.home / "agent-spool" / "spool.db")
        rows = [orjson.loads(b) for (b,) in db.execute("SELECT body FROM events")]
        db.close()
        return rows


def as_auid(auid: int, script: str) -> list[str]:
    return ["sh", "-c", f"echo {auid} > /proc/self/loginuid && exec sh -c \"$0\"", script]


def storm(auid: int, n: int, tag: str) -> tuple[float, float]:
    """n execs of /bin/true as fast as a shell loop goes; returns (seconds, generator CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(as_auid(auid, f"i=0; while [ $i -lt {n} ]; do /bin/true {tag}$i; i=$((i+1)); done"), check=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


GEN = r"""
import os, sys, time
auid, rate, seconds, tag = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
with open("/proc/self/loginuid", "w") as f:
    f.write(str(auid))
n = int(rate * seconds)
t0 = time.monotonic()
pending = []
for i in range(n):
    pending.append(os.posix_spawn("/bin/echo", ["/bin/echo", "-n", f"{tag}{i}"], {}))
    if len(pending) >= 64:
        for pid in pending:
            os.waitpid(pid, 0)
        pending.clear()
    ahead = (i + 1) / rate - (time.monotonic() - t0)
    if ahead > 0:
        time.sleep(ahead)
for pid in pending:
    os.waitpid(pid, 0)
"""


def paced(auid: int, rate: float, seconds: float, tag: str) -> tuple[float, float]:
    """About `rate` exec/s of /bin/echo for `seconds`, from a Python posix_spawn loop paced by the clock."""
    n = int(rate * seconds)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([PY, "-c", GEN, str(auid), str(rate), str(seconds), tag], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return n / wall, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def measure(agent: AgentProc, fn: object, *a: object) -> tuple[float, float, object]:
    pid = agent.proc.pid
    c0, t0 = cpu_seconds(pid), time.monotonic()
    res = fn(*a)  # type: ignore[operator]
    c1, t1 = cpu_seconds(pid), time.monotonic()
    return 100 * (c1 - c0) / (t1 - t0), rss_mb(pid), res


def bench_sources(storm_n: int, phase: float) -> None:
    auid = random.randint(4_200_000, 4_299_999)
    print(f"== exec storm and resource use (login uid {auid}; storm of {storm_n} /bin/true at full speed)")
    print(f"{'source':15s} {'captured':>9s} {'full argv':>10s} {'storm s':>8s} {'exec/s':>7s}")
    res_rows = []
    for source in ("audit", "proc_connector"):
        with tempfile.TemporaryDirectory() as tmp:
            agent = AgentProc(source, auid, Path(tmp))
            idle_cpu, idle_rss, _ = measure(agent, time.sleep, phase)
            tag = f"s{random.randint(0, 1 << 30):x}x"
            storm_cpu, storm_rss, (wall, gen_cpu) = measure(agent, storm, auid, storm_n, tag)  # type: ignore[misc]
            time.sleep(2.0)
            rates = []
            for rate in (100, 1000):
                cpu, rss, (achieved, gcpu) = measure(agent, paced, auid, rate, phase, f"p{rate}x")  # type: ignore[misc]
                rates.append((rate, achieved, cpu, rss, 100 * gcpu / (rate * phase / achieved)))
            err = agent.stop()
            events = agent.spool_events()
            want = {f"{tag}{i}" for i in range(storm_n)}
            seen: set[str] = set()
            full: set[str] = set()
            for e in events:
                argv = e.get("argv") or []
                if e.get("kind") != "process" or not isinstance(argv, list):
                    continue
                hit = next((a for a in argv if isinstance(a, str) and a in want), None)
                if hit is None and e.get("exe") == "/usr/bin/true":
                    seen.add(f"anon{len(seen)}")  # exec seen, argv missed (argv_complete=False)
                    continue
                if hit:
                    seen.add(hit)
                    if argv == ["/bin/true", hit] and e.get("argv_complete", True):
                        full.add(hit)
            print(f"{source:15s} {100 * min(len(seen), storm_n) / storm_n:8.1f}% {100 * len(full) / storm_n:9.1f}% "
                  f"{wall:8.2f} {storm_n / wall:7.0f}")
            res_rows.append((source, idle_cpu, idle_rss, storm_cpu, storm_rss, 100 * gen_cpu / wall, rates))
            if "Traceback" in err:
                print(err[-1500:])
    print()
    print(f"{'source':15s} {'phase':>14s} {'achieved':>9s} {'agent CPU%':>11s} {'RSS MB':>7s} {'generator CPU%':>15s}")
    for source, idle_cpu, idle_rss, storm_cpu, storm_rss, gen_storm, rates in res_rows:
        print(f"{source:15s} {'idle':>14s} {'-':>9s} {idle_cpu:11.1f} {idle_rss:7.1f} {'-':>15s}")
        for rate, achieved, cpu, rss, gcpu in rates:
            print(f"{source:15s} {f'{rate} exec/s':>14s} {achieved:9.0f} {cpu:11.1f} {rss:7.1f} {gcpu:15.1f}")
        print(f"{source:15s} {'storm (max)':>14s} {'-':>9s} {storm_cpu:11.1f} {storm_rss:7.1f} {gen_storm:15.1f}")
    print("targets: >= 99% full argv with audit; <= 5% of a core at 100 exec/s; RSS <= 100 MB")


def udp_flood(seconds: float) -> int:
    """Full-speed 64-byte datagrams to a socket of our own on 127.0.0.1 (never read; the kernel drops)."""
    import socket

    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dst, payload, n = sink.getsockname(), b"x" * 64, 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(200):
            try:
                out.sendto(payload, dst)
            except OSError:
                pass
        n += 200
    out.close()
    sink.close()
    return n


def bench_idle_sources(phase: float) -> None:
    """Idle cost of the file and DNS sources alone (inotify is the same-run baseline for fanotify)."""
    print()
    print(f"== idle agent per single source ({phase:.0f} s each; host activity of other users continues)")
    print(f"{'source':15s} {'agent CPU%':>11s} {'RSS MB':>7s}")
    for source in ("inotify", "fanotify", "dns"):
        with tempfile.TemporaryDirectory() as tmp:
            agent = AgentProc(source, 0, Path(tmp))
            cpu, rss, _ = measure(agent, time.sleep, phase)
            print(f"{source:15s} {cpu:11.2f} {rss:7.1f}")
            if source == "dns":  # AF_PACKET sees every packet: its cost under non-DNS loopback traffic
                lcpu, lrss, sent = measure(agent, udp_flood, phase)
                print(f"{'dns (flood)':15s} {lcpu:11.2f} {lrss:7.1f}   under {sent / phase:,.0f} non-DNS UDP packets/s on lo")
            err = agent.stop()
            if "Traceback" in err:
                print(err[-1500:])


def bench_ingest(batches: int = 20, batch_size: int = 1000) -> None:
    from tests.host.helpers import ENROLL, live, make_settings, minimal_app

    from cloudwarden.host.shipper import encode_batch
    from cloudwarden.models.host_event import HostEvent
    from cloudwarden.server.ingest import HostIngest, parse_batch
    from cloudwarden.store.lake import Lake
    from cloudwarden.store.state import open_store

    def events(start: int) -> list[bytes]:
        return [orjson.dumps(HostEvent(
            event_id=f"b:bench:{i}", host_id="bench-host", hostname="bench", time=1.7e9 + i, kind="process", action="exec",
            source="audit", pid=1000 + i % 30000, ppid=1, uid=1000, auid=1000, session_id=3, user="u", exe="/usr/bin/true",
            argv=["/bin/true", f"arg{i}"], cwd="/home/u", parent_exe="/usr/bin/bash", ancestors=["/usr/bin/bash", "/usr/sbin/sshd"],
        )) for i in range(start, start + batch_size)]

    print(f"\n== server ingest ({batches} batches x {batch_size} events, gzip JSON)")
    with tempfile.TemporaryDirectory() as tmp:
        s = make_settings(Path(tmp) / "srv")
        app, _svc = minimal_app(s)
        payloads = [encode_batch("spool-bench", list(enumerate(events(k * batch_size), start=k * batch_size + 1)),
                                 {"host_id": "bench-host"}, {}) for k in range(batches)]
        with live(app) as srv, httpx.Client(base_url=srv.url, timeout=60) as c:
            token = c.post("/api/agents/enroll", json={"enroll_secret": ENROLL, "host_id": "bench-host"}).json()["token"]
            t0 = time.monotonic()
            for p in payloads:
                r = c.post("/api/agents/ingest", content=p, headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"})
                assert r.status_code == 200, r.text
            http_wall = time.monotonic() - t0
        # same-run baseline: the same work without HTTP (decode+validate, lake write, detection, marks)
        state = open_store(f"sqlite:///{tmp}/base.db")
        svc = HostIngest(state, Lake(Path(tmp) / "lake2"), alert_sink=lambda a: None)
        agent, _tok = svc.agents.enroll("bench", host_id="bench-host")
        import gzip

        t0 = time.monotonic()
        for p in payloads:
            svc.ingest(agent, parse_batch(gzip.decompress(p), 10_000, "bench-host"))
        base_wall = time.monotonic() - t0
    n = batches * batch_size
    print(f"over HTTP on loopback : {n / http_wall:9.0f} events/s ({http_wall:.2f} s)")
    print(f"in-process (baseline) : {n / base_wall:9.0f} events/s ({base_wall:.2f} s); HTTP/in-process = {base_wall / http_wall:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--storm", type=int, default=2000)
    ap.add_argument("--phase-seconds", type=float, default=5.0)
    ap.add_argument("--skip-sources", action="store_true")
    ap.add_argument("--idle-sources-only", action="store_true", help="only the idle cost of inotify/fanotify/dns")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench_agent: needs root (audit, proc connector); printing the ingest figures only")
    elif args.idle_sources_only:
        bench_idle_sources(args.phase_seconds)
        return
    elif not args.skip_sources:
        bench_sources(args.storm, args.phase_seconds)
        bench_idle_sources(args.phase_seconds)
    bench_ingest()


if __name__ == "__main__":
    main()
