"""mlbits_lite.experiment: Student-t intervals, paired differences, verdicts, and the claims record."""
import json
import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mlbits_lite import experiment
from mlbits_lite.experiment import Claims, Paper, Summary

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
seeds = st.lists(finite, min_size=2, max_size=12)


# ------------------------------------------------------------------------------------------------ summarize
def test_summarize_by_hand():
    # 1..5: mean 3, s = √2.5, t_{4, 0.975} = 2.776445 (printed tables): half-width 2.776445 · √2.5 / √5 = 1.963243
    s = experiment.summarize([1, 2, 3, 4, 5])
    assert (s.mean, s.n) == (3.0, 5)
    assert s.low == pytest.approx(3 - 1.963243, abs=1e-6) and s.high == pytest.approx(3 + 1.963243, abs=1e-6)
    # two values 0, 2: mean 1, s = √2, t_{1, 0.975} = 12.706205: half-width 12.706205 · √2 / √2
    s = experiment.summarize([0.0, 2.0])
    assert s.low == pytest.approx(1 - 12.706205, abs=1e-6) and s.high == pytest.approx(1 + 12.706205, abs=1e-6)
    # 90 %: t_{4, 0.95} = 2.131847
    s = experiment.summarize([1, 2, 3, 4, 5], confidence=0.9)
    assert s.high - s.mean == pytest.approx(2.131847 * math.sqrt(2.5 / 5), abs=1e-6)


@pytest.mark.parametrize("confidence", [0.5, 0.9, 0.95, 0.99])
def test_summarize_matches_scipy(confidence):
    values = np.random.default_rng(0).normal(size=7)
    low, high = stats.t.interval(confidence, df=6, loc=values.mean(), scale=stats.sem(values))
    s = experiment.summarize(values, confidence=confidence)
    assert (s.mean, s.low, s.high, s.n) == pytest.approx((values.mean(), low, high, 7), rel=1e-12, abs=1e-12)


def test_summarize_accepts_lists_tuples_arrays_and_tensors_alike():
    values = [0.5, 1.5, 2.0, 3.25]
    expected = experiment.summarize(values)
    for form in (tuple(values), np.array(values), np.array(values, dtype=np.float32), torch.tensor(values),
                 torch.tensor(values, requires_grad=True), [torch.tensor(v) for v in values], [np.float32(v) for v in values]):
        got = experiment.summarize(form)
        assert (got.mean, got.low, got.high, got.n) == pytest.approx((expected.mean, expected.low, expected.high, 4))
    assert experiment.summarize(np.array([1, 2, 4])).mean == pytest.approx(7 / 3)  # integers


def test_equal_values_give_a_point_interval():
    s = experiment.summarize([0.25, 0.25, 0.25])
    assert (s.mean, s.low, s.high) == (0.25, 0.25, 0.25)
    assert str(s) == "0.25 [0.25, 0.25] (n=3)"


@pytest.mark.parametrize("values, confidence, error, message", [
    ([1.0], 0.95, ValueError, "at least 2 values"),
    ([], 0.95, ValueError, "at least 2 values"),
    ([1.0, float("nan")], 0.95, ValueError, "values must be finite"),
    ([1.0, float("inf")], 0.95, ValueError, "values must be finite"),
    (torch.tensor([1.0, float("nan")]), 0.95, ValueError, "values must be finite"),
    ([[1.0, 2.0], [3.0, 4.0]], 0.95, ValueError, "values must be 1-D"),
    (np.ones((2, 3)), 0.95, ValueError, "values must be 1-D"),
    ([1.0, "2"], 0.95, TypeError, r"values\[1\] must be a real number"),
    ([True, False], 0.95, TypeError, r"values\[0\] must be a real number"),
    (torch.tensor([True, False]), 0.95, TypeError, "values must hold real numbers"),
    (np.array(["a", "b"]), 0.95, TypeError, "values must hold real numbers"),
    ({1.0, 2.0}, 0.95, TypeError, "values must be a list, tuple, NumPy array or tensor"),
    ("12", 0.95, TypeError, "values must be a list"),
    (3.0, 0.95, TypeError, "values must be a list"),
    ([1.0, 2.0], 0.0, ValueError, r"confidence must be in \(0.0, 1.0\)"),
    ([1.0, 2.0], 1.0, ValueError, r"confidence must be in \(0.0, 1.0\)"),
    ([1.0, 2.0], 95, ValueError, r"confidence must be in \(0.0, 1.0\)"),
    ([1.0, 2.0], "0.95", TypeError, "confidence must be a real number"),
])
def test_summarize_refuses_bad_input(values, confidence, error, message):
    with pytest.raises(error, match=message):
        experiment.summarize(values, confidence=confidence)


