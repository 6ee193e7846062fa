#!/usr/bin/env python3
"""Interleaved c=64 pairs: nginx and aigate measured cell by cell, alternately, against one mock.

bench.sh runs each subject's cells in turn, so its nginx and aigate c=64 cells are a minute
apart; on a machine whose speed drifts from minute to minute (a nested VM shares its cores) the
ratio of two such cells carries the drift. Here each pair is one nginx cell and the aigate cell
right after it (seconds apart), and the ratio of a figure is the median over the pairs'
ratios. A diagnostic printed beside proxy_bench.sh's goal table, not a goal of its own.

    pairs.py --loadgen BIN --mock BIN --nginx-conf FILE --work DIR --mock-port PORT \
             --aigate URL TOKEN PID [--pairs 3] [--duration 4] [--api responses]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

CLK = os.sysconf("SC_CLK_TCK")
PATHS = {"responses": "/v1/responses", "chat": "/v1/chat/completions", "messages": "/v1/messages"}


def body(api):
    """bench.py's small request body, not streamed."""
    if api == "chat":
        return {"model": "mock", "messages": [{"role": "user", "content": "hi"}], "stream": False}
    if api == "responses":
        return {"model": "mock", "input": "hi", "stream": False}
    return {"model": "mock", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}], "stream": False}


def stat_of(pid):
    """The fields of /proc/PID/stat after the command's name (the state first)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def cpu_s(pid):
    """User + system CPU of `pid` (its threads) and of its children (nginx's worker), in seconds."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(stat_of(entry)[1]) == pid:
                    pids.append(int(entry))
            except (OSError, IndexError):
                pass
    total = 0
    for each in pids:
        try:
            fields = stat_of(each)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"pairs: nothing listening on 127.0.0.1:{port}")


def cell(args, url, pid, token):
    argv = [args.loadgen, "--url", url + PATHS[args.api], "-c", "64", "--threads", "1", "--timeout", "30",
            "--duration", str(args.duration), "--warmup", "1", "--expect", "body_bytes",
            "--body", json.dumps(body(args.api))]
    # bench.py's headers, with the subject's token when it has one.
    key = token or "sk-bench"
    for header in (f"authorization: Bearer {key}", f"x-api-key: {key}", "anthropic-version: 2023-06-01"):
        argv += ["-H", header]
    before = cpu_s(pid)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    after = cpu_s(pid)
    result = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    # As bench.py: the warm-up's requests count too (the CPU covers them).
    requests = max(1, result["ok"] * (args.duration + 1) / args.duration)
    return result["rps"], (after - before) * 1e6 / requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--mock", required=True)
    ap.add_argument("--nginx-conf", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--mock-port", type=int, default=18080)
    ap.add_argument("--aigate", nargs=3, metavar=("URL", "TOKEN", "PID"), required=True)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--duration", type=float, default=4.0)
    ap.add_argument("--api", default="responses", choices=list(PATHS))
    args = ap.parse_args()
    if not shutil.which("nginx"):
        sys.exit("pairs: no nginx")
    url, token, pid = args.aigate[0], args.aigate[1], int(args.aigate[2])

    # nginx on its own prefix: the harness's config with its paths moved into the work dir.
    prefix = os.path.join(args.work, "nginx")
    os.makedirs(prefix, exist_ok=True)
    conf = open(args.nginx_conf).read().replace("/tmp/perf-run/nginx", prefix)
    conf = conf.replace("127.0.0.1:18080", f"127.0.0.1:{args.mock_port}")
    conf_path = os.path.join(prefix, "nginx.conf")
    with open(conf_path, "w") as out:
        out.write(conf)
    procs = [
        subprocess.Popen([args.mock, "--listen", f"127.0.0.1:{args.mock_port}", "--threads", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(["nginx", "-p", prefix, "-c", conf_path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
    ]
    try:
        wait_port(args.mock_port)
        wait_port(18081)
        nginx_pid = procs[1].pid
        rows = []
        for _ in range(args.pairs):
            nginx = cell(args, "http://127.0.0.1:18081", nginx_pid, None)
            rows.append((nginx, cell(args, url, pid, token)))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM if proc is procs[0] else signal.SIGQUIT)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(f"Interleaved c=64 pairs (diagnostic, not judged): {args.pairs} pairs of {args.duration:g} s cells, "
          "each nginx cell followed by an aigate cell; the ratio is the median of the pairs' ratios.")
    print()
    print("| pair | nginx req/s | aigate req/s | ratio | nginx CPU/req | aigate CPU/req | ratio |")
    print("|---|---|---|---|---|---|---|")
    for at, ((n_rps, n_cpu), (a_rps, a_cpu)) in enumerate(rows, 1):
        print(f"| {at} | {n_rps:,.0f} | {a_rps:,.0f} | {a_rps / n_rps:.3f}x | {n_cpu:.1f} µs | {a_cpu:.1f} µs "
              f"| {a_cpu / n_cpu:.3f}x |")
    rps = statistics.median(a[0] / n[0] for n, a in rows)
    cpu = statistics.median(a[1] / n[1] for n, a in rows)
    print(f"| median | | | {rps:.3f}x | | | {cpu:.3f}x |")


if __name__ == "__main__":
    main()
