"""A synthetic catalogue and listening log at scale, for the benchmarks (not for tests).

Model (seeded, vectorised): tracks belong to G genres of equal size; inside a genre, track popularity follows a
Zipf law over a random ranking (so a few tracks hold most listens and most tracks are long tail); every ~10
tracks share an artist and ~12 an album, within a genre. Each listener likes 1-3 genres (Dirichlet weights) and
hears a lognormal number of tracks (mean = listens / users); each listen picks a liked genre, then a track by
popularity. Repeated (listener, track) pairs add up as plays.

    python benchmarks/scale_fixture.py --tracks 1000000 --users 100000 --listens 10000000 --out /tmp/scale

writes OUT/catalog.parquet (track_id, title, artist, soundtrack) and OUT/listens.parquet (user_id, track_id,
plays), ready for `gems build --catalog OUT/catalog.parquet --listens OUT/listens.parquet`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENRE_SIZE = 5000
ZIPF = 1.1


def make(n_tracks: int, n_users: int, n_listens: int, seed: int = 0) -> tuple[pa.Table, pa.Table]:
    """(catalogue, listens) tables of the model above."""
    rng = np.random.default_rng(seed)
    genres = max(1, n_tracks // GENRE_SIZE)
    size = n_tracks // genres
    n_tracks = genres * size
    weights = 1.0 / np.arange(1, size + 1) ** ZIPF
    cdf = np.cumsum(weights) / weights.sum()
    shuffle = np.stack([rng.permutation(size) for _ in range(genres)])  # popularity rank -> track within genre

    per_user = np.maximum(1, rng.lognormal(np.log(n_listens / n_users) - 0.5, 1.0, n_users).astype(np.int64))
    per_user = np.maximum(1, (per_user * n_listens / per_user.sum()).astype(np.int64))
    users = np.repeat(np.arange(n_users), per_user)
    liked = rng.integers(0, genres, size=(n_users, 3))
    preference = rng.dirichlet(np.ones(3) * 0.5, size=n_users)
    choice = (rng.random(len(users))[:, None] > np.cumsum(preference[users], axis=1)).sum(axis=1).clip(0, 2)
    genre = liked[users, choice]
    rank = np.minimum(np.searchsorted(cdf, rng.random(len(users))), size - 1)
    tracks = genre * size + shuffle[genre, rank]

    pairs = users.astype(np.int64) * n_tracks + tracks
    pairs, plays = np.unique(pairs, return_counts=True)
    user_of, track_of = pairs // n_tracks, pairs % n_tracks
    track_ids = np.char.add("t", np.char.zfill(np.arange(n_tracks).astype(str), 7))
    user_ids = np.char.add("u", np.char.zfill(np.arange(n_users).astype(str), 6))
    within = np.arange(n_tracks) % size
    genre_of = np.arange(n_tracks) // size
    artist = np.char.add(np.char.add("artist ", genre_of.astype(str)), np.char.add("-", (within // 10).astype(str)))
    album = np.char.add(np.char.add("album ", genre_of.astype(str)), np.char.add("-", (within // 12).astype(str)))
    catalog = pa.table(
        {
            "track_id": pa.array(track_ids),
            "title": pa.array(np.char.add("Track ", np.arange(n_tracks).astype(str))),
            "artist": pa.array(artist),
            "soundtrack": pa.array(album),
        }
    )
    listens = pa.table(
        {
            "user_id": pa.array(user_ids[user_of]),
            "track_id": pa.array(track_ids[track_of]),
            "plays": pa.array(plays.astype(np.int32)),
        }
    )
    return catalog, listens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--listens", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    catalog, listens = make(args.tracks, args.users, args.listens, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    pq.write_table(catalog, args.out / "catalog.parquet", compression="zstd")
    pq.write_table(listens, args.out / "listens.parquet", compression="zstd")
    print(
        f"{catalog.num_rows:,} tracks, {listens.num_rows:,} (listener, track) pairs of "
        f"{int(np.sum(listens.column('plays').to_numpy())):,} listens -> {args.out} "
        f"in {time.perf_counter() - started:.1f}s"
    )


if __name__ == "__main__":
    main()
