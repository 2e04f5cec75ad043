"""Write the unseen corpus of long documents (50 to 200 tokens, two latent topics each) as a
user's own text, for the sentence VAE's collapse check (issue 18):

    python examples/long_documents.py runs/long-corpus
    ppl-vae train sentence-vae --data runs/long-corpus --unk-token _UNK --epochs 2 --out RUN
    ppl-vae train rnnlm --data runs/long-corpus --unk-token _UNK --epochs 2 --out RUN_LM

See :mod:`ppl_vae.data.synthetic_long` for the generator.
"""

from __future__ import annotations

import argparse

from ppl_vae.data.synthetic_long import LongDocumentSpec, write_long_documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="directory to write train.txt, valid.txt and test.txt into")
    parser.add_argument("--train", type=int, default=LongDocumentSpec.train)
    parser.add_argument("--seed", type=int, default=LongDocumentSpec.seed)
    args = parser.parse_args()
    path = write_long_documents(args.out, LongDocumentSpec(train=args.train, seed=args.seed))
    print(f"wrote {path}/train.txt, valid.txt and test.txt")


if __name__ == "__main__":
    main()
