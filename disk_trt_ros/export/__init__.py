"""Model export: DISK weights, the static pipeline module, the ONNX export and the TensorRT support checker."""
