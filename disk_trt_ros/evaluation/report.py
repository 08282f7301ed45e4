# SPDX-FileCopyrightText: 2026 disk_trt_ros contributors
# SPDX-License-Identifier: Apache-2.0
"""The evaluation report: ``report.json`` (every number), ``report.md`` (summary table first) and PNG plots.

``report.md`` is made from the same dictionary that is written to ``report.json``; each row of its summary
table names the JSON key it shows. The blocks every report shares (:func:`base_report`, :func:`model_block`) and the
terminal summary (:func:`summary_lines`) are made here too.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from disk_trt_ros import __version__
from disk_trt_ros.atomic import atomic_output, atomic_write_bytes
from disk_trt_ros.contract import ModelInfo
from disk_trt_ros.evaluation.bag_io import ImageBag
from disk_trt_ros.evaluation.options import EvalOptions
from disk_trt_ros.evaluation.sequence import DrawnPair

# (label, key path in report.json); rows whose value is missing or None are left out.
SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("Frames evaluated", "summary.frames"),
    ("Frames on the topic", "bag.frames_on_topic"),
    ("Frames rejected (could not be read or converted)", "rejected_frames"),
    ("Frames whose model outputs broke the contract", "invalid_output_frames"),
    ("Frames published to the node", "node.published"),
    ("Frames delivered by the node", "node.delivered"),
    ("Frames lost in transport (never reached the node)", "node.lost_in_transport"),
    ("Frames dropped by the node", "node.dropped"),
    ("Frames without keypoints", "node.unanswered"),
    ("End-to-end latency p50 (ms)", "summary.latency_end_to_end_ms.p50"),
    ("End-to-end latency p95 (ms)", "summary.latency_end_to_end_ms.p95"),
    ("End-to-end latency p99 (ms)", "summary.latency_end_to_end_ms.p99"),
    ("Inference latency p50 (ms)", "summary.latency_inference_ms.p50"),
    ("Inference latency p95 (ms)", "summary.latency_inference_ms.p95"),
    ("Inference latency p99 (ms)", "summary.latency_inference_ms.p99"),
    ("Conversion + inference p50 (ms)", "summary.latency_total_ms.p50"),
    ("Throughput (frames/s)", "throughput_fps"),
    ("Keypoints per frame, mean", "summary.keypoints.mean"),
    ("Keypoints per frame, min", "summary.keypoints.min"),
    ("Matches per frame pair, mean", "summary.matches.mean"),
    ("RANSAC inliers per pair, mean", "summary.inliers.mean"),
    ("Inlier ratio, mean", "summary.inlier_ratio.mean"),
    ("Tracks (2+ frames)", "summary.tracks"),
    ("Track length (frames), mean", "summary.track_length.mean"),
    ("Track length (frames), max", "summary.track_length.max"),
    ("Ground-truth pairs", "summary.ground_truth_pairs"),
    ("Repeatability, mean", "summary.repeatability.mean"),
    ("MMA @ 1 px", "summary.mma_1px"),
    ("MMA @ 3 px", "summary.mma_3px"),
    ("MMA @ 5 px", "summary.mma_5px"),
    ("Homography corner error (px), mean", "summary.corner_error_px.mean"),
    ("Homography corner error (px), p50", "summary.corner_error_px.p50"),
    ("Homography accuracy @ 1 px", "summary.homography_accuracy_1px"),
    ("Homography accuracy @ 3 px", "summary.homography_accuracy_3px"),
    ("Homography accuracy @ 5 px", "summary.homography_accuracy_5px"),
    ("Reference agreement: keypoint overlap, mean", "summary.agreement_overlap.mean"),
    ("Reference agreement: keypoint overlap, min", "summary.agreement_overlap.min"),
    ("Reference agreement: descriptor cosine, mean", "summary.agreement_descriptor_cosine_mean.mean"),
    ("Reference agreement: descriptor cosine, min", "summary.agreement_descriptor_cosine_min"),
    ("Reference agreement: largest score difference", "summary.agreement_score_max_abs_diff"),
)
# The matching section (eval --matcher), in the same form.
MATCHING_ROWS: tuple[tuple[str, str], ...] = (
    ("Frame pairs matched", "summary.matching.pairs"),
    ("Matches per pair, mean", "summary.matching.matches.mean"),
    ("Matches per pair, min", "summary.matching.matches.min"),
    ("RANSAC inliers per pair, mean", "summary.matching.inliers.mean"),
    ("Inlier ratio, mean", "summary.matching.inlier_ratio.mean"),
    ("Ground-truth pairs", "summary.matching.ground_truth_pairs"),
    ("Precision @ 1 px", "summary.matching.precision_1px"),
    ("Precision @ 3 px", "summary.matching.precision_3px"),
    ("Precision @ 5 px", "summary.matching.precision_5px"),
    ("Matching latency p50 (ms)", "summary.latency_matching_ms.p50"),
    ("Matching latency p99 (ms)", "summary.latency_matching_ms.p99"),
)


def lookup(report: dict[str, Any], path: str) -> Any:
    """The value at a dotted key path, or None where any part is missing."""
    value: Any = report
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def format_value(value: int | float) -> str:
    """How report.md shows a number: integers as they are, other numbers with three decimals."""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.3f}"


def summary_table(
    report: dict[str, Any], rows_wanted: Sequence[tuple[str, str]] = SUMMARY_ROWS
) -> list[tuple[str, str, str]]:
    """(label, shown value, JSON key) of each row of ``rows_wanted`` that has a value."""
    rows = []
    for label, path in rows_wanted:
        value = lookup(report, path)
        if value is not None:
            rows.append((label, format_value(value), path))
    return rows


def weights_statement(model: dict[str, Any]) -> str:
    """The line under the title that says which weights made these keypoints."""
    if "weights" not in model:
        return "Weights: not stated (the model was not given to eval; pass --model to state it)."
    if model.get("random_weights"):
        return (
            f"**Random weights ({model['weights']}): these keypoints and descriptors are meaningless. The quality "
            "metrics below only show that the pipeline runs; evaluate trained weights to judge the extractor.**"
        )
    return f"Weights: {model['weights']} (sha256 {model['weights_sha256']})."


def markdown(report: dict[str, Any], plots: Sequence[str]) -> str:
    """report.md: the weights, the summary table, what was evaluated and how, the notes, then the plots."""
    bag, model, settings = report["bag"], report["model"], report["settings"]
    lines = [f"# DISK evaluation: {bag['path']} ({bag['topic']})", "", weights_statement(model), ""]
    lines += table_lines(summary_table(report))
    lines += ["", "## What was evaluated", ""]
    lines.append(f"- Mode: {report['mode']}" + (f", {report['node']['rate']}" if "node" in report else ""))
    lines.append(f"- Model: {model.get('path')}: {model['description']}")
    if "weights" in model:
        lines.append(f"- Weights: {model['weights']} (sha256 {model['weights_sha256']})")
    if report.get("reference"):
        lines.append(f"- Reference: {report['reference']['path']}: {report['reference']['description']}")
    lines.append(
        f"- Matching: mutual nearest neighbours with ratio test {settings['ratio']}; RANSAC {settings['geometry']} "
        f"at {settings['ransac_threshold_px']} px; repeatability within {settings['repeatability_threshold_px']} px"
    )
    has_truth = bool(report["summary"].get("ground_truth_pairs"))
    lines.append(f"- Ground truth: {bag['ground_truth_topic'] if has_truth else 'none in the bag'}")
    matching = report["summary"].get("matching")
    if matching:
        lines += ["", "## Matching", "", (
            f"Matcher: {matching['matcher']}, on each pair of consecutive frames (as the matcher node pairs them). "
            "Precision: the fraction of its matches within 1, 3 and 5 px of where the ground-truth homography puts "
            "them; inliers: the matches RANSAC keeps."
        ), ""]
        lines += table_lines(summary_table(report, MATCHING_ROWS))
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{Path(plot).stem}]({plot})" for plot in plots]
    return "\n".join(lines) + "\n"


def table_lines(rows: Sequence[tuple[str, str, str]]) -> list[str]:
    """A markdown table of (label, value, JSON key) rows."""
    return ["| Metric | Value | report.json key |", "| --- | --- | --- |"] + [
        f"| {label} | {value} | `{path}` |" for label, value, path in rows
    ]


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars turned into Python numbers, non-finite floats into None, paths and enumerations
    into strings."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def model_block(info: ModelInfo | None, path: str | None, description: str | None) -> dict[str, Any]:
    """What report.json says about a model; ``random_weights`` tells the report to warn about meaningless keypoints."""
    if info is None:
        return {"path": path, "description": description or "not given (pass --model to state it in the report)"}
    return {
        "path": path,
        "description": description or f"{info.width}x{info.height} {info.input_format.value}, K={info.max_keypoints}",
        "weights": info.weights,
        "weights_sha256": info.weights_sha256,
        "random_weights": info.random_weights,
        "height": info.height,
        "width": info.width,
        "max_keypoints": info.max_keypoints,
        "input_format": info.input_format.value,
        "exported_by": info.package_version,
    }


def base_report(options: EvalOptions, bag: ImageBag, mode: str) -> dict[str, Any]:
    """What every report.json starts with: the tool and its options, the mode, the bag, the metrics' settings."""
    settings = options.settings
    return {
        "tool": {"package_version": __version__, "arguments": json_ready(dataclasses.asdict(options))},
        "mode": mode,
        "bag": {
            "path": str(options.bag),
            "topic": bag.topic,
            "frames_on_topic": bag.frame_count,
            "ground_truth_topic": bag.ground_truth_topic,
        },
        "settings": {
            "geometry": settings.geometry.value,
            "ratio": settings.ratio,
            "ransac_threshold_px": settings.ransac_threshold_px,
            "repeatability_threshold_px": settings.repeatability_threshold_px,
            "agreement_tolerance_px": settings.agreement_tolerance_px,
        },
    }


