"""Audio: decode an excerpt, compute its features, embed them.

- :mod:`gems.audio.decode` — the middle excerpt of a file as mono float32 at the analysis rate; every
  failure is an :class:`~gems.audio.decode.AudioFileError` with a code and a reason.
- :mod:`gems.audio.features` — pure feature functions on arrays (one STFT per excerpt).
- :mod:`gems.audio.extractor` — many files: per-content cache, worker processes, progress.
- :mod:`gems.audio.embed` — feature vectors to unit-length embeddings.

Nothing is imported here, so ``import gems.audio`` stays cheap; import the module you need.
"""
