"""Experiments over seeds: intervals, paired differences, verdicts, and each chapter's record of its claims.

A chapter runs each arm of an experiment over the same seeds, summarises a metric by its mean and a Student-t
interval, and compares two arms by their paired differences (one difference per seed):

    d_i  = a_i - b_i                                   (same seed i for both arms)
    mean = (1/n) Σ d_i,   s² = 1/(n-1) Σ (d_i - mean)²
    interval = mean ± t_{n-1, (1+confidence)/2} · s / √n

A paper's claim "a is lower than b" is then *reproduced* when the whole interval lies below 0, *contradicted* when
it lies above 0, and *inconclusive* when it contains 0 (touching 0 counts as containing it). A claim about a value
is *reproduced* when the paper's number lies inside our interval and *differs* otherwise, or is *not comparable*
when our set-up cannot measure what the paper measured (another data set, model or scale), which the claim says.

`Claims` collects a chapter's claims; `Claims.show()` displays the table "paper vs ours" and embeds the records as
JSON in the same output (MIME type `MIME_TYPE`), from which `python tests/nbtools.py reproductions` gathers the
book's Reproductions page and book/reproductions.json.

Example:

    from mlbits_lite import experiment

    gelu_err = [12.1, 11.8, 12.4, 11.9, 12.0]   # test error (points) over five seeds
    relu_err = [12.6, 12.3, 12.5, 12.4, 12.9]   # the same five seeds
    claims = experiment.Claims("02_gelu")
    claims.direction(id="gelu-vs-relu", claim="GELU has lower test error than ReLU", metric="test error, points",
                     ours=experiment.paired_difference(gelu_err, relu_err), expected_sign=-1,
                     paper=experiment.Paper(-0.27, "Hendrycks & Gimpel 2016, Table 1, CIFAR-10, GELU - ReLU"))
    claims.show()   # | Claim | Metric | Paper | Ours | How they compare | Verdict |  ...  | reproduced |
"""
from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._validate import describe_value, require_bool, require_in_range, require_int, require_number

__all__ = [
    "MIME_TYPE",
    "VERDICTS",
    "Summary",
    "Paper",
    "Claims",
    "summarize",
    "paired_difference",
    "verdict",
    "table",
    "validate_record",
]

MIME_TYPE = "application/vnd.mlbits.claims+json"
"""The MIME type under which `Claims.show()` embeds {"chapter": stem, "records": [record, ...]} in its output."""

VERDICTS = ("reproduced", "contradicted", "inconclusive", "differs", "not comparable")
"""Every verdict: the first three for direction claims, "reproduced", "differs", "not comparable" for values."""

_CHAPTER = re.compile(r"\d\d_[a-z0-9]+(?:_[a-z0-9]+)*")  # a notebook stem: 02_gelu, 03_huber_smooth_l1
_CLAIM_ID = re.compile(r"[a-z0-9]+(?:[-_.][a-z0-9]+)*")  # gelu-vs-relu, ece-ls


# ------------------------------------------------------------------------------------------------ numbers
def _fixed(x: float, decimals: int) -> str:
    text = f"{x:.{decimals}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text  # no "-0.0"


def _format_interval(mean: float, low: float, high: float, n: int) -> str:
    """'-2.5 [-3.6, -1.4] (n=5)': as many decimals as give the interval's half-width two significant digits."""
    half = (high - low) / 2
    if half > 1e-9 * abs(mean):  # else the values were equal up to rounding
        decimals = min(max(1 - math.floor(math.log10(half)), 0), 12)
        shown = [_fixed(v, decimals) for v in (mean, low, high)]
    else:  # all values equal: three significant digits
        shown = [f"{v:.3g}" for v in (mean, low, high)]
    return f"{shown[0]} [{shown[1]}, {shown[2]}] (n={n})"


