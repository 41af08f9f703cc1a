"""lmcourse: the small helper package of the course *Language Models from Counts to Transformers*.

Every notebook starts with::

    import lmcourse
    device = lmcourse.setup()

Modules (one per idea; heavy libraries are imported only where they are used):

- ``lmcourse.env``      seeds, device choice, thread pinning, the ``SCALE`` setting
- ``lmcourse.data``     the shipped corpora: checksummed loading and the course-wide splits
- ``lmcourse.tokenize`` character, word and byte-pair tokenisers written from scratch
- ``lmcourse.ngram``    count-based n-gram models, from MLE and add-k to backoff and (modified) Kneser-Ney
- ``lmcourse.batches``  ids to training examples: shifted windows, padding with a loss mask, random batches
- ``lmcourse.models``   neural LMs: RNN and LSTM from scratch (PyTorch's layout); bigram, MLP, recurrent LMs; generate
- ``lmcourse.sampling`` decoding: temperature, top-k, top-p (nucleus), a repetition penalty, greedy
- ``lmcourse.attention`` scaled dot-product and multi-head attention from scratch (PyTorch's layout)
- ``lmcourse.transformer`` a decoder-only Transformer: config, pre-norm blocks, key-value cache, the course's recipes
- ``lmcourse.train``    one training loop for every chapter: evaluation, clipping, schedules, early stopping, mixed
                        precision, resumable checkpoints; AdamW from scratch; ``python -m lmcourse.train``
- ``lmcourse.evaluate`` units (bits, perplexity), per-target scores, calibration, verbatim copying
- ``lmcourse.scores``   accuracy, confusion matrix, macro-F1; chrF from scratch, sacrebleu's BLEU and chrF; ROUGE-N, -L
- ``lmcourse.retrieval`` word tokens, BM25 and TF-IDF search, recall@k, sentence splitting, extractive summaries
- ``lmcourse.classify`` text classification three ways: an n-gram per label, a bag of n-grams, a fine-tuned Transformer
- ``lmcourse.seq2seq``  an encoder-decoder Transformer with cross-attention, greedy translation, the dates task, a
                        word-for-word baseline
- ``lmcourse.checkpoints`` models and training states as safetensors files (never a pickle); the reference models
- ``lmcourse.scaling`` FLOPs by formula and by count, matmul peak and MFU, power laws, Chinchilla, all-reduce, cost
- ``lmcourse.probes``   bias probes (co-occurrence log-odds, minimal pairs) and neuron and head probes (chapter 12)
- ``lmcourse.safety``   canaries and exposure, model cards from recorded facts, why a pickle checkpoint runs code
- ``lmcourse.plot``     the few plots every chapter draws (loss curves, heatmaps)
- ``lmcourse.sentiment`` a lexicon scorer (a simplified VADER on VADER's human-rated lexicon), and why it fails
- ``lmcourse.checks``   exercise checkers that say what was expected, what was got, and why
- ``lmcourse.distributed`` data parallel training with torchrun and DDP (gloo on CPUs, NCCL on GPUs); ``launch(2)``
- ``lmcourse.ecosystem`` the course's models in torch.nn's own layers and in Hugging Face's GPT-2; HF's BPE
- ``lmcourse.course``   the chapter map (drawn in chapter 00, listed in the README)
- ``lmcourse.workspace`` ``python -m lmcourse.workspace``: your own copy of the chapters, which the tests ignore
"""

from lmcourse.env import SCALES, device_name, progress, scale, scaled, setup

__version__ = "0.1.0"

__all__ = ["SCALES", "__version__", "device_name", "progress", "scale", "scaled", "setup"]
