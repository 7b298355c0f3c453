#!/usr/bin/env python3
"""Sums a LibTorch operator profile (the Chrome trace that bench/train_step_bench --profile
writes) by operator: self time, total time and calls, largest self time first.

Self time is an event's duration minus that of the events nested directly inside it on the
same thread, so a matmul's time is not counted again in the linear layer that called it.

Usage: scripts/profile_summary.py TRACE.json [--top N]
"""
import argparse
import collections
import json
import sys


def load_events(path):
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    return [e for e in events if e.get("ph") == "X" and "dur" in e]


def summarize(events):
    """Returns {name: [self_us, total_us, calls]}."""
    stats = collections.defaultdict(lambda: [0.0, 0.0, 0])
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[e.get("tid")].append(e)
    for thread_events in by_thread.values():
        # Parents first: earlier start, then the longer event.
        thread_events.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []  # [event, child_us]
        def close(entry):
            event, child_us = entry
            s = stats[event["name"]]
            s[0] += event["dur"] - child_us
            s[1] += event["dur"]
            s[2] += 1
        for e in thread_events:
            while stack and e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]:
                close(stack.pop())
            if stack:
                stack[-1][1] += e["dur"]
            stack.append([e, 0.0])
        while stack:
            close(stack.pop())
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trace")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    try:
        events = load_events(args.trace)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{args.trace}: not a Chrome trace of the profiler: {e}")
    stats = summarize(events)
    all_self = sum(s[0] for s in stats.values())
    print(f"{len(events)} events, {all_self / 1e6:.3f} s of self time over all threads")
    print(f"| operator | self s | share | total s | calls |")
    print(f"| --- | --- | --- | --- | --- |")
    ranked = sorted(stats.items(), key=lambda kv: -kv[1][0])
    for name, (self_us, total_us, calls) in ranked[: args.top]:
        print(f"| {name} | {self_us / 1e6:.3f} | {100 * self_us / all_self:.1f}% | "
              f"{total_us / 1e6:.3f} | {calls} |")


if __name__ == "__main__":
    main()
