"""Networks trained on ImageNet, installed as packages with their weights (nothing is downloaded)."""

FEATURES = 1280  # EfficientNet-Lite0's pooled penultimate layer
STAGE_FEATURES = 112 + 192 + 320  # the pooled outputs of its last three stages
