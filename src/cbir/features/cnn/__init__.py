"""Visual embeddings from a compact CNN trained on the classification task (PyTorch).

The library side (model, inference extractor) never imports the training code.
"""