@dataclass(frozen=True)
class Summary:
    """A mean with its confidence interval [low, high] over n values (seeds).

    Args:
        mean: The mean of the values.
        low: The interval's lower end (``low <= mean``).
        high: The interval's upper end (``mean <= high``).
        n: How many values: a positive int.
    """

    mean: float
    low: float
    high: float
    n: int

    def __post_init__(self) -> None:
        for name in ("mean", "low", "high"):
            object.__setattr__(self, name, require_number(name, getattr(self, name)))
        n = require_int("n", self.n)
        if n < 1:
            raise ValueError(f"n must be a positive int, got {n}")
        object.__setattr__(self, "n", n)
        if not self.low <= self.mean <= self.high:
            raise ValueError(f"an interval needs low <= mean <= high, got low={self.low}, mean={self.mean}, "
                             f"high={self.high}")

    def __str__(self) -> str:
        return _format_interval(self.mean, self.low, self.high, self.n)

    def to_dict(self) -> dict[str, Any]:
        """{"mean", "low", "high", "n"}: the form a record stores."""
        return {"mean": self.mean, "low": self.low, "high": self.high, "n": self.n}


@dataclass(frozen=True)
class Paper:
    """A paper's number and where it stands, e.g. ``Paper(-0.27, "Hendrycks & Gimpel 2016, Table 1, ...")``.

    Args:
        value: The number as the paper reports it, in the claim's metric.
        source: Paper, table or figure, and row: enough to find the number again.
    """

    value: float
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", require_number("value", self.value))
        object.__setattr__(self, "source", _require_text("source", self.source))

    def to_dict(self) -> dict[str, Any]:
        """{"value", "source"}: the form a record stores."""
        return {"value": self.value, "source": self.source}


def _require_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {describe_value(value)}")
    if not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value.strip()


def _as_values(name: str, values: Any) -> np.ndarray:
    """The values as a 1-D float64 array: from a list, tuple, NumPy array or tensor of finite real numbers."""
    if isinstance(values, torch.Tensor):
        if values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must hold real numbers, got a tensor of dtype {values.dtype}")
        array = values.detach().cpu().to(torch.float64).numpy()
    elif isinstance(values, np.ndarray):
        if values.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold real numbers, got an array of dtype {values.dtype}")
        array = values.astype(np.float64)
    elif isinstance(values, (list, tuple)):
        items = []
        for i, v in enumerate(values):
            if isinstance(v, torch.Tensor) and v.ndim == 0 and not v.is_complex() and v.dtype != torch.bool:
                v = v.item()
            if isinstance(v, (list, tuple, np.ndarray, torch.Tensor)):
                raise ValueError(f"{name} must be 1-D (one number per seed), but {name}[{i}] is {describe_value(v)}")
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name}[{i}] must be a real number, got {describe_value(v)}")
            items.append(float(v))
        array = np.asarray(items, dtype=np.float64)
    else:
        raise TypeError(f"{name} must be a list, tuple, NumPy array or tensor of numbers, got {describe_value(values)}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one number per seed), got shape {tuple(array.shape)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers, got {array.tolist()}")
    if array.size < 2:
        raise ValueError(f"{name} needs at least 2 values for an interval, got {array.size}")
    return array


def _require_confidence(confidence: Any) -> float:
    return require_in_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)


