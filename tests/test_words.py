"""Search by sound and the words of a track on one ranking path, on a hand-made model whose answers are known
(tests/wordkit.py): the words a query names, how a track matches them, the same discount, tail places and caps
as any query, the words AND a query's usual evidence, and explanations that never say a word below the
confidence."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gems.audio.musicnn import TAG_WORDS
from gems.errors import ParameterError
from gems.model import Model
from gems.rank import Queries, RankOptions, rank
from gems.rank.words import CONFIDENT, match, parse, shared_words, word_keys
from gems.serve import recommend
from gems.serve.recommend import TAGS_LISTED
from modelkit import write_model
from wordkit import word_probs, write_worded_model

WEIGHTS = (0.0, 0.0, 1.0, 0.0)  # sound alone, as an audio-only model ranks


def options(**kwargs) -> RankOptions:
    """No reserved long-tail places and no cap unless a test asks for them."""
    return RankOptions(**{"tail_share": 0.0, "calibrated": False, "tail_weights": None, "weights": WEIGHTS, **kwargs})


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Model:
    return Model(write_worded_model(tmp_path_factory.mktemp("words") / "m"))


def titles(answer) -> list[str]:
    return [pick.title for pick in answer.picks]


# --------------------------------------------------------------------------------------------- words and matches


def test_a_value_may_hold_several_words_and_two_word_tags_are_read_whole():
    assert parse(["slow strings"], TAG_WORDS) == ("slow", "strings")
    assert parse(["No-Vocals, slow", "strings", "slow"], TAG_WORDS) == ("no vocals", "slow", "strings")
    assert parse(["male vocal new_age"], TAG_WORDS) == ("male vocal", "new age")


@pytest.mark.parametrize(("values", "named"), [(["zzqx"], "'zzqx'"), (["slow no"], "'no'"), ([" , "], "at least one")])
def test_a_word_outside_the_vocabulary_is_one_line_that_lists_it(values, named):
    with pytest.raises(ParameterError) as error:
        parse(values, TAG_WORDS)
    message = str(error.value)
    assert named in message and "\n" not in message and all(word in message for word in TAG_WORDS)


def test_the_match_is_the_geometric_mean_of_the_words_probabilities():
    probs = np.array([[0.64, 0.25, 0.5], [0.8, 0.0, 0.1]], dtype=np.float32)
    assert match(probs, np.array([0])) == pytest.approx([0.64, 0.8])
    assert match(probs, np.array([0, 1])) == pytest.approx([0.4, np.sqrt(0.8 * 1e-6)], rel=1e-5)  # p 0: the floor


def test_the_word_pool_is_the_best_matches_ties_to_the_smaller_row(model):
    inputs, n = model.inputs, model.n_tracks
    slow_strings = np.array([TAG_WORDS.index("slow"), TAG_WORDS.index("strings")])
    none = np.zeros(0, dtype=np.int64)
    keys = word_keys(inputs, [none, slow_strings], none, np.zeros(n, bool), pool=4)
    assert (keys // n).tolist() == [1] * 4 and (keys % n).tolist() == [0, 4, 5, 8]  # t5 and t6 tie: t5
    own, excluded = np.array([n + 0]), np.zeros(n, bool)
    excluded[4] = True
    assert (word_keys(inputs, [none, slow_strings], own, excluded, pool=2) % n).tolist() == [5, 8]


def test_queries_carry_their_words_through_take_and_know_a_query_of_words_alone():
    queries = Queries.of([[], [3], []], user_rows=[-1, -1, 2], words=[[10], [10, 2], []])
    assert queries.worded().tolist() == [True, True, False] and queries.bare().tolist() == [True, False, False]
    part = queries.take([1, 0])
    assert [w.tolist() for w in part.words] == [[10, 2], [10]] and part.bare().tolist() == [False, True]
    assert not Queries.of([[1]]).worded().any() and Queries.of([[1]]).take(slice(0, 1)).words == []


# --------------------------------------------------------------------------------------------- on the one path


def test_words_alone_rank_tracks_by_their_match_and_never_a_track_without_words(model):
    answer = recommend(model, options(k=9, discount=0.0), sounds=["slow strings"])
    assert titles(answer)[:5] == ["Seed Strings", "Strings Twin", "Both Midway", "Strings Only", "Slow Only"]
    assert [p.similarity for p in answer.picks[:3]] == pytest.approx([np.sqrt(0.42), np.sqrt(0.3), 0.35], rel=1e-5)
    assert len(answer.picks) == 8 and "Unheard" not in titles(answer)
    assert answer.who == "sounding slow, strings" and answer.seeds == [] and answer.words == ("slow", "strings")


def test_words_take_the_same_popularity_discount(model):
    plain = recommend(model, options(k=2, discount=0.0), sounds=["ambient"])
    assert titles(plain) == ["Ambient Hit", "Ambient Gem"]
    gems = recommend(model, options(k=2, discount=0.5), sounds=["ambient"])
    assert titles(gems) == ["Ambient Gem", "Faint Ambient"]  # the hit falls behind: 0.9 · 101^-0.5 = 0.09
    assert [p.score for p in gems.picks] == pytest.approx([0.8 * 3**-0.5, 0.3 * 4**-0.5], rel=1e-5)


def test_words_take_the_same_soundtrack_cap_and_reserved_long_tail_places(model):
    capped = recommend(model, options(k=2, discount=0.0, per_soundtrack=1), sounds=["ambient"])
    assert titles(capped) == ["Ambient Hit", "Faint Ambient"]  # one of "Ambience"
    assert model.is_tail.tolist()[1:3] == [False, True]
    reserved = recommend(model, options(k=1, discount=0.0, tail_share=1.0), sounds=["ambient"])
    assert titles(reserved) == ["Ambient Gem"]  # the place is the long tail's
    calibrated = recommend(model, options(k=1, discount=0.0, tail_share=1.0, calibrated=True), sounds=["ambient"])
    assert titles(calibrated) == ["Ambient Hit"]  # no tracks, so no own long-tail share to follow


def test_words_with_seeds_rank_by_the_seeds_relevance_times_the_match(model):
    """The oracle: the relevance of the seeds alone times each track's probability of the word."""
    ambient = TAG_WORDS.index("ambient")
    seeds = ranked_relevance(model, Queries.of([[0]]))
    both = ranked_relevance(model, Queries.of([[0]], words=[[ambient]]))
    probs = word_probs()[:, ambient]
    common = sorted(set(seeds) & set(both))
    assert len(common) == 8 and 7 in common  # every other track, t7 without words included
    assert [both[r] for r in common] == pytest.approx([seeds[r] * np.nan_to_num(probs[r]) for r in common], rel=1e-5)
    answer = recommend(model, options(k=3, discount=0.0), like=["Seed Strings"], sounds=["ambient"])
    oracle = sorted(common, key=lambda r: -seeds[r] * np.nan_to_num(probs[r]))[:3]
    assert [p.row for p in answer.picks] == oracle and oracle[0] == 1  # the ambient track nearest in sound
    assert titles(recommend(model, options(k=1, discount=0.0), like=["Seed Strings"])) == ["Strings Twin"]
    assert answer.who.endswith(", sounding ambient") and answer.seeds == [0]


