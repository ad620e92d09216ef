"""The serving layer: what every face calls — the CLI, ``gems serve`` (the web page and its API) and batch
export. Faces parse and print; they never reach into ranking themselves.

    open_model(path) -> Model                         a model folder, opened memory-mapped
    recommend(model, options, like=, user=) -> Answer seeds / a listener -> picks (one ranking path)
    search(model, text, limit) -> list[Suggestion]    tracks a person may mean, best first
    playlist_for(model, answer, arc=) -> Playlist     the picks ordered so the sound flows (gems.serve.playlist)
    popularity_curve(model, points=) -> dict          listeners by popularity rank, for the long-tail chart
    audio_file(model, track_id) -> Path | None        the local file of a track the catalogue names
"""

from gems.serve.catalogue import Suggestion, audio_file, popularity_curve, popularity_ranks, search
from gems.serve.playlist import playlist_for
from gems.serve.recommend import Answer, open_model, recommend

__all__ = [
    "Answer",
    "Suggestion",
    "audio_file",
    "open_model",
    "playlist_for",
    "popularity_curve",
    "popularity_ranks",
    "recommend",
    "search",
]
