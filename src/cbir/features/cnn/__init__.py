"""Visual embeddings from a network trained on the classification task (PyTorch): the compact CIFAR network or a
fine-tuned pretrained backbone, read from the model folder `cbir train` writes (`cbir.training`, which this package
never imports).
"""