@settings(max_examples=60, deadline=None)
@given(values=seeds, confidence=st.floats(0.05, 0.995))
def test_summarize_properties(values, confidence):
    s = experiment.summarize(values, confidence)
    assert s.n == len(values)
    assert s.low <= s.mean <= s.high
    assert s.mean == pytest.approx(float(np.mean(values)), rel=1e-9, abs=1e-6)
    assert s.high - s.mean == pytest.approx(s.mean - s.low, rel=1e-6, abs=1e-6)  # symmetric around the mean
    wider = experiment.summarize(values, min(confidence + 0.004, 0.999))
    assert wider.high - wider.low >= s.high - s.low  # more confidence, a wider interval


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-100, 100), min_size=2, max_size=8), shift=st.floats(-100, 100),
       scale=st.floats(0.1, 10))
def test_summarize_moves_with_its_values(values, shift, scale):
    s = experiment.summarize(values)
    moved = experiment.summarize([scale * v + shift for v in values])
    for a, b in ((moved.mean, s.mean), (moved.low, s.low), (moved.high, s.high)):
        assert a == pytest.approx(scale * b + shift, rel=1e-6, abs=1e-6)


# ------------------------------------------------------------------------------------------------ paired difference
@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(2, 10))
def test_paired_difference_is_the_summary_of_the_differences(data, n):
    a = data.draw(st.lists(finite, min_size=n, max_size=n))
    b = data.draw(st.lists(finite, min_size=n, max_size=n))
    got = experiment.paired_difference(a, b)
    want = experiment.summarize([x - y for x, y in zip(a, b)])
    assert (got.mean, got.low, got.high, got.n) == pytest.approx((want.mean, want.low, want.high, n), rel=1e-9,
                                                                 abs=1e-6)


def test_pairing_removes_what_the_arms_share_on_a_seed():
    seed_effect = np.array([3.0, -2.0, 5.0, 0.0, -4.0])
    a, b = seed_effect + np.array([1.0, 1.1, 0.9, 1.0, 1.05]), seed_effect
    paired = experiment.paired_difference(a, b)
    assert paired.low > 0  # a - b is about 1 on every seed
    unpaired = experiment.summarize(a)
    assert unpaired.low < experiment.summarize(b).high  # the means' intervals overlap


@pytest.mark.parametrize("a, b, error, message", [
    ([1.0, 2.0, 3.0], [1.0, 2.0], ValueError, "same seeds, got 3 and 2 values"),
    ([1.0], [1.0], ValueError, "a needs at least 2 values"),
    ([1.0, 2.0], [1.0, float("nan")], ValueError, "b must be finite"),
    ([1.0, 2.0], "ab", TypeError, "b must be a list"),
])
def test_paired_difference_refuses_bad_input(a, b, error, message):
    with pytest.raises(error, match=message):
        experiment.paired_difference(a, b)


# ------------------------------------------------------------------------------------------------ verdict
@pytest.mark.parametrize("low, high, sign, expected", [
    (-3.0, -1.0, -1, "reproduced"),
    (-3.0, -1.0, +1, "contradicted"),
    (1.0, 3.0, +1, "reproduced"),
    (1.0, 3.0, -1, "contradicted"),
    (-1.0, 1.0, -1, "inconclusive"),
    (-1.0, 1.0, +1, "inconclusive"),
    (-2.0, 0.0, -1, "inconclusive"),  # touching 0 is not excluding it
    (0.0, 2.0, +1, "inconclusive"),
    (0.0, 2.0, -1, "inconclusive"),
    (0.0, 0.0, +1, "inconclusive"),
    (-2.0, -1e-12, -1, "reproduced"),
    (1e-12, 2.0, -1, "contradicted"),
])
def test_verdict(low, high, sign, expected):
    assert experiment.verdict(Summary((low + high) / 2, low, high, 5), sign) == expected


