"""Inference backends behind one interface (:class:`~disk_trt_ros.inference.base.Backend`) and the engine cache."""