def ranked_relevance(model, queries) -> dict[int, float]:
    ranked = rank(model.inputs, queries, options(k=9, discount=0.0))
    return dict(zip(ranked.candidates.rows.tolist(), ranked.relevance.tolist()))


class Refusing:
    """A learned stage that must not be asked."""

    def relevance(self, *args):
        raise AssertionError("the learned stage ranked a query with words")

    def contributions(self, features):
        return {}


def test_the_learned_stage_does_not_rank_queries_with_words(model):
    inputs = replace(model.inputs, ranker=Refusing())
    worded = Queries.of([[0]], words=[[TAG_WORDS.index("ambient")]])
    assert rank(inputs, worded, options(k=3, learned=True)).items.shape == (1, 3)
    with pytest.raises(AssertionError, match="with words"):  # the same query without words: it would have
        rank(inputs, Queries.of([[0]]), options(k=3, learned=True))


def test_a_model_without_words_says_so_and_how_to_get_them(tmp_path):
    bare = Model(write_worded_model(tmp_path / "m", tags=False))
    assert bare.tags is None
    with pytest.raises(ParameterError, match="no sound words.*rebuild it with audio"):
        recommend(bare, options(), sounds=["ambient"])
    picks = recommend(bare, options(k=2), like=["Seed Strings"]).picks
    assert [p.tags for p in picks] == [[], []]


