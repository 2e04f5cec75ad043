"""Flags that keep the command-line tests small."""

SMALL = ["--latent-dim", "8", "--hidden", "32", "--no-progress", "--eval-samples", "5"]

TINY_SENTENCES = [
    "--embedding-dim",
    "16",
    "--hidden-dim",
    "16",
    "--no-progress",
    "--eval-samples",
    "0",
    "--epochs",
    "1",
]