@settings(max_examples=60, deadline=None)
@given(mean=finite, half=st.floats(0, 1e6), sign=st.sampled_from([-1, 1]))
def test_verdict_is_symmetric(mean, half, sign):
    d = Summary(mean, mean - half, mean + half, 5)
    flipped = Summary(-mean, -mean - half, -mean + half, 5)
    v = experiment.verdict(d, sign)
    assert v in ("reproduced", "contradicted", "inconclusive")
    assert experiment.verdict(flipped, -sign) == v
    opposite = {"reproduced": "contradicted", "contradicted": "reproduced", "inconclusive": "inconclusive"}
    assert experiment.verdict(d, -sign) == opposite[v]


@pytest.mark.parametrize("difference, sign, error, message", [
    (Summary(0.0, -1.0, 1.0, 3), 0, ValueError, "expected_sign must be"),
    (Summary(0.0, -1.0, 1.0, 3), 2, ValueError, "expected_sign must be"),
    (Summary(0.0, -1.0, 1.0, 3), 1.0, TypeError, "expected_sign must be an int"),
    (Summary(0.0, -1.0, 1.0, 3), True, TypeError, "expected_sign must be an int"),
    ((0.0, -1.0, 1.0, 3), 1, TypeError, "difference must be an experiment.Summary"),
])
def test_verdict_refuses_bad_input(difference, sign, error, message):
    with pytest.raises(error, match=message):
        experiment.verdict(difference, sign)


# ------------------------------------------------------------------------------------------------ Summary, Paper
def test_summary_is_frozen_and_prints_an_interval():
    s = Summary(-2.512, -3.6, -1.4, 5)
    assert str(s) == "-2.5 [-3.6, -1.4] (n=5)"
    with pytest.raises(AttributeError):
        s.mean = 0.0  # type: ignore[misc]
    assert s == Summary(-2.512, -3.6, -1.4, 5)


@pytest.mark.parametrize("summary, text", [
    (Summary(0.0241, 0.0211, 0.0271, 5), "0.0241 [0.0211, 0.0271] (n=5)"),  # two significant digits of the half-width
    (Summary(1278.3, 773.0, 1784.1, 3), "1278 [773, 1784] (n=3)"),
    (Summary(-0.01, -0.04, 0.02, 5), "-0.010 [-0.040, 0.020] (n=5)"),
    (Summary(0.004, -0.5, 0.508, 5), "0.00 [-0.50, 0.51] (n=5)"),  # never "-0.00"
    (Summary(-0.004, -0.5, 0.49, 5), "0.00 [-0.50, 0.49] (n=5)"),
])
def test_summary_format(summary, text):
    assert str(summary) == text


@pytest.mark.parametrize("args, error, message", [
    ((1.0, 2.0, 3.0, 5), ValueError, "low <= mean <= high"),
    ((1.0, 0.0, 0.5, 5), ValueError, "low <= mean <= high"),
    ((float("nan"), 0.0, 1.0, 5), ValueError, "mean must be finite"),
    ((0.5, 0.0, float("inf"), 5), ValueError, "high must be finite"),
    ((0.5, 0.0, 1.0, 0), ValueError, "n must be a positive int"),
    ((0.5, 0.0, 1.0, 2.0), TypeError, "n must be an int"),
    (("0.5", 0.0, 1.0, 2), TypeError, "mean must be a real number"),
])
def test_summary_refuses_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        Summary(*args)


