"""Training networks on a labelled collection (`cbir train`, `cbir tune`), apart from inference: the library's
search path never imports this package. `config` holds the options and their defaults, `networks` the network a run
starts from, `recipe` the optimiser, step and augmentation, `budget` the time-budget planner, `loop` the epochs,
checkpoints and model card, `validation` the held-out accuracy, `teachers` distillation, `tune` the Ray Tune search.
"""
