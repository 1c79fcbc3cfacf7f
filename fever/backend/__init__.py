"""Other runtimes for fever models (sentence-transformers' ``backend/``): ONNX export, int8
quantisation and an ONNX Runtime embedder that ``Extractor(backend="onnx")`` uses."""
