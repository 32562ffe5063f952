"""Figures shared by the chapters (matplotlib). Pure presentation: nothing here changes a number."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from cnm_minimal.data.annotations import Query


def annotation_statistics(queries: Sequence[Query]) -> dict[str, np.ndarray]:
    """Per-query normalised start, end, length, centre; per-video duration and number of queries."""
    moments = np.array([q.moment for q in queries])
    durations = {q.vid: q.duration for q in queries}
    per_video = Counter(q.vid for q in queries)
    return {
        "start": moments[:, 0],
        "end": moments[:, 1],
        "length": moments[:, 1] - moments[:, 0],
        "centre": moments.mean(axis=1),
        "duration": np.array(list(durations.values())),
        "queries_per_video": np.array(list(per_video.values())),
    }


def plot_annotation_statistics(axes, queries: Sequence[Query], label: str, reference: dict | None = None):
    """Four panels: start and end positions, moment length, video duration, queries per video.

    ``reference`` (quantiles ``p0, p5, p25, p50, p75, p95, p100`` of another set) is drawn as markers.
    """
    stats = annotation_statistics(queries)
    bins = np.linspace(0, 1, 21)
    axes[0].hist(stats["start"], bins, alpha=0.6, label="start", density=True)
    axes[0].hist(stats["end"], bins, alpha=0.6, label="end", density=True)
    axes[0].set_title("where moments start and end")
    axes[0].set_xlabel("fraction of the video")
    axes[1].hist(stats["length"], bins, color="tab:purple", alpha=0.7, density=True)
    axes[1].set_title("moment length")
    axes[1].set_xlabel("fraction of the video")
    axes[2].hist(stats["duration"], np.linspace(0, 90, 31), color="tab:gray", alpha=0.8, density=True)
    axes[2].set_title("video duration")
    axes[2].set_xlabel("seconds")
    counts = Counter(stats["queries_per_video"].tolist())
    xs = np.arange(1, max(counts) + 1)
    axes[3].bar(xs, [counts.get(x, 0) / sum(counts.values()) for x in xs], color="tab:olive")
    axes[3].set_title("queries per video")
    axes[3].set_xlabel("queries")
    if reference:
        for ax, key in ((axes[1], "moment_fraction"), (axes[2], "duration_s")):
            if key in reference:
                q = reference[key]
                ax.plot(
                    q[1:-1], np.full(len(q) - 2, ax.get_ylim()[1] * 0.92), "kv", label="real p5/25/50/75/95"
                )
                ax.legend(fontsize=7, loc="upper right")
    axes[0].legend(fontsize=8)
    for ax in axes:
        ax.set_yticks([])
    axes[0].figure.suptitle(label, fontsize=10)


def plot_video(ax, features: np.ndarray, duration: float, queries: Sequence[Query], title: str = ""):
    """A feature heatmap (time x dimension) with each query's moment drawn as a bar above it."""
    rows, dim = features.shape
    ax.imshow(
        features.T,
        aspect="auto",
        cmap="RdBu_r",
        extent=(0, duration, 0, dim),
        vmin=-3,
        vmax=3,
        interpolation="nearest",
    )
    for k, q in enumerate(queries):
        y = dim * (1.04 + 0.09 * k)
        ax.plot([q.start, q.end], [y, y], lw=5, solid_capstyle="butt", color=f"C{k % 10}")
        ax.text(q.end + 0.3, y, q.sentence, fontsize=8, va="center", clip_on=False)
    ax.set_ylim(0, dim * (1.1 + 0.09 * len(queries)))
    ax.set_yticks([0, dim])
    ax.set_ylabel("feature dim.")
    ax.set_xlabel("seconds")
    ax.set_title(title, fontsize=10, loc="left")


