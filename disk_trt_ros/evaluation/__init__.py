"""Evaluation on rosbag replays.

Modules: ``bag_io`` (bags in and out, the ground-truth convention), ``sample_bag`` (``make-sample-bag``),
``metrics`` (matching, RANSAC, tracks, HPatches measures, backend agreement), ``sequence`` (metrics over a frame
sequence), ``cli`` (the ``eval`` command, offline), ``node_replay`` (``eval --node``), ``report`` (report.json,
report.md, plots) and ``demo`` (``make demo``).
"""
