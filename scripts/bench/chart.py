"""Draws the scripts benchmark (scripts.json) as a PNG for the README:
times of A (Trickle) and B (baseline) side by side, and script bytes."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results = json.load(open(sys.argv[1]))
out = sys.argv[2]

metrics = [
    ("cold, loopback", "cold_loopback_ms"),
    ("warm, loopback", "warm_loopback_ms"),
    ("cold, replayed", "cold_replayed_ms"),
    ("warm, replayed", "warm_replayed_ms"),
]
fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), gridspec_kw={"width_ratios": [2, 2, 1.2]})
for ax, kind in zip(axes[:2], ["login", "get_user"]):
    xs = range(len(metrics))
    a = [results[kind]["A"][key] for _, key in metrics]
    b = [results[kind]["B"][key] for _, key in metrics]
    ax.bar([x - 0.2 for x in xs], a, width=0.4, label="A: Trickle", color="#3b6ea5")
    ax.bar([x + 0.2 for x in xs], b, width=0.4, label="B: baseline", color="#c9a227")
    ax.set_xticks(list(xs), [label for label, _ in metrics], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("ms per call (median, log scale)")
    ax.set_title(kind)
    ax.legend(fontsize=8)
ax = axes[2]
labels = ["login", "get_user"]
ax.bar([0 - 0.2, 1 - 0.2], [results[k]["A"]["bytes"] / 1024 for k in labels], width=0.4, label="A", color="#3b6ea5")
ax.bar([0 + 0.2, 1 + 0.2], [results[k]["B"]["bytes"] / 1024 for k in labels], width=0.4, label="B", color="#c9a227")
ax.axhline(32, color="#888", linestyle="--", linewidth=1)
ax.text(1.45, 32.5, "32 KB target", fontsize=7, ha="right", color="#555")
ax.set_xticks([0, 1], labels)
ax.set_ylabel("script KB")
ax.set_title("size")
fig.suptitle(f"Generated scripts vs plain-JS baseline (Node {results['node']})", fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=110)
