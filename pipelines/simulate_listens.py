"""Simulate the demo's listening log, ``data/demo/listens.csv``, from ``data/demo/tracks.csv``.

No real listening log exists for the demo tracks, so the demo ships a **simulated** one. It is seeded
(``--seed``, default 7) and byte-for-byte reproducible. The model, step by step:

* **Soundtracks** have a Zipf popularity, ``1 / rank ** SOUNDTRACK_ZIPF``, ranked by their number of tracks
  (largest first, ties by name). Every track has ``N_MOODS`` latent "mood" factors: a soundtrack-wide centre
  plus a per-track offset, so moods are shared across soundtracks and listeners with the same taste
  co-listen across them.
* **Themes**: within each soundtrack, :func:`pick_theme` picks the theme deterministically (see there). The
  deep cuts follow a Zipf decay over a seeded ranking, ``1 / rank ** DEEP_CUT_EXPONENT``.
* **Listeners** (``--users``) each like 1-3 soundtracks, drawn by soundtrack popularity, with
  Dirichlet-distributed affinities; their mood preference is the mean mood of what they like plus noise.
  ``COMPOSER_FOLLOWER_SHARE`` of them follow a composer with at least ``MIN_FOLLOWED_TRACKS`` tracks instead:
  they like every soundtrack that composer worked on (LupusMechanicus: two Warzone albums) and strongly
  prefer that composer's tracks. ``DEEP_LISTENER_SHARE`` are deep listeners: twice the tracks, a flatter
  decay (``DEEP_LISTENER_EXPONENT``), fewer theme tours, less pull towards a soundtrack's theme.
* **Listening** is sequential. Each listener hears a lognormal number of distinct tracks (median
  ``MEDIAN_TRACKS``). At each step, with chance ``THEME_TOUR``, they sample a theme they have not heard yet
  (any soundtrack, by popularity and mood match) -- this is what makes themes famous. Otherwise they pick
  one of their liked soundtracks (by affinity; once those are exhausted, any, by popularity and mood) and a
  track in it: on entering a soundtrack, usually (``THEME_ON_ENTRY``) its theme; else an unheard deep cut,
  weighted by its Zipf popularity, the listener's mood match and composer preference. Every deep cut
  multiplies that soundtrack's affinity by ``DEEP_CUT_MOMENTUM``, so one deep cut leads to its neighbours.
* **Plays** per (listener, track) are geometric, with a mean of 1 + ``EXTRA_PLAYS_THEME`` for a theme and
  1 + ``EXTRA_PLAYS_DEEP`` for a deep cut, the extra plays scaled by the listener's lognormal activity.
* **Timestamps**: each listener is active over a lognormal span (median ``MEDIAN_SPAN_DAYS``) inside 2025;
  the listens, in the order they were made, get sorted uniform times in it (ISO 8601 UTC, to the second,
  ``Z``), so a listener's first track of a soundtrack is usually its theme.

With the defaults (1,500 users, seed 7) the head -- the most popular tracks holding 80% of the user-track
rows -- is about a fifth of the tracks, and every theme has many times the listeners of its soundtrack's
median track; the script prints these figures.

Output: ``user_id,track_id,plays,timestamp``, one row per (listener, track), sorted by user then time. Run
from the project root::

    python pipelines/simulate_listens.py --tracks data/demo/tracks.csv --out data/demo/listens.csv --seed 7
"""

from __future__ import annotations

import argparse
import csv
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SOUNDTRACK_ZIPF = 1.5  # soundtrack popularity 1 / rank ** SOUNDTRACK_ZIPF
N_MOODS = 3
MOOD_STRENGTH = 1.0  # weight multiplier exp(MOOD_STRENGTH * user_mood . track_mood)
THEME_WEIGHT = 4.0  # a theme reached without a tour or entry still outweighs the top deep cut
DEEP_CUT_EXPONENT = 2.0
DEEP_LISTENER_EXPONENT = 0.4
THEME_ON_ENTRY = 0.85  # chance that a listener's first track of a soundtrack is its theme
THEME_ON_ENTRY_DEEP = 0.6
LIKED_SOUNDTRACKS_P = np.array([0.5, 0.35, 0.15])  # chance of liking 1, 2 or 3 soundtracks
DEEP_LISTENER_SHARE = 0.08
COMPOSER_FOLLOWER_SHARE = 0.08
MIN_FOLLOWED_TRACKS = 5
COMPOSER_BOOST = 6.0
MEDIAN_TRACKS = 6.0
TRACKS_SIGMA = 0.55
DEEP_TRACKS_FACTOR = 2.0
THEME_TOUR = 0.65  # chance that a step samples a soundtrack theme not heard yet
THEME_TOUR_DEEP = 0.15
DEEP_CUT_MOMENTUM = 1.5
EXTRA_PLAYS_THEME = 3.0
EXTRA_PLAYS_DEEP = 1.0
YEAR_START = np.datetime64("2025-01-01T00:00:00", "s")  # timestamps are UTC
YEAR_SECONDS = 365 * 24 * 3600
MEDIAN_SPAN_DAYS = 45.0