def summary_lines(report: dict[str, Any], out: Path) -> str:
    """A few lines for the terminal: what ran, how fast, how well."""
    summary = report["summary"]
    lines = [f"evaluated {summary['frames']} frames of {report['bag']['topic']} ({report['mode']})"]
    if "node" in report:
        lines.append(f"  {frames_to_the_node(report['node'])}")
    for key in ("latency_inference_ms", "latency_end_to_end_ms"):
        if key in summary and summary[key]["count"]:
            latency = summary[key]
            lines.append(
                f"  {key[len('latency_'):-len('_ms')].replace('_', '-')} latency ms: p50 {latency['p50']:.1f}, "
                f"p95 {latency['p95']:.1f}, p99 {latency['p99']:.1f}"
            )
    if summary["keypoints"]["count"]:
        lines.append(f"  keypoints per frame: mean {summary['keypoints']['mean']:.0f}")
    if summary["inliers"]["count"]:
        lines.append(
            f"  matches {summary['matches']['mean']:.0f}, inliers {summary['inliers']['mean']:.0f} per pair (mean)"
        )
    matching = summary.get("matching")
    if matching and matching["matches"]["count"]:
        precision = matching["precision_3px"]
        lines.append(
            f"  matcher: {matching['matches']['mean']:.0f} matches per pair (mean)"
            + ("" if precision is None else f", precision @ 3 px {precision:.3f}")
        )
    if report.get("model", {}).get("random_weights"):
        lines.append("  the model has random weights: its keypoints are meaningless for quality")
    return "\n".join(lines)