def test_a_query_needs_something_to_ask(model):
    with pytest.raises(ParameterError, match="--sounds WORDS"):
        recommend(model, options())
    with pytest.raises(ParameterError, match="one of"):
        recommend(model, options(), like=["Seed Strings"], user="u001", sounds=["ambient"])


# --------------------------------------------------------------------------------------------- words shown


def test_a_pick_carries_its_most_probable_words_with_their_probability(model):
    picks = recommend(model, options(k=9, discount=0.0), like=["Seed Strings"]).picks
    twin = next(p for p in picks if p.title == "Strings Twin")
    assert len(twin.tags) == TAGS_LISTED
    assert [t["word"] for t in twin.tags[:5]] == ["strings", "slow", "choir", "classical", "violin"]
    assert [t["p"] for t in twin.tags[:5]] == [0.6, 0.5, 0.45, 0.41, 0.39]
    assert twin.tags[5] == {"word": "guitar", "p": 0.01}  # equal probabilities: vocabulary order
    assert next(p for p in picks if p.title == "Unheard").tags == []
    assert twin.to_dict()["tags"] == twin.tags


def test_explanations_name_at_most_three_words_both_hold_confidently(model):
    answer = recommend(model, options(k=1, discount=0.0), like=["Seed Strings"])
    assert titles(answer) == ["Strings Twin"]
    why = answer.picks[0].why
    assert why.startswith("Strings, slow, choir — like “Seed Strings” (Seeds)")  # classical .41 is the 4th
    assert "violin" not in why and "classical" not in why  # violin .39 both: below the confidence
    assert shared_words([("violin", CONFIDENT)], [("violin", CONFIDENT)]) == ["violin"]  # from the confidence on


def test_words_asked_for_are_said_of_a_pick_only_from_the_confidence(model):
    answer = recommend(model, options(k=3, discount=0.0), sounds=["ambient"])
    sure, faint = answer.picks[0].why, answer.picks[2].why
    assert sure.startswith("Sounds ambient, as asked. The theme of Ambience; a hit, among the 1% most played")
    assert faint.startswith(f"The nearest match to ambient (p 0.30): a word is said of a track from p {CONFIDENT:g}.")
    assert answer.picks[0].seed is None
    both = recommend(model, options(k=1, discount=0.0), sounds=["slow strings"]).picks[0].why
    assert both.startswith("Sounds slow and strings, as asked.")


def test_the_listed_probabilities_never_round_up_past_a_threshold(tmp_path):
    probs = word_probs()[:2]
    probs[1, TAG_WORDS.index("ambient")] = 0.39999
    edge = write_model(
        tmp_path / "edge", titles=["A", "B"], soundtracks=["S", "T"], vectors=np.eye(2), listeners=[4, 1], tags=probs
    )
    pick = recommend(Model(edge), options(k=1), like=["A"]).picks[0]
    assert pick.tags[0] == {"word": "ambient", "p": 0.3999}
    assert "ambient" not in pick.why