COLUMNS = ["user_id", "track_id", "plays", "timestamp"]
THEME_KEYWORDS = ("main theme", "menu", "theme", "intro", "title")


def _draw(rng: np.random.Generator, weights: np.ndarray) -> int:
    """Index drawn with probability proportional to ``weights`` (never a zero weight)."""
    cumulative = weights.cumsum()
    return int(cumulative.searchsorted(rng.random() * cumulative[-1], side="right"))


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def pick_theme(titles: list[str], game: str) -> tuple[int, str]:
    """Index of a soundtrack's theme among its ``titles`` (in track order), and the reason it was picked.

    The rule, in order: the first title containing a word starting with "Main Theme", else "Menu", else
    "Theme", else "Intro", else "Title" (case-insensitive); else the game's title track (a title that is the
    start of the game's name, e.g. "Lincity" for "LinCity-NG"); else the first track.
    """
    for keyword in THEME_KEYWORDS:
        for i, title in enumerate(titles):
            if re.search(r"\b" + re.escape(keyword), title, flags=re.IGNORECASE):
                return i, f'title contains "{keyword}"'
    game_key = _squash(game)
    for i, title in enumerate(titles):
        key = _squash(title)
        if len(key) >= 4 and game_key.startswith(key):
            return i, "the game's title track"
    return 0, "first in track order"


@dataclass
class Catalogue:
    """The tracks grouped by soundtrack, with the simulation's fixed, seeded track properties."""

    track_ids: list[str]
    soundtracks: list[str]  # sorted soundtrack names
    members: list[np.ndarray]  # per soundtrack: track indices in track order
    soundtrack_of: np.ndarray  # per track: soundtrack index
    composer_of: np.ndarray  # per track: composer name
    themes: list[int]  # per soundtrack: track index of its theme
    theme_reasons: list[str]
    popularity: np.ndarray  # per soundtrack, sums to 1
    moods: np.ndarray  # (n_tracks, N_MOODS)
    soundtrack_moods: np.ndarray  # (n_soundtracks, N_MOODS)
    deep_rank: np.ndarray  # per track: 1-based seeded rank among its soundtrack's deep cuts (0 for themes)
    is_theme: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.is_theme = np.zeros(len(self.track_ids), dtype=bool)
        self.is_theme[self.themes] = True