@pytest.mark.parametrize("args, error, message", [
    ((float("nan"), "Some 2020, Table 1"), ValueError, "value must be finite"),
    (("0.3", "Some 2020, Table 1"), TypeError, "value must be a real number"),
    ((0.3, ""), ValueError, "source must not be empty"),
    ((0.3, "   "), ValueError, "source must not be empty"),
    ((0.3, None), TypeError, "source must be a str"),
])
def test_paper_refuses_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        Paper(*args)


# ------------------------------------------------------------------------------------------------ claims
GELU = dict(id="gelu-vs-relu", claim="GELU has lower test error than ReLU", metric="test error, points",
            expected_sign=-1, paper=Paper(-0.27, "Hendrycks & Gimpel 2016, Table 1, CIFAR-10 median error"))


def test_direction_claim_record():
    claims = Claims("02_gelu")
    ours = experiment.paired_difference([12.1, 11.8, 12.4, 11.9, 12.0], [12.6, 12.3, 12.5, 12.4, 12.9])
    record = claims.direction(**GELU, ours=ours)
    assert record == {
        "id": "gelu-vs-relu", "claim": "GELU has lower test error than ReLU", "metric": "test error, points",
        "kind": "direction", "expected_sign": -1, "ours": ours.to_dict(),
        "paper": {"value": -0.27, "source": "Hendrycks & Gimpel 2016, Table 1, CIFAR-10 median error"},
        "comparison": "our interval lies below 0", "verdict": "reproduced", "note": None,
    }
    assert record["verdict"] == experiment.verdict(ours, -1)
    assert claims.records == [record] and len(claims) == 1


@pytest.mark.parametrize("low, high, comparison, result", [
    (-3.0, -1.0, "our interval lies below 0", "reproduced"),
    (1.0, 3.0, "our interval lies above 0", "contradicted"),
    (-1.0, 1.0, "our interval includes 0", "inconclusive"),
    (-1.0, 0.0, "our interval includes 0", "inconclusive"),
])
def test_direction_comparisons(low, high, comparison, result):
    record = Claims("02_gelu").direction(**GELU, ours=Summary((low + high) / 2, low, high, 5))
    assert (record["comparison"], record["verdict"]) == (comparison, result)


def test_direction_claim_without_a_paper_number():
    record = Claims("02_gelu").direction(**{**GELU, "paper": None}, ours=Summary(0.5, 0.1, 0.9, 5), note="a caveat")
    assert record["paper"] is None and record["verdict"] == "contradicted" and record["note"] == "a caveat"


@pytest.mark.parametrize("paper_value, comparable, comparison, result", [
    (0.024, True, "the paper's value lies inside our interval", "reproduced"),
    (0.020, True, "the paper's value lies inside our interval", "reproduced"),  # on the boundary: inside
    (0.010, True, "ours is higher", "differs"),
    (0.050, True, "ours is lower", "differs"),
    (0.024, False, "not comparable: CIFAR-100 ResNet-56 vs an MLP on MNIST-1D", "not comparable"),
])
def test_value_claim_comparisons(paper_value, comparable, comparison, result):
    record = Claims("04_label_smoothing").value(
        id="ece-ls", claim="Label smoothing lowers ECE", metric="ECE (15 bins)", ours=Summary(0.025, 0.020, 0.030, 5),
        paper=Paper(paper_value, "Müller et al. 2019, Table 3, CIFAR-100, LS"), comparable=comparable,
        note=None if comparable else "CIFAR-100 ResNet-56 vs an MLP on MNIST-1D")
    assert (record["kind"], record["comparison"], record["verdict"]) == ("value", comparison, result)
    assert "expected_sign" not in record


def claim_kwargs(**change):
    kwargs = dict(id="ece-ls", claim="c", metric="m", ours=Summary(0.5, 0.0, 1.0, 5), paper=Paper(0.5, "P 2020, T1"))
    return {**kwargs, **change}


