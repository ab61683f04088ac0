#!/usr/bin/env python3
"""Runs `swift test …` and stops it if it stalls, saying where.

Usage: watch-tests.py --limit SECONDS --quiet SECONDS [--stalled-retries N] -- COMMAND [ARG …]

Passes the command's output through line by line. When the command runs past --limit seconds
in all, or prints nothing for --quiet seconds, it prints the tests that started and did not
finish (with how long each has run), the stack of every thread of the test processes (gdb), then
kills the command's process group. With --stalled-retries N, a stalled run in which no test had
failed is run again, whole, up to N times; otherwise (or when every try stalled) it exits 124. A
run that was not stopped exits with the command's status. A hang in CI is then reported with its
tests and stacks within minutes, not a silent timeout.
"""
import argparse
import collections
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time

STARTED = re.compile(r"^◇ Test (.+?) started\.")
ENDED = re.compile(r"^[✔✘➜] Test (.+?) (?:passed after|failed after|skipped)")


def descendants(pid):
    """The pids below pid, read from /proc (no psutil on a fresh machine)."""
    children = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def report(reason, running, started_at, child):
    now = time.monotonic()
    say = lambda s: print(f"[watchdog] {s}", flush=True)
    say(f"{reason}: stopping the tests after {now - started_at:.0f} s")
    if running:
        say("tests started and not finished:")
        for name, since in sorted(running.items(), key=lambda kv: min(kv[1])):
            for t in since:
                say(f"  {name} (running for {now - t:.0f} s)")
    else:
        say("no test is running")
    gdb = shutil.which("gdb")
    for pid in [child.pid] + descendants(child.pid):
        line = command_line(pid)
        if ".xctest" not in line and "PackageTests" not in line:
            say(f"process {pid}: {line[:200]}")
            continue
        say(f"threads of {pid}: {line[:200]}")
        if not gdb:
            say("  (gdb is not installed: no stacks)")
            continue
        try:
            r = subprocess.run([gdb, "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                                "-ex", "thread apply all bt 40"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                               errors="replace")
            stacks = r.stdout
        except subprocess.TimeoutExpired:
            stacks = "(gdb timed out after 300 s)"
        noise = ("[New LWP", "[Thread debugging", "Using host libthread_db", "[Inferior")
        for l in stacks.splitlines()[:5000]:
            if l.strip() and not l.startswith(noise):
                print(f"[watchdog]   {l[:300]}", flush=True)


FAILED = re.compile(r"^✘ Test (.+?) failed after")


def attempt(cmd, limit, quiet):
    """Runs cmd once. Returns (status, stalled, failed): stalled when it was stopped, failed when
    a test failed before that."""
    start = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    fd = child.stdout.fileno()
    running = collections.defaultdict(list)
    pending, last = b"", time.monotonic()
    reason, failed = None, False
    while True:
        now = time.monotonic()
        if now - start > limit:
            reason = f"the tests ran past {limit:.0f} s"
        elif now - last > quiet:
            reason = f"no output for {quiet:.0f} s"
        if reason:
            break
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            if child.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        last = time.monotonic()
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode(errors="replace")
            if FAILED.search(line):
                failed = True
            if m := STARTED.search(line):
                if not m.group(1).startswith("case "):  # a parameterized test's cases end with the test
                    running[m.group(1)].append(last)
            elif m := ENDED.search(line):
                name = m.group(1)
                if running.get(name):
                    running[name].pop(0)
                    if not running[name]:
                        del running[name]
    if reason:
        report(reason, running, start, child)
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        return 124, True, failed
    return child.wait(), False, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=float, required=True)
    ap.add_argument("--quiet", type=float, required=True)
    ap.add_argument("--stalled-retries", type=int, default=0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    for n in range(a.stalled_retries + 1):
        status, stalled, failed = attempt(cmd, a.limit, a.quiet)
        if not stalled:
            return status
        if failed:
            print("[watchdog] a test failed before the stall: not run again", flush=True)
            return 1
        if n < a.stalled_retries:
            print("[watchdog] no test had failed: running the whole pass again", flush=True)
    return 124


if __name__ == "__main__":
    sys.exit(main())