def plot_training_curves(axes, history: Sequence[dict], baselines: dict[str, float] | None = None):
    """Three panels from a run's per-epoch history: losses, validation/test mIoU, mean predicted width."""
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["rec_loss"] for h in history], label="L_rec")
    axes[0].plot(epochs, [h["ivc_loss"] for h in history], label="L_IVC")
    axes[0].set_title("training losses", fontsize=9)
    axes[0].legend(fontsize=8)
    axes[0].set_yscale("log")
    for split, style in (("val", "-"), ("test", "--")):
        axes[1].plot(epochs, [100 * h[split]["mIoU"] for h in history], style, label=f"{split} mIoU")
    for k, (name, value) in enumerate((baselines or {}).items()):
        axes[1].axhline(100 * value, color=f"C{k + 2}", lw=0.8, ls=":", label=name)
    axes[1].set_title("mIoU by epoch", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(epochs, [h["mean_width"] for h in history], color="tab:purple")
    axes[2].set_title("mean predicted width (test)", fontsize=9)
    for ax in axes:
        ax.set_xlabel("epoch")


def plot_prediction(ax, record: dict, alpha: float = 5.5, title: str = ""):
    """One test query: its ground truth, the predicted segment and the predicted Gaussian."""
    grid = np.linspace(0, 1, 200)
    spread = max(record["width"], 0.1)
    ax.plot(grid, np.exp(-alpha * (grid - record["centre"]) ** 2 / spread**2), color="tab:blue", lw=1)
    ax.axvspan(*record["moment"], color="tab:green", alpha=0.25, label="ground truth")
    ax.axvspan(*record["predicted"], ymax=0.15, color="tab:blue", alpha=0.6, label="prediction")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_yticks([])
    ax.set_title(title or f"{record['sentence']}  (IoU {record['iou']:.2f})", fontsize=8, loc="left")


def plot_accuracy_by(ax, records: Sequence[dict], key: str, bins: np.ndarray, others: dict | None = None):
    """mIoU by ground-truth moment ``key`` ("length" or "centre"), for the model and optional others."""
    moments = np.array([r["moment"] for r in records])
    value = moments[:, 1] - moments[:, 0] if key == "length" else moments.mean(axis=1)
    which = np.clip(np.digitize(value, bins) - 1, 0, len(bins) - 2)
    centres = (bins[:-1] + bins[1:]) / 2
    series = {"model": np.array([r["iou"] for r in records])} | (others or {})
    for k, (name, ious) in enumerate(series.items()):
        means = [ious[which == b].mean() if (which == b).any() else np.nan for b in range(len(bins) - 1)]
        ax.plot(centres, 100 * np.array(means), "o-", color=f"C{k}", label=name)
    counts = np.bincount(which, minlength=len(bins) - 1)
    ax.set_xlabel(f"ground-truth moment {key} (fraction of the video)")
    ax.set_ylabel("mIoU")
    ax.set_title(f"by moment {key} (queries per bin: {', '.join(map(str, counts))})", fontsize=8)
    ax.legend(fontsize=7)


def plot_moment_distributions(axes, summaries: dict[str, dict]):
    """Three panels (start, end, length) of :func:`cnm_minimal.bias.distribution_summary` results, one line
    per named set, as the fraction of its queries in each bin."""
    for ax, part in zip(axes, ("start", "end", "length")):
        for name, summary in summaries.items():
            counts = np.asarray(summary[part]["histogram"], dtype=float)
            edges = np.linspace(0, 1, summary["bins"] + 1)
            ax.step(edges[:-1], counts / counts.sum(), where="post", label=name)
        ax.set_xlabel(f"normalised {part}")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("fraction of queries")
    axes[-1].legend(fontsize=8)


def plot_metric_groups(ax, groups: dict[str, dict[str, tuple[float, float]]], ylabel: str = "mIoU"):
    """Grouped bars with error bars: ``groups[group][series] = (mean, std)``, in percent."""
    names = list(groups)
    series = list(next(iter(groups.values())))
    width = 0.8 / len(series)
    for k, s in enumerate(series):
        means = [100 * groups[g][s][0] for g in names]
        stds = [100 * groups[g][s][1] for g in names]
        ax.bar(
            np.arange(len(names)) + (k - (len(series) - 1) / 2) * width,
            means,
            width,
            yerr=stds,
            capsize=3,
            label=s,
        )
    ax.set_xticks(np.arange(len(names)), names)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)


def plot_centre_histogram(ax, histogram: dict):
    """Predicted against true moment centres, as the counts of a committed 2-D histogram (chapter 11)."""
    counts = np.array(histogram["counts"], dtype=float)
    image = ax.imshow(counts.T, origin="lower", extent=(0, 1, 0, 1), cmap="Blues", aspect="auto")
    ax.plot([0, 1], [0, 1], color="k", lw=0.8, ls="--")
    ax.set_xlabel("true centre (fraction of the video)")
    ax.set_ylabel("predicted centre")
    ax.set_title(
        f"{histogram['queries']} test queries, r = {histogram['pearson_r']:.2f}", fontsize=10, loc="left"
    )
    ax.figure.colorbar(image, ax=ax, label="queries")


def plot_landscapes(axes, records: Sequence[dict], epochs=("first_epoch", "last_epoch")):
    """Chapter 10's landscapes (Eq. 10.4) from diagnosis records (the seeds of one run): one column per band
    of true centre (shaded), the positive loss minus its mean over candidates on top, ``L_IVC`` below; the
    mean over seeds, and their range shaded; the first epoch dashed, the last solid."""
    centres = np.asarray(records[0][epochs[-1]]["scorer"]["centres"])
    rows = (("positive_centred", "positive loss - its mean (nats)"), ("ivc", "L_IVC (nats)"))
    for epoch, style in zip(epochs, ("--", "-")):
        bands = [r[epoch]["landscape"]["bands"] for r in records]
        for column, band in enumerate(bands[0]):
            for row, (key, label) in enumerate(rows):
                ax = axes[row, column]
                curves = np.array([b[column][key] for b in bands])
                line = ax.plot(centres, curves.mean(axis=0), style, label=epoch.replace("_", " "))[0]
                ax.fill_between(
                    centres, curves.min(axis=0), curves.max(axis=0), alpha=0.15, color=line.get_color()
                )
                if epoch == epochs[-1]:
                    ax.axvspan(*band["band"], color="0.9", zorder=0)
                    ax.set_ylabel(label if column == 0 else "", fontsize=8)
                    low, high = band["band"]
                    title = f"true centre in [{low:.2f}, {high:.2f}] ({band['queries']} queries)"
                    ax.set_title(title if row == 0 else "", fontsize=8, loc="left")
                    ax.set_xlabel("Gaussian centre c" if row == 1 else "", fontsize=8)
    axes[0, 0].legend(fontsize=7)