@pytest.mark.parametrize("method, change, error, message", [
    ("value", {"id": "ECE LS"}, ValueError, "id must be a short lowercase label"),
    ("value", {"id": 3}, TypeError, "id must be a str"),
    ("value", {"claim": ""}, ValueError, "claim must not be empty"),
    ("value", {"metric": None}, TypeError, "metric must be a str"),
    ("value", {"ours": (0.5, 0.0, 1.0, 5)}, TypeError, "ours must be an experiment.Summary"),
    ("value", {"ours": [0.1, 0.2]}, TypeError, "ours must be an experiment.Summary"),
    ("value", {"paper": None}, TypeError, "paper must be an experiment.Paper"),
    ("value", {"paper": 0.5}, TypeError, "paper must be an experiment.Paper"),
    ("value", {"comparable": False}, ValueError, "note must say why"),
    ("value", {"comparable": 0}, TypeError, "comparable must be a bool"),
    ("value", {"note": ""}, ValueError, "note must not be empty"),
    ("direction", {"expected_sign": 0}, ValueError, "expected_sign must be"),
    ("direction", {"expected_sign": -1, "paper": Paper(0.3, "P 2020, T1")}, ValueError,
     "paper.value 0.3 must have the sign of expected_sign"),
    ("direction", {"expected_sign": 1, "paper": Paper(0.0, "P 2020, T1")}, ValueError, "must have the sign"),
    ("direction", {"expected_sign": 1, "paper": "P 2020"}, TypeError, "paper must be an experiment.Paper or None"),
])
def test_claims_refuse_bad_input(method, change, error, message):
    kwargs = claim_kwargs(**change)
    if method == "direction":
        kwargs.setdefault("expected_sign", 1)
        if kwargs["paper"] is not None and "paper" not in change:
            kwargs["paper"] = None
    claims = Claims("02_gelu")
    with pytest.raises(error, match=message):
        getattr(claims, method)(**kwargs)
    assert len(claims) == 0  # a refused claim is not recorded


def test_claim_ids_are_unique_in_a_chapter():
    claims = Claims("02_gelu")
    claims.value(**claim_kwargs())
    with pytest.raises(ValueError, match="'ece-ls' is already a claim of 02_gelu"):
        claims.direction(**claim_kwargs(paper=None), expected_sign=1)


def test_claims_take_keywords_only():
    with pytest.raises(TypeError):
        Claims("02_gelu").value("ece-ls", "c", "m", Summary(0.5, 0.0, 1.0, 5), Paper(0.5, "P"))  # type: ignore[misc]


@pytest.mark.parametrize("chapter, error", [
    ("02_gelu.ipynb", ValueError), ("gelu", ValueError), ("notebooks/02_gelu", ValueError), ("", ValueError),
    ("02_Gelu", ValueError), (2, TypeError),
])
def test_chapter_must_be_a_notebook_stem(chapter, error):
    with pytest.raises(error, match="chapter must be"):
        Claims(chapter)


def test_records_are_copies():
    claims = Claims("02_gelu")
    record = claims.value(**claim_kwargs())
    record["verdict"] = "reproduced!"
    claims.records[0]["verdict"] = "edited"
    assert claims.records[0]["verdict"] == "reproduced"


# ------------------------------------------------------------------------------------------------ records, table, show
def full_claims() -> Claims:
    claims = Claims("02_gelu")
    claims.direction(**GELU, ours=experiment.paired_difference([1.0, 1.2, 0.9], [1.5, 1.6, 1.6]))
    claims.value(id="ece-ls", claim="LS ECE", metric="ECE (15 bins)", ours=experiment.summarize([0.02, 0.03, 0.025]),
                 paper=Paper(0.024, "Müller et al. 2019, Table 3 | CIFAR-100"), comparable=False,
                 note="CIFAR-100 ResNet-56 vs an MLP on MNIST-1D")
    claims.direction(id="wide", claim="Wide beats narrow", metric="accuracy, points", expected_sign=1,
                     ours=Summary(0.1, -0.2, 0.4, 5), note="one epoch cannot separate them")
    return claims


def test_records_round_trip_through_json():
    records = full_claims().records
    back = json.loads(json.dumps(records))
    assert back == records
    assert [experiment.validate_record(r) for r in back] == records


