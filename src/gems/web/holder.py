"""The model a server answers from, renewed when ``gems build`` swaps the model folder in place.

A model is opened lazily by design (arrays memory-mapped, files read on first use), and its files are read by
path: once a rebuild has swapped the folder, whatever the old model had not yet read would come from the new
folder. So a server's model is *prepared* before it answers anything — every file a request may read is read
(or mapped: a mapping outlives the old folder's deletion) — and a request never opens a file of the folder.

Each request takes the holder's current model once (:meth:`ModelHolder.model`) and uses that reference to the
end, so it answers from one version. Taking it costs one ``stat`` of ``manifest.json``: when the folder's
identity (device, inode, modification time of the manifest) is not the current model's, one background thread
opens and prepares the new folder, checks that the identity held still all the while (else it starts over), and
then swaps the reference. A request that noticed the change waits for that, up to RELOAD_WAIT_S, then answers
from whichever model is current; a folder that cannot be opened keeps the old model serving (logged once).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gems import serve
from gems.artifacts import layout
from gems.errors import GemsError, ModelError

log = logging.getLogger(__name__)

RELOAD_WAIT_S = 10.0  # how long a request waits for a rebuilt model before answering from the old one
OPEN_TRIES = 5  # rebuilds in a row that may interrupt one opening before it gives up


def folder_identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, modification time in ns) of the folder's manifest, or None while there is none."""
    try:
        info = os.stat(path / layout.MANIFEST)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


def prepare(model) -> None:
    """Read everything a request may read: the ranking inputs and what ranking builds from them, the vector
    spaces and their indexes, the catalogue's columns and title matcher, the listeners' ids, the history linker
    and the popularity order — then one query of each kind (seeds and its playlist, a listener) for the rest.
    A query the model cannot answer (GemsError) is left to the requests that ask it."""
    from gems.serve.history import linker

    _ = model.inputs  # built whole: what ranking derives from it too
    model.lookup.prepare()
    for name, space in model.spaces.items():
        if model.folder.has(layout.space_index(name)):  # small spaces are scanned and have none
            _ = space.index
    _ = model.rank_defaults, model.paths, model.durations, model.audio_features, model.audio_standardized
    _ = model.sorted_user_ids
    serve.popularity_curve(model)
    if model.has_listens:
        linker(model)
    if model.n_tracks == 0:
        return
    queries = [{"like": [model.track_ids[int(np.argmax(model.listeners))]]}]
    if len(model.sorted_user_ids):
        queries.append({"user": model.sorted_user_ids[0]})
    for query in queries:
        try:
            serve.playlist_for(model, serve.recommend(model, model.rank_defaults, **query))
        except GemsError:
            pass


@dataclass(frozen=True)
class Loaded:
    """A prepared model and the folder identity it was read at."""

    model: object
    identity: tuple[int, int, int]


class ModelHolder:
    """The current prepared model of the folder at ``path``; ModelError at once when it cannot be opened."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._current = self._load()
        self._refused: tuple[int, int, int] | None = None  # a rebuilt folder that would not open
        self._reload: threading.Thread | None = None
        self._guard = threading.Lock()

    def fresh(self) -> bool:
        """Whether :meth:`model` answers at once: the folder is the current model's (or gone, or refused)."""
        now = folder_identity(self.path)
        return now is None or now == self._current.identity or now == self._refused

    def model(self):
        """The model to answer a request from: the current one, or — when the folder was swapped since it was
        opened — the new one once prepared (waiting up to RELOAD_WAIT_S; the old one past that)."""
        current = self._current
        if not self.fresh():
            self._start_reload().join(RELOAD_WAIT_S)
            return self._current.model
        return current.model

    def _start_reload(self) -> threading.Thread:
        with self._guard:
            if self._reload is None or not self._reload.is_alive():
                self._reload = threading.Thread(target=self._renew, name="gems-model-reload", daemon=True)
                self._reload.start()
            return self._reload

    def _renew(self) -> None:
        """Open and prepare the rebuilt folder, then make it current; on failure keep the old one."""
        try:
            loaded = self._load()
        except Exception as exc:  # noqa: BLE001 (a background thread: whatever it is, say it and keep serving)
            self._refused = folder_identity(self.path)
            details = not isinstance(exc, GemsError)
            log.warning(
                "still serving the previous model: the rebuilt folder %s cannot be served: %s",
                self.path,
                exc if not details else f"unexpected {type(exc).__name__} (a bug in gems)",
                exc_info=details,
            )
            return
        self._current = loaded
        log.info("serving the rebuilt model folder %s", self.path)

    def _load(self) -> Loaded:
        """The folder opened and prepared while its identity held still (tried OPEN_TRIES times)."""
        for _ in range(OPEN_TRIES):
            before = folder_identity(self.path)
            try:
                model = serve.open_model(self.path)
                prepare(model)
            except Exception:
                if folder_identity(self.path) == before:
                    raise  # nothing moved: the folder itself is the problem, not a swap
                continue
            if before is not None and folder_identity(self.path) == before:
                return Loaded(model, before)
        raise ModelError(f"{self.path} was rebuilt {OPEN_TRIES} times while gems serve opened it; start it again")
