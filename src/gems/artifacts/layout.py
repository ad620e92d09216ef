"""The model folder's files, in one place: every path a build stage writes and serving reads.

manifest.json                    config, fingerprints, counts, timings, library versions, file records
tracks.parquet listens.parquet   the canonical catalogue and listens (ingest)
ingest.json inputs.parquet       what each source gave; the input-file hash memo
catalogue/                       display copy (Arrow), id/title sort orders, artist/album codes and orders
audio/                           per-file status, features, standardised features, sound vectors, tags
users.parquet interactions/      listener ids; the (users × tracks) CSR matrix of summed weights
popularity.parquet               listeners, plays, percentile, is_tail, is_theme per track
cf/                              ALS factors, YᵀY, the fitted weighting, the norm order for top-k
neighbours/                      the item-kNN similarity as CSR arrays
index/                           per space: track rows, unit vectors, faiss index
ranker/                          the learned second stage: LightGBM's text model and what it was fitted on
"""

FORMAT_VERSION = 3  # of the folder as a whole: a reader refuses another version and says to rebuild
MANIFEST = "manifest.json"
TRACKS = "tracks.parquet"
LISTENS = "listens.parquet"
INGEST_REPORT = "ingest.json"
INPUT_MEMO = "inputs.parquet"

DISPLAY = "catalogue/tracks.arrow"
ID_ORDER = "catalogue/id_order.npy"
LINK_KEYS = "catalogue/link_keys.parquet"  # the name keys gems.ingest.link.Linker indexes, one row per track
TITLE_ORDER = "catalogue/title_order.npy"


def codes(name: str) -> str:
    """Integer codes of each track's ``artist`` or ``soundtrack`` (−1 unknown)."""
    return f"catalogue/{name}_codes.npy"


def members(name: str) -> str:
    """The tracks with a known ``artist``/``soundtrack``, sorted by its code."""
    return f"catalogue/{name}_order.npy"


AUDIO_FILES = "audio/files.parquet"
AUDIO_ROWS = "audio/rows.npy"
AUDIO_FEATURES = "audio/features.npy"
AUDIO_STANDARDIZED = "audio/standardized.npy"
AUDIO_VECTORS = "audio/vectors.npy"
AUDIO_EMBEDDER = "audio/embedder.npz"  # the FeatureScaler's arrays behind AUDIO_STANDARDIZED
AUDIO_TAGS = "audio/tags.npy"  # (tracks with audio × 50) MTT tag probabilities, rows as AUDIO_ROWS
AUDIO_TAG_WORDS = "audio/tag_words.json"  # the 50 words of AUDIO_TAGS' columns
AUDIO_GROUPS = "audio/groups.json"
AUDIO_FEATURE_NAMES = "audio/feature_names.json"

USERS = "users.parquet"
INTERACTIONS = ("interactions/indptr.npy", "interactions/indices.npy", "interactions/weights.npy")
POPULARITY = "popularity.parquet"

ITEM_FACTORS = "cf/item_factors.npy"
USER_FACTORS = "cf/user_factors.npy"
GRAM = "cf/gram.npy"
NORM_ORDER = "cf/norm_order.npy"
NORM_SORTED = "cf/norm_sorted.npy"
WEIGHTING = "cf/weighting.json"
IDF = "cf/idf.npy"

NEIGHBOURS = ("neighbours/indptr.npy", "neighbours/indices.npy", "neighbours/data.npy")


def space_rows(space: str) -> str:
    return f"index/{space}_rows.npy"


def space_vectors(space: str) -> str:
    return f"index/{space}_vectors.npy"


def space_index(space: str) -> str:
    return f"index/{space}.faiss"


RANKER_MODEL = "ranker/model.txt"
RANKER_INFO = "ranker/info.json"


SPACES = ("audio", "cf", "blend")  # the vector spaces a model may hold (gems.index builds them)
KIN = ("artist", "soundtrack")  # the catalogue columns with codes and orders

FILES = frozenset(
    {MANIFEST, TRACKS, LISTENS, INGEST_REPORT, INPUT_MEMO, DISPLAY, ID_ORDER, LINK_KEYS, TITLE_ORDER}
    | {f(name) for f in (codes, members) for name in KIN}
    | {AUDIO_FILES, AUDIO_ROWS, AUDIO_FEATURES, AUDIO_STANDARDIZED, AUDIO_VECTORS, AUDIO_EMBEDDER, AUDIO_GROUPS}
    | {AUDIO_FEATURE_NAMES, AUDIO_TAGS, AUDIO_TAG_WORDS, USERS, POPULARITY, *INTERACTIONS, *NEIGHBOURS}
    | {ITEM_FACTORS, USER_FACTORS, GRAM, NORM_ORDER, NORM_SORTED, WEIGHTING, IDF, RANKER_MODEL, RANKER_INFO}
    | {f(space) for f in (space_rows, space_vectors, space_index) for space in SPACES}
)
"""Every file a model folder may hold: a name a manifest lists that is not here is refused, never opened."""
