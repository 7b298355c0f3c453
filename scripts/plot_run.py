#!/usr/bin/env python3
"""Draw the PNG plots of a training run: accuracy, reward, response length and reflection rate
against step, and reflection rate against accuracy.

Usage: python3 scripts/plot_run.py RUN_DIR

Reads RUN_DIR/analysis/curves.csv, which `aha analyze RUN_DIR` writes (it counts reflection
keywords with the C++ rules, so this script does not repeat them), and the eval records of
RUN_DIR/metrics.jsonl. Writes the PNGs to RUN_DIR/analysis/. Needs matplotlib
(Debian: python3-matplotlib).
"""

import csv
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402


def read_curves(path):
    """Return {column: [float or nan]} from curves.csv, one entry per step row."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    columns = {name: [] for name in rows[0]}
    for row in rows:
        for name in columns:
            cell = row.get(name, "")
            columns[name].append(float(cell) if cell not in ("", None) else math.nan)
    return columns


def read_evals(path):
    """Return [(step, accuracy)] from the eval records of metrics.jsonl; bad lines are skipped."""
    evals = []
    if not os.path.exists(path):
        return evals
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("eval"), dict):
                accuracy = record["eval"].get("accuracy")
                if isinstance(accuracy, (int, float)) and isinstance(record.get("step"), int):
                    evals.append((record["step"], float(accuracy)))
    return evals


def present(steps, values):
    """Keep the (step, value) pairs whose value is a number."""
    pairs = [(s, v) for s, v in zip(steps, values) if not math.isnan(v)]
    return [s for s, _ in pairs], [v for _, v in pairs]


def save(fig, out_dir, name):
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def plot_lines(out_dir, name, title, ylabel, steps, series, extra=None):
    """Draw one figure with a line per (label, values); skip it when no series has data."""
    drawn = False
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in series:
        xs, ys = present(steps, values)
        if xs:
            ax.plot(xs, ys, label=label)
            drawn = True
    if extra:
        drawn = extra(ax) or drawn
    if not drawn:
        plt.close(fig)
        print(f"skipped {name}: no data")
        return
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    save(fig, out_dir, name)


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    run_dir = argv[1]
    out_dir = os.path.join(run_dir, "analysis")
    curves_path = os.path.join(out_dir, "curves.csv")
    if not os.path.exists(curves_path):
        print(f"{curves_path} not found; run `aha analyze {run_dir}` first", file=sys.stderr)
        return 1
    curves = read_curves(curves_path)
    if not curves:
        print(f"{curves_path} has no rows; nothing to plot", file=sys.stderr)
        return 1
    steps = curves["step"]
    evals = read_evals(os.path.join(run_dir, "metrics.jsonl"))

    def eval_points(ax):
        if not evals:
            return False
        ax.plot([s for s, _ in evals], [a for _, a in evals], "o--", label="eval accuracy")
        return True

    plot_lines(out_dir, "accuracy.png", "Accuracy", "fraction correct", steps,
               [("train accuracy", curves.get("accuracy", []))], extra=eval_points)
    plot_lines(out_dir, "reward.png", "Mean reward", "reward", steps,
               [("reward mean", curves.get("reward_mean", []))])
    plot_lines(out_dir, "length.png", "Response length", "tokens", steps,
               [("mean", curves.get("length_mean", [])),
                ("p90", curves.get("length_p90", []))])
    fractions = sorted(c for c in curves if c.startswith("reflection/") and c.endswith("_fraction"))
    plot_lines(out_dir, "reflection.png", "Responses with a reflection keyword",
               "fraction of responses", steps,
               [(c[len("reflection/"):-len("_fraction")], curves[c]) for c in fractions])

    # Reflection vs accuracy: one point per step, coloured by step, to show whether the steps
    # that reflect more are also the ones that solve more.
    any_rate = curves.get("reflection/any_fraction", [])
    accuracy = curves.get("accuracy", [])
    points = [(s, r, a) for s, r, a in zip(steps, any_rate, accuracy)
              if not math.isnan(r) and not math.isnan(a)]
    if points:
        fig, ax = plt.subplots(figsize=(6, 5))
        scatter = ax.scatter([p[1] for p in points], [p[2] for p in points],
                             c=[p[0] for p in points], cmap="viridis")
        fig.colorbar(scatter, ax=ax, label="step")
        ax.set_title("Reflection vs accuracy (one point per step)")
        ax.set_xlabel("fraction of responses with reflection (any set)")
        ax.set_ylabel("train accuracy")
        ax.grid(alpha=0.3)
        save(fig, out_dir, "reflection_vs_accuracy.png")
    else:
        print("skipped reflection_vs_accuracy.png: no step has both reflection and accuracy")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
