"""Five topics of a 20 Newsgroups run in the lecture's format (Miao et al., 2016, Table 5:
"Space", "Religion", "Encryption", "Sport", "Policy"), chosen by a rule, not by hand.

The rule: read both poles of every latent direction (after a varimax rotation of the decoder
for a Gaussian latent; ``--no-rotate`` to skip it), score each pole's top 10 words by NPMI
(document co-occurrence in the run's training file), and print the five poles with the highest
NPMI, as columns of their top words. The labels are the directions and their scores; naming
the themes is left to the reader.

    python examples/topic_table.py runs/table/nvdm-50 [--topics 5] [--words 10] [--no-rotate]
"""

from __future__ import annotations

import argparse

from ppl_vae.runs.topics import topic_report


def main(args) -> None:
    report = topic_report(args.run_dir, words=args.words, poles=not args.no_poles,
                          rotate=not args.no_rotate, with_coherence=True)  # fmt: skip
    f = report.figures
    best = sorted(f["npmi"], key=f["npmi"].get, reverse=True)[: args.topics]
    width = max(12, *(len(w) + 2 for lab in best for w in f["topics"][lab]))
    print("".join(f"{lab:<{width}}" for lab in best))
    print("".join(f"{'NPMI ' + format(f['npmi'][lab], '.3f'):<{width}}" for lab in best))
    print("-" * width * len(best))
    for i in range(args.words):
        print("".join(f"{f['topics'][lab][i]:<{width}}" for lab in best))
    rotation = "after varimax" if f["rotation"] else "unrotated"
    print(f"\nchosen: the {args.topics} highest-NPMI poles of {len(f['npmi'])} ({rotation}); "
          f"mean NPMI of all {f['mean_npmi']:.3f}, diversity {f['diversity']:.2f}")  # fmt: skip
    print(f"settings: {report.lines[-1].removeprefix('settings: ')}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", help="a document run (nvdm, for poles and rotation)")
    parser.add_argument("--topics", type=int, default=5, help="columns to print (default 5)")
    parser.add_argument("--words", type=int, default=10, help="words per column (default 10)")
    parser.add_argument("--no-rotate", action="store_true", help="read the raw directions")
    parser.add_argument("--no-poles", action="store_true", help="the + pole only")
    main(parser.parse_args())
