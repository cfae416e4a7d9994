"""Model files written the way torchvision, timm and the CIFAR and U-Net repositories
write them (their idioms, small widths), each with `build()` and `INPUT`: the corpus
that `linkc import` is tested on (tests/importer/test_corpus.py) and measured on
(benchmarks/import_zoo.py)."""