@pytest.mark.parametrize("edit, message", [
    (lambda r: r.update(verdict="reproduced"), "verdict is 'reproduced', but its numbers give 'inconclusive'"),
    (lambda r: r.update(comparison="our interval lies above 0"), "comparison is"),
    (lambda r: r["ours"].update(low=0.05), "comparison is|verdict is"),
    (lambda r: r["ours"].update(mean=0.3, low=0.2), "verdict is 'inconclusive', but its numbers give 'reproduced'"),
    (lambda r: r.update(expected_sign=0), "expected_sign must be"),
    (lambda r: r.pop("note"), "a direction record has the keys"),
    (lambda r: r.update(kind="values"), "record\\['kind'\\] must be"),
    (lambda r: r.update(paper={"value": 0.1}), "paper must be"),
    (lambda r: r.update(paper={"value": 0.1, "source": ""}), "source must not be empty"),
    (lambda r: r.update(id="Wide"), "id must be"),
])
def test_validate_record_finds_inconsistent_records(edit, message):
    record = json.loads(json.dumps(full_claims().records[2]))
    edit(record)
    with pytest.raises((ValueError, TypeError), match=message):
        experiment.validate_record(record)


def test_validate_record_refuses_a_value_record_whose_verdict_was_edited():
    record = full_claims().records[1]
    record["verdict"] = "reproduced"
    with pytest.raises(ValueError, match="comparison is"):
        experiment.validate_record(record)
    with pytest.raises(TypeError, match="record must be a dict"):
        experiment.validate_record([record])


def test_table():
    text = experiment.table(full_claims().records)
    lines = text.splitlines()
    assert lines[0] == "| Claim | Metric | Paper | Ours | How they compare | Verdict |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert len(lines) == 5 and text.endswith("\n")
    assert lines[2] == ("| GELU has lower test error than ReLU | test error, points | < 0: -0.27 (Hendrycks & Gimpel "
                        "2016, Table 1, CIFAR-10 median error) | -0.53 [-0.91, -0.15] (n=3) | our interval lies below 0 "
                        "| reproduced |")  # differences -0.5, -0.4, -0.7: half-width 4.3027 · 0.15275 / √3 = 0.38
    assert r"Table 3 \| CIFAR-100" in lines[3]  # a | in a cell is escaped
    assert lines[3].endswith("| not comparable: CIFAR-100 ResNet-56 vs an MLP on MNIST-1D | not comparable |")
    assert "| > 0 | 0.10 [-0.20, 0.40] (n=5) | our interval includes 0; one epoch cannot separate them |" in lines[4]
    assert all(len(re.split(r"(?<!\\)\|", line)) == 8 for line in lines[2:])  # six cells in each row
    assert experiment.table([]) == lines[0] + "\n" + lines[1] + "\n"
    with pytest.raises(TypeError, match="records must be a list"):
        experiment.table("records")


def test_bundle_holds_the_table_and_the_records():
    claims = full_claims()
    bundle = claims.bundle()
    assert set(bundle) == {"text/markdown", "text/plain", experiment.MIME_TYPE}
    assert bundle["text/markdown"] == bundle["text/plain"] == experiment.table(claims.records)
    assert bundle[experiment.MIME_TYPE] == {"chapter": "02_gelu", "records": claims.records}
    json.dumps(bundle)  # the whole bundle is JSON: what a notebook stores
    with pytest.raises(ValueError, match="no claims to show"):
        Claims("02_gelu").bundle()


def test_show_displays_one_bundle_in_ipython(monkeypatch):
    import IPython.display
    from IPython.core.interactiveshell import InteractiveShell

    shown = []
    monkeypatch.setattr(InteractiveShell, "initialized", classmethod(lambda cls: True))
    monkeypatch.setattr(IPython.display, "display", lambda *objs, **kw: shown.append((objs, kw)))
    claims = full_claims()
    claims.show()
    assert shown == [((claims.bundle(),), {"raw": True})]


def test_show_prints_the_table_outside_ipython(capsys):
    claims = full_claims()
    claims.show()
    assert capsys.readouterr().out == experiment.table(claims.records)