def summarize(values: Any, confidence: float = 0.95) -> Summary:
    """The mean of ``values`` with a two-sided Student-t confidence interval.

    interval = mean ± t_{n-1, (1+confidence)/2} · s / √n, with s the sample standard deviation (n-1 in the
    denominator). When every value is equal the interval is the single point [mean, mean].

    Args:
        values: One number per seed: a list, tuple, 1-D NumPy array or 1-D tensor of at least 2 finite numbers.
        confidence: The interval's coverage, in (0, 1).

    Returns:
        A ``Summary(mean, low, high, n)``.
    """
    confidence = _require_confidence(confidence)
    x = _as_values("values", values)
    from scipy import stats  # imported here: importing scipy.stats takes a second

    n = x.size
    mean = float(x.mean())
    half = float(stats.t.ppf((1 + confidence) / 2, df=n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Summary(mean, min(mean - half, mean), max(mean + half, mean), n)


def paired_difference(a: Any, b: Any, confidence: float = 0.95) -> Summary:
    """Summary of the differences a_i - b_i, where a_i and b_i come from the same seed i.

    Pairing removes what the two arms share on a seed (initialisation, data order), so the interval is usually much
    narrower than comparing the two means' intervals.

    Args:
        a: One number per seed for the first arm (same forms as ``summarize``'s ``values``).
        b: One number per seed for the second arm, in the same seed order and of the same length as ``a``.
        confidence: The interval's coverage, in (0, 1).

    Returns:
        ``summarize(a - b, confidence)``: negative when ``a`` is lower.
    """
    confidence = _require_confidence(confidence)
    x, y = _as_values("a", a), _as_values("b", b)
    if x.size != y.size:
        raise ValueError(f"a and b must hold one value per seed for the same seeds, got {x.size} and {y.size} values")
    return summarize(x - y, confidence)


def _require_sign(expected_sign: Any) -> int:
    sign = require_int("expected_sign", expected_sign)
    if sign not in (1, -1):
        raise ValueError(f"expected_sign must be +1 (the paper's difference is positive) or -1, got {sign}")
    return sign


def _require_summary(name: str, value: Any) -> Summary:
    if not isinstance(value, Summary):
        raise TypeError(f"{name} must be an experiment.Summary (from summarize or paired_difference), "
                        f"got {describe_value(value)}")
    return value


def verdict(difference: Summary, expected_sign: int) -> str:
    """Whether a difference's interval supports the paper's direction.

    Args:
        difference: A ``Summary`` of differences, typically from ``paired_difference(a, b)``.
        expected_sign: The sign of a - b that the paper claims: -1 ("a is lower") or +1 ("a is higher").

    Returns:
        "reproduced" when the interval excludes 0 on the paper's side, "contradicted" when it excludes 0 on the other
        side, and "inconclusive" when it contains or touches 0.
    """
    difference = _require_summary("difference", difference)
    sign = _require_sign(expected_sign)
    low, high = sign * difference.low, sign * difference.high  # flipped so that the paper's side is > 0
    low, high = min(low, high), max(low, high)
    if low > 0:
        return "reproduced"
    if high < 0:
        return "contradicted"
    return "inconclusive"


# ------------------------------------------------------------------------------------------------ records
def _direction_record(id: str, claim: str, metric: str, ours: Summary, expected_sign: int, paper: Paper | None,
                      note: str | None) -> dict[str, Any]:
    if ours.low > 0:
        comparison = "our interval lies above 0"
    elif ours.high < 0:
        comparison = "our interval lies below 0"
    else:
        comparison = "our interval includes 0"
    return {"id": id, "claim": claim, "metric": metric, "kind": "direction", "expected_sign": expected_sign,
            "ours": ours.to_dict(), "paper": paper.to_dict() if paper else None, "comparison": comparison,
            "verdict": verdict(ours, expected_sign), "note": note}


def _value_record(id: str, claim: str, metric: str, ours: Summary, paper: Paper, comparable: bool,
                  note: str | None) -> dict[str, Any]:
    if not comparable:
        comparison, result = f"not comparable: {note}", "not comparable"
    elif ours.low <= paper.value <= ours.high:
        comparison, result = "the paper's value lies inside our interval", "reproduced"
    elif paper.value < ours.low:
        comparison, result = "ours is higher", "differs"
    else:
        comparison, result = "ours is lower", "differs"
    return {"id": id, "claim": claim, "metric": metric, "kind": "value", "ours": ours.to_dict(),
            "paper": paper.to_dict(), "comparison": comparison, "verdict": result, "note": note}


def validate_record(record: Any) -> dict[str, Any]:
    """Check that a record (e.g. read back from JSON) is well formed and its comparison and verdict follow from its
    numbers; return it.

    Args:
        record: A dict as made by ``Claims.direction`` or ``Claims.value``.

    Returns:
        A copy of ``record``, when it is exactly what the toolkit makes from the same inputs; otherwise a ValueError
        (or TypeError) names the record and what is wrong.
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"record must be a dict, got {describe_value(record)}")
    kind = record.get("kind")
    keys = {"id", "claim", "metric", "kind", "ours", "paper", "comparison", "verdict", "note"}
    keys |= {"expected_sign"} if kind == "direction" else set()
    if kind not in ("direction", "value"):
        raise ValueError(f"record['kind'] must be 'direction' or 'value', got {kind!r}")
    if set(record) != keys:
        raise ValueError(f"a {kind} record has the keys {sorted(keys)}, got {sorted(record)}")
    label = f"record {record['id']!r}"
    if not isinstance(record["ours"], Mapping) or set(record["ours"]) != {"mean", "low", "high", "n"}:
        raise ValueError(f"{label}: ours must be {{mean, low, high, n}}, got {record['ours']!r}")
    paper = record["paper"]
    if paper is not None and (not isinstance(paper, Mapping) or set(paper) != {"value", "source"}):
        raise ValueError(f"{label}: paper must be {{value, source}} or null, got {paper!r}")
    inputs = dict(id=record["id"], claim=record["claim"], metric=record["metric"], ours=Summary(**record["ours"]),
                  paper=Paper(**paper) if paper is not None else None, note=record["note"])
    if kind == "direction":
        rebuilt = Claims._direction(**inputs, expected_sign=record["expected_sign"])
    else:
        rebuilt = Claims._value(**inputs, comparable=record["verdict"] != "not comparable")
    wrong = [f"{key} is {record[key]!r}, but its numbers give {rebuilt[key]!r}" for key in rebuilt
             if rebuilt[key] != record[key]]
    if wrong:
        raise ValueError(f"{label}: " + "; ".join(wrong))
    return dict(record)


# ------------------------------------------------------------------------------------------------ the table
def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")  # one line; a | would end the cell


def _paper_cell(record: Mapping[str, Any]) -> str:
    paper = record["paper"]
    number = f"{paper['value']:g} ({paper['source']})" if paper else ""
    if record["kind"] == "value":
        return number
    side = "> 0" if record["expected_sign"] > 0 else "< 0"
    return f"{side}: {number}" if paper else side


def table(records: Sequence[Mapping[str, Any]]) -> str:
    """The markdown table "paper vs ours" of a list of records, one row per claim with its verdict.

    Args:
        records: Records as made by ``Claims`` (or read back from JSON), in the order to show them.

    Returns:
        The table as markdown text, ending in a newline.
    """
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise TypeError(f"records must be a list of records, got {describe_value(records)}")
    rows = ["| Claim | Metric | Paper | Ours | How they compare | Verdict |", "|---|---|---|---|---|---|"]
    for r in map(validate_record, records):
        ours = _format_interval(**r["ours"])
        compared = r["comparison"] + (f"; {r['note']}" if r["note"] and r["verdict"] != "not comparable" else "")
        cells = [r["claim"], r["metric"], _paper_cell(r), ours, compared, r["verdict"]]
        rows.append("| " + " | ".join(map(_cell, cells)) + " |")
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------------ a chapter's claims
class Claims:
    """A chapter's claims: each a number of ours beside the paper's, with a verdict computed from the numbers.

    Args:
        chapter: The chapter's notebook stem, e.g. "02_gelu".
    """

    def __init__(self, chapter: str) -> None:
        if not isinstance(chapter, str):
            raise TypeError(f"chapter must be a str, got {describe_value(chapter)}")
        if not _CHAPTER.fullmatch(chapter):
            raise ValueError(f"chapter must be the chapter's notebook stem, such as '02_gelu', got {chapter!r}")
        self.chapter = chapter
        self._records: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"Claims({self.chapter!r}, {len(self._records)} claims)"

    def __len__(self) -> int:
        return len(self._records)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The records so far, in the order they were made (copies)."""
        return [dict(r) for r in self._records]

    @staticmethod
    def _common(id: Any, claim: Any, metric: Any, ours: Any, note: Any) -> tuple[str, str, str, Summary, str | None]:
        if not isinstance(id, str):
            raise TypeError(f"id must be a str, got {describe_value(id)}")
        if not _CLAIM_ID.fullmatch(id):
            raise ValueError(f"id must be a short lowercase label such as 'gelu-vs-relu', got {id!r}")
        note = None if note is None else _require_text("note", note)
        return id, _require_text("claim", claim), _require_text("metric", metric), _require_summary("ours", ours), note

    @staticmethod
    def _direction(*, id: Any, claim: Any, metric: Any, ours: Any, expected_sign: Any, paper: Any,
                   note: Any) -> dict[str, Any]:
        id, claim, metric, ours, note = Claims._common(id, claim, metric, ours, note)
        sign = _require_sign(expected_sign)
        if paper is not None:
            if not isinstance(paper, Paper):
                raise TypeError(f"paper must be an experiment.Paper or None, got {describe_value(paper)}")
            if paper.value * sign <= 0:
                raise ValueError(f"paper.value {paper.value:g} must have the sign of expected_sign ({sign:+d}): "
                                 f"the paper's number is the difference it reports")
        return _direction_record(id, claim, metric, ours, sign, paper, note)

    @staticmethod
    def _value(*, id: Any, claim: Any, metric: Any, ours: Any, paper: Any, comparable: Any,
               note: Any) -> dict[str, Any]:
        id, claim, metric, ours, note = Claims._common(id, claim, metric, ours, note)
        if not isinstance(paper, Paper):
            raise TypeError(f"paper must be an experiment.Paper (a value claim compares with a paper's number), "
                            f"got {describe_value(paper)}")
        if not require_bool("comparable", comparable) and note is None:
            raise ValueError("note must say why the paper's number is not comparable when comparable=False")
        return _value_record(id, claim, metric, ours, paper, comparable, note)

    def _add(self, record: dict[str, Any]) -> dict[str, Any]:
        if any(r["id"] == record["id"] for r in self._records):
            raise ValueError(f"id {record['id']!r} is already a claim of {self.chapter}: ids are unique in a chapter")
        self._records.append(record)
        return dict(record)

    def direction(self, *, id: str, claim: str, metric: str, ours: Summary, expected_sign: int,
                  paper: Paper | None = None, note: str | None = None) -> dict[str, Any]:
        """Record a claim that one arm beats another: ours is the paired difference a - b over seeds.

        Args:
            id: A short lowercase label, unique in the chapter, e.g. "gelu-vs-relu".
            claim: The paper's claim in words, e.g. "GELU has lower test error than ReLU".
            metric: What the difference is measured in, e.g. "test error, points".
            ours: ``paired_difference(a, b)`` over the same seeds.
            expected_sign: The sign of a - b the paper claims: -1 or +1.
            paper: The paper's difference and its source, when it reports one (its sign must be expected_sign).
            note: Optional: what limits the comparison, or what would test the claim at our scale.

        Returns:
            The record (a copy), with its verdict ``verdict(ours, expected_sign)``.
        """
        return self._add(self._direction(id=id, claim=claim, metric=metric, ours=ours, expected_sign=expected_sign,
                                         paper=paper, note=note))

    def value(self, *, id: str, claim: str, metric: str, ours: Summary, paper: Paper, comparable: bool = True,
              note: str | None = None) -> dict[str, Any]:
        """Record a claim about a value: ours is a summary over seeds, beside the paper's number.

        Args:
            id: A short lowercase label, unique in the chapter, e.g. "ece-ls".
            claim: The claim in words.
            metric: The metric and its unit, e.g. "ECE (15 bins)".
            ours: ``summarize(values)`` over seeds.
            paper: The paper's number and its source.
            comparable: False when our set-up cannot measure what the paper measured; then ``note`` says why.
            note: Why the numbers are not comparable (required when ``comparable`` is False), or any caveat.

        Returns:
            The record (a copy): "reproduced" when the paper's value lies in our interval, "differs" when it does
            not, "not comparable" when ``comparable`` is False.
        """
        return self._add(self._value(id=id, claim=claim, metric=metric, ours=ours, paper=paper,
                                     comparable=comparable, note=note))

    def bundle(self) -> dict[str, Any]:
        """The MIME bundle ``show()`` displays: the table as text/markdown and text/plain, the records as JSON."""
        if not self._records:
            raise ValueError(f"{self.chapter} has no claims to show: add them with direction() or value() first")
        text = table(self._records)
        return {"text/markdown": text, "text/plain": text,
                MIME_TYPE: {"chapter": self.chapter, "records": self.records}}

    def show(self) -> None:
        """Display the table "paper vs ours" and embed the records (JSON, ``MIME_TYPE``) in the same output.

        Call it once the chapter's claims are made, and again after adding more: the last output holds them all.
        Outside IPython it prints the table.
        """
        bundle = self.bundle()
        from IPython.core.interactiveshell import InteractiveShell

        if not InteractiveShell.initialized():
            print(bundle["text/plain"], end="")
            return
        from IPython.display import display

        display(bundle, raw=True)