def read_tracks(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise SystemExit(
            f"error: {path} not found; make the catalogue first with "
            "`python pipelines/make_demo_catalog.py --source DEST --out data/demo`"
        )
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    needed = {"track_id", "title", "soundtrack", "game", "composer", "track_no"}
    if not rows or not needed <= rows[0].keys():
        raise SystemExit(
            f"error: {path} needs the columns {sorted(needed)} and at least one row; "
            f"found {sorted(rows[0].keys()) if rows else 'no rows'}"
        )
    return rows


def build_catalogue(rows: list[dict[str, str]], rng: np.random.Generator) -> Catalogue:
    """Group tracks by soundtrack, pick themes, and draw the seeded moods and deep-cut rankings."""
    rows = sorted(rows, key=lambda r: (r["soundtrack"], int(r["track_no"])))
    track_ids = [r["track_id"] for r in rows]
    soundtracks = sorted({r["soundtrack"] for r in rows})
    soundtrack_of = np.array([soundtracks.index(r["soundtrack"]) for r in rows])
    members = [np.flatnonzero(soundtrack_of == s) for s in range(len(soundtracks))]

    themes, reasons = [], []
    for idx in members:
        i, reason = pick_theme([rows[t]["title"] for t in idx], rows[idx[0]]["game"])
        themes.append(int(idx[i]))
        reasons.append(reason)

    by_size = sorted(range(len(soundtracks)), key=lambda s: (-len(members[s]), soundtracks[s]))
    popularity = np.empty(len(soundtracks))
    popularity[by_size] = 1.0 / np.arange(1, len(soundtracks) + 1) ** SOUNDTRACK_ZIPF
    popularity /= popularity.sum()

    soundtrack_moods = rng.standard_normal((len(soundtracks), N_MOODS))
    moods = 0.7 * soundtrack_moods[soundtrack_of] + 0.7 * rng.standard_normal((len(rows), N_MOODS))

    deep_rank = np.zeros(len(rows), dtype=int)
    for idx, theme in zip(members, themes):
        deep = rng.permutation(idx[idx != theme])
        deep_rank[deep] = np.arange(1, len(deep) + 1)

    composers = np.array([r["composer"] for r in rows])
    return Catalogue(
        track_ids,
        soundtracks,
        members,
        soundtrack_of,
        composers,
        themes,
        reasons,
        popularity,
        moods,
        soundtrack_moods,
        deep_rank,
    )


@dataclass
class Listener:
    """One simulated listener's taste."""

    affinity: np.ndarray  # per soundtrack; zero for soundtracks they don't like
    mood: np.ndarray
    composer: str | None
    deep: bool
    n_tracks: int
    activity: float


def draw_listener(
    cat: Catalogue, rng: np.random.Generator, composers: list[str], composer_weights: np.ndarray
) -> Listener:
    n_soundtracks = len(cat.soundtracks)
    affinity = np.zeros(n_soundtracks)
    composer = None
    if composers and rng.random() < COMPOSER_FOLLOWER_SHARE:
        composer = composers[_draw(rng, composer_weights)]
        counts = np.bincount(cat.soundtrack_of[cat.composer_of == composer], minlength=n_soundtracks)
        affinity = counts / counts.sum()
    else:
        k = min(n_soundtracks, 1 + _draw(rng, LIKED_SOUNDTRACKS_P))
        pool = cat.popularity.copy()
        liked = []
        for _ in range(k):
            liked.append(_draw(rng, pool))
            pool[liked[-1]] = 0.0
        affinity[liked] = rng.dirichlet(np.ones(k))
    deep = rng.random() < DEEP_LISTENER_SHARE
    mood = affinity @ cat.soundtrack_moods + 0.5 * rng.standard_normal(N_MOODS)
    n_tracks = rng.lognormal(np.log(MEDIAN_TRACKS), TRACKS_SIGMA) * (DEEP_TRACKS_FACTOR if deep else 1.0)
    n_tracks = int(np.clip(round(n_tracks), 2, len(cat.track_ids)))
    return Listener(affinity, mood, composer, deep, n_tracks, float(rng.lognormal(0.0, 0.5)))


def listen_sequence(cat: Catalogue, user: Listener, rng: np.random.Generator) -> list[int]:
    """The distinct tracks one listener hears, in the order they first hear them."""
    exponent = DEEP_LISTENER_EXPONENT if user.deep else DEEP_CUT_EXPONENT
    weights = np.where(cat.is_theme, 0.0, 1.0 / np.maximum(cat.deep_rank, 1) ** exponent)
    weights[cat.themes] = THEME_WEIGHT
    weights *= np.exp(MOOD_STRENGTH * (cat.moods @ user.mood) / np.sqrt(N_MOODS))
    if user.composer is not None:
        weights[cat.composer_of == user.composer] *= COMPOSER_BOOST
    theme_on_entry = THEME_ON_ENTRY_DEEP if user.deep else THEME_ON_ENTRY
    theme_tour = THEME_TOUR_DEEP if user.deep else THEME_TOUR
    # Theme tours and listening beyond one's liked soundtracks go by popularity and mood match.
    elsewhere = cat.popularity * np.exp(MOOD_STRENGTH * (cat.soundtrack_moods @ user.mood) / np.sqrt(N_MOODS))
    liked = user.affinity.copy()

    heard = np.zeros(len(cat.track_ids), dtype=bool)
    entered = np.zeros(len(cat.soundtracks), dtype=bool)
    unheard_count = np.array([len(idx) for idx in cat.members])
    sequence = []
    while len(sequence) < user.n_tracks:
        open_ = unheard_count > 0
        unheard_theme = ~heard[cat.themes]
        if unheard_theme.any() and rng.random() < theme_tour:
            s = _draw(rng, elsewhere * unheard_theme)
            track = cat.themes[s]
        else:
            s = _draw(rng, liked * open_ if (liked * open_).any() else elsewhere * open_)
            theme = cat.themes[s]
            if not entered[s] and not heard[theme] and rng.random() < theme_on_entry:
                track = theme
            else:
                idx = cat.members[s]
                track = int(idx[_draw(rng, weights[idx] * ~heard[idx])])
            if track != theme:
                liked[s] *= DEEP_CUT_MOMENTUM
        entered[s] = True
        heard[track] = True
        unheard_count[s] -= 1
        sequence.append(track)
    return sequence


def simulate(rows: list[dict[str, str]], *, users: int, seed: int) -> tuple[list[tuple], Catalogue]:
    """Rows ``(user_id, track_id, plays, timestamp)`` sorted by user and time, and the catalogue used."""
    rng = np.random.default_rng(seed)
    cat = build_catalogue(rows, rng)
    track_counts = Counter(cat.composer_of.tolist())
    composers = sorted(c for c, n in track_counts.items() if n >= MIN_FOLLOWED_TRACKS)
    composer_weights = np.array([track_counts[c] for c in composers], dtype=float)

    user_of, tracks, plays, seconds = [], [], [], []
    for u in range(users):
        user = draw_listener(cat, rng, composers, composer_weights)
        sequence = listen_sequence(cat, user, rng)
        extra = np.where(cat.is_theme[sequence], EXTRA_PLAYS_THEME, EXTRA_PLAYS_DEEP) * user.activity
        span = min(rng.lognormal(np.log(MEDIAN_SPAN_DAYS), 1.0) * 86400, YEAR_SECONDS - 1)
        start = rng.uniform(0, YEAR_SECONDS - span)
        user_of += [u] * len(sequence)
        tracks += sequence
        plays.append(rng.geometric(1.0 / (1.0 + extra)))
        seconds.append(np.sort(rng.uniform(start, start + span, size=len(sequence))))

    stamps = np.datetime_as_string(YEAR_START + np.concatenate(seconds).astype("timedelta64[s]"), unit="s")
    width = max(4, len(str(users)))
    user_ids = [f"sim-user-{u + 1:0{width}d}" for u in range(users)]
    out = [
        (user_ids[u], cat.track_ids[t], n, f"{stamp}Z")
        for u, t, n, stamp in zip(user_of, tracks, np.concatenate(plays).tolist(), stamps.tolist())
    ]
    out.sort(key=lambda r: (r[0], r[3], r[1]))
    return out, cat


def write_listens(rows: list[tuple], path: Path) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    os.replace(tmp, path)


def head_share(listeners_per_track: np.ndarray, share: float = 0.8) -> float:
    """Fraction of tracks in the head: the most popular ones that together hold ``share`` of interactions."""
    counts = np.sort(listeners_per_track)[::-1]
    n_head = int(np.searchsorted(np.cumsum(counts), share * counts.sum()) + 1)
    return n_head / len(counts)


def summary(rows: list[tuple], cat: Catalogue, users: int) -> str:
    """A short report: sizes, density, head share, themes and how first listens of soundtracks went."""
    index = {t: i for i, t in enumerate(cat.track_ids)}
    listeners = np.bincount([index[r[1]] for r in rows], minlength=len(cat.track_ids))
    density = len(rows) / (users * len(cat.track_ids))
    per_user = np.bincount(np.unique([r[0] for r in rows], return_inverse=True)[1])
    first_of = {}
    for user_id, track_id, _, _ in rows:  # rows are in time order per user
        first_of.setdefault((user_id, cat.soundtrack_of[index[track_id]]), index[track_id])
    first_is_theme = np.mean([cat.is_theme[t] for t in first_of.values()])
    lines = [
        f"{users} users, {len(cat.track_ids)} tracks, {len(rows)} rows, density {density:.1%}; "
        f"tracks per user median {np.median(per_user):.0f} (10-90%: {np.percentile(per_user, 10):.0f}-"
        f"{np.percentile(per_user, 90):.0f}); total plays {sum(r[2] for r in rows)}",
        f"head (most popular tracks holding 80% of user-track rows): {head_share(listeners):.1%} of tracks; "
        f"a listener's first track of a soundtrack is its theme in {first_is_theme:.0%} of cases",
        "themes -- " + " ".join(pick_theme.__doc__.split("\n\n")[1].split()),
    ]
    for s, name in enumerate(cat.soundtracks):
        theme = cat.themes[s]
        median = np.median(listeners[cat.members[s]])
        lines.append(
            f"  {name}: {cat.track_ids[theme]} ({cat.theme_reasons[s]}) -- "
            f"{listeners[theme]} listeners vs median track {median:g} "
            f"({len(cat.members[s])} tracks)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tracks",
        type=Path,
        default=Path("data/demo/tracks.csv"),
        help="the demo's tracks.csv (default: data/demo/tracks.csv)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("data/demo/listens.csv"),
        help="where to write the log (default: data/demo/listens.csv)",
    )
    parser.add_argument("--users", type=int, default=1500, help="number of simulated listeners (default: 1500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    args = parser.parse_args(argv)
    if args.users < 1:
        parser.error(f"--users must be at least 1, got {args.users}")
    rows, cat = simulate(read_tracks(args.tracks), users=args.users, seed=args.seed)
    write_listens(rows, args.out)
    print(f"wrote {args.out} (simulated, seed {args.seed})")
    print(summary(rows, cat, args.users))


if __name__ == "__main__":
    main()