def frames_to_the_node(node: dict[str, Any]) -> str:
    """One line on where the frames of ``eval --node`` went (the report's ``node`` block)."""
    line = f"published {node['published']} frames to the node ({node['rate']}): {node['delivered']} delivered"
    if node["lost_in_transport"] is None:
        return f"{line}, {node['unanswered']} without keypoints (lost in transport or dropped: unknown, no diagnostics)"
    line += (f", {node['lost_in_transport']} lost in transport, {node['dropped']} dropped by the node while inference "
             "was busy")
    rejected_or_failed = node["rejected"] + node["inference_errors"] + node["invalid_output"]
    return line + (f", {rejected_or_failed} rejected or failed" if rejected_or_failed else "")


def plot_caption(report: dict[str, Any]) -> str:
    """The heading of every plot: the model, its size and K, what ran it, and a warning when its weights are random."""
    model = report["model"]
    name = Path(model["path"]).name if model.get("path") else "model not given"
    ran_by = model["description"]
    if report["mode"] == "node":
        ran_by += ", run by disk_node (its backend is in its /diagnostics)"
    caption = f"{name}: {ran_by}"
    if model.get("random_weights"):
        caption += f"\nRANDOM WEIGHTS ({model['weights']}): keypoints, matches and inliers are meaningless"
    return caption


