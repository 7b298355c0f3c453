#!/usr/bin/env python3
"""Read aha's TensorBoard event files with TensorBoard's own reader and check their contents.

Usage: python3 scripts/check_tensorboard.py DIR [--scalars TAG,...] [--texts TAG,...]

DIR is a folder of events.out.tfevents.* files (a run's tb/ folder). Prints every scalar tag
with its number of points and last value, and every text tag with its first text. Exits 1 when
a tag named with --scalars or --texts is missing, when the folder contains no scalar or text event, or when a scalar
is not finite. Needs the tensorboard package (`pip install tensorboard` in a venv).
"""

import argparse
import math
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", help="folder with events.out.tfevents.* files")
    parser.add_argument("--scalars", default="", help="comma-separated scalar tags that must exist")
    parser.add_argument("--texts", default="", help="comma-separated text tags that must exist")
    args = parser.parse_args()

    # size_guidance 0 keeps every event instead of a reservoir sample.
    accumulator = event_accumulator.EventAccumulator(
        args.dir, size_guidance={event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    failures = []

    scalar_tags = tags.get(event_accumulator.SCALARS, [])
    for tag in sorted(scalar_tags):
        events = accumulator.Scalars(tag)
        last = events[-1]
        print(f"scalar {tag}: {len(events)} points, last step {last.step} value {last.value:.6g}")
        if not all(math.isfinite(e.value) for e in events):
            failures.append(f"scalar {tag} has a value that is not finite")

    # TensorBoard's reader files text summaries (plugin "text") under tensors.
    text_tags = [t for t in tags.get(event_accumulator.TENSORS, [])
                 if accumulator.SummaryMetadata(t).plugin_data.plugin_name == "text"]
    for tag in sorted(text_tags):
        events = accumulator.Tensors(tag)
        first = events[0].tensor_proto.string_val[0].decode("utf-8", "replace")
        preview = first.replace("\n", " ")[:80]
        print(f"text {tag}: {len(events)} entries, first at step {events[0].step}: {preview}")

    for tag in filter(None, args.scalars.split(",")):
        if tag not in scalar_tags:
            failures.append(f"scalar tag {tag} is missing")
    for tag in filter(None, args.texts.split(",")):
        if tag not in text_tags:
            failures.append(f"text tag {tag} is missing")
    if not scalar_tags and not text_tags:
        failures.append(f"no scalar or text events found in {args.dir}")

    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if failures:
        return 1
    print(f"OK: {len(scalar_tags)} scalar tags, {len(text_tags)} text tags")
    return 0


if __name__ == "__main__":
    sys.exit(main())