def write_report(out: Path, report: dict[str, Any], drawn_pairs: Sequence[DrawnPair]) -> list[Path]:
    """Write the plots, report.json and report.md into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    records = report["frames"]
    caption = plot_caption(report)
    plots = [plot_latency(out / "latency.png", records, caption),
             plot_counts(out / "keypoints_inliers.png", records, caption)]
    plots += [plot_pair(out / f"matches_{pair.index_a:05d}_{pair.index_b:05d}.png", pair, caption)
              for pair in drawn_pairs]
    plots += [
        plot_matcher_pair(out / f"matcher_{pair.index_a:05d}_{pair.index_b:05d}.png", pair, caption)
        for pair in drawn_pairs if pair.matcher is not None
    ]
    plot_names = [plot.name for plot in plots if plot is not None]
    report = json_ready({**report, "plots": plot_names})
    atomic_write_bytes(out / "report.json", (json.dumps(report, indent=2) + "\n").encode())
    atomic_write_bytes(out / "report.md", markdown(report, plot_names).encode())
    return [out / "report.json", out / "report.md"] + [out / name for name in plot_names]


def _save(figure: Figure, path: Path, caption: str) -> Path:
    """Head ``figure`` with ``caption`` (:func:`plot_caption`, red for random weights); write it, atomically."""
    figure.suptitle(caption, fontsize=9, color="firebrick" if "RANDOM WEIGHTS" in caption else "black")
    with atomic_output(path) as temporary:
        figure.savefig(temporary, format="png", dpi=100)
    return path


def plot_latency(path: Path, records: Sequence[dict[str, Any]], caption: str) -> Path | None:
    """Latency of each frame over the sequence, and its histogram, for every timing the records hold."""
    keys = sorted({key for record in records for key in record if key.endswith("_ms")})
    if not keys:
        return None
    figure = Figure(figsize=(11, 4), layout="constrained")
    over_time, histogram = figure.subplots(1, 2)
    for key in keys:
        frames = [record["index"] for record in records if record.get(key) is not None]
        values = [record[key] for record in records if record.get(key) is not None]
        label = key[: -len("_ms")].replace("_", " ")
        over_time.plot(frames, values, marker=".", linewidth=1, label=label)
        histogram.hist(values, bins=min(30, max(5, len(values) // 3)), alpha=0.6, label=label)
    over_time.set(xlabel="frame", ylabel="latency (ms)", title="Latency per frame")
    histogram.set(xlabel="latency (ms)", ylabel="frames", title="Latency histogram")
    over_time.legend()
    histogram.legend()
    return _save(figure, path, caption)


def plot_counts(path: Path, records: Sequence[dict[str, Any]], caption: str) -> Path | None:
    """Keypoints per frame, and matches and RANSAC inliers with the previous frame."""
    if not records:
        return None
    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots()
    for key, label in (("keypoints", "keypoints"), ("matches", "matches with previous"), ("inliers", "RANSAC inliers")):
        points = [(record["index"], record[key]) for record in records if record.get(key) is not None]
        if points:
            axes.plot(*zip(*points), marker=".", linewidth=1, label=label)
    axes.set(xlabel="frame", ylabel="count", title="Keypoints and inliers per frame")
    axes.legend()
    return _save(figure, path, caption)


def plot_pair(path: Path, pair: DrawnPair, caption: str) -> Path:
    """Two frames side by side with their keypoints (dots) and inlier matches (lines)."""
    title = (
        f"frames {pair.index_a} and {pair.index_b}: {len(pair.keypoints_a)} / {len(pair.keypoints_b)} keypoints, "
        f"{len(pair.inlier_matches)} inlier matches"
    )
    return draw_matches(path, pair, pair.inlier_matches, ["lime"] * len(pair.inlier_matches), title, caption)


def plot_matcher_pair(path: Path, pair: DrawnPair, caption: str) -> Path:
    """Two frames with the matcher's matches: green where the ground truth says correct (within 3 px), red where
    not; without ground truth, green for RANSAC inliers and orange for the rest."""
    matched = pair.matcher
    assert matched is not None, "plot_matcher_pair needs a pair the matcher ran on"
    good = matched.correct if matched.correct is not None else matched.inliers
    colors = ["lime" if flag else ("red" if matched.correct is not None else "orange") for flag in good]
    verdict = "correct (ground truth, 3 px)" if matched.correct is not None else "RANSAC inliers"
    title = (
        f"frames {pair.index_a} and {pair.index_b}: {len(matched.matches)} matcher matches, {int(good.sum())} "
        f"{verdict}"
    )
    return draw_matches(path, pair, matched.matches, colors, title, caption)


def draw_matches(
    path: Path, pair: DrawnPair, matches: np.ndarray, colors: Sequence[str], title: str, caption: str
) -> Path:
    """Two frames side by side with their keypoints (dots) and ``matches`` (int ``[M, 2]``) as lines of
    ``colors``, headed by ``caption``."""
    height = max(pair.image_a.shape[0], pair.image_b.shape[0])
    canvas = np.zeros((height, pair.image_a.shape[1] + pair.image_b.shape[1], 3), dtype=np.uint8)
    canvas[: pair.image_a.shape[0], : pair.image_a.shape[1]] = pair.image_a
    offset = pair.image_a.shape[1]
    canvas[: pair.image_b.shape[0], offset:] = pair.image_b
    figure = Figure(figsize=(canvas.shape[1] / 100 + 0.4, canvas.shape[0] / 100 + 0.6), layout="constrained")
    axes = figure.subplots()
    axes.imshow(canvas)
    axes.scatter(pair.keypoints_a[:, 0], pair.keypoints_a[:, 1], s=2, c="yellow", linewidths=0)
    axes.scatter(pair.keypoints_b[:, 0] + offset, pair.keypoints_b[:, 1], s=2, c="yellow", linewidths=0)
    a = pair.keypoints_a[matches[:, 0]]
    b = pair.keypoints_b[matches[:, 1]]
    segments = np.stack([a, b + np.array([offset, 0], dtype=b.dtype)], axis=1)
    axes.add_collection(LineCollection(segments, colors=list(colors), linewidths=0.5))
    axes.set_title(title)
    axes.set_axis_off()
    return _save(figure, path, caption)
