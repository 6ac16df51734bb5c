"""Hot issues (热点问题): reports about one problem in one place, grouped, then ranked by how hot they are.

Clustering (``cluster_reports``): reports are blocked by grid when they have one (a problem in one place
is in one grid); within a block, the distance of two reports is 1 - the cosine of their character 1-3-gram
TF-IDF vectors (title + text, prepared like the classifier's input), set to 1 (never joined) when

- both name places (``places``: estates, roads, villages, schools ... found in the text) and none is
  shared: same complaint template, different place, is another issue;
- they are more than ``max_gap_days`` apart.

Average-linkage agglomerative clustering cuts the tree at ``1 - min_similarity``; reports that name no
place need ``min_similarity + unplaced_margin`` to join (less evidence that it is the same place).

Heat index (``heat``), per issue, documented in docs/BENCHMARKS.md (Hot issues)::

    heat = log1p(reports) + log1p(distinct reporters) + 0.5 * log1p(likes)
           + 0.5 * growth + 0.5 * concentration

``growth`` = log((reports in the window + 1) / (similar reports in the previous window + 1)), clipped
to [0, 2] (a problem that is new or growing); ``concentration`` = the share of the issue's reports in
its most common place (grid, else the place named most): 1 when they all point at one spot. Distinct
reporters count more than one person posting again; likes count where the source has them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

from features.text import prepare_text_expr, redact_pii_expr

# A place name: 2-10 characters ending in a place word (小区, 路, 村, 学校 ...), e.g. 米兰春天, 联丰路.
PLACE = re.compile(
    r"([\u4e00-\u9fa5A-Za-z0-9]{2,10}?"
    r"(?:小区|花园|新村|公寓|大厦|广场|家园|苑|庭|城|园|湾|路|街|大道|巷|弄|村|镇|乡|社区|学校|中学|小学|"
    r"幼儿园|医院|市场|公园|商场|车站|地铁站|工业园|产业园|大学|学院|幢|栋|号楼))"
)
# Words a place match must not start with (a verb or a pronoun glued to the name).
PLACE_NOISE = re.compile(r"^(在|于|到|从|我们|我家|我|你们|他们|这个|那个|这|那|的|和|与|及|对|是|有|住)+")
# The city, district or county in front of a name (A市, A4区经开区, K8县): 洪山公园 is one place whichever
# district a post puts in front of it.
ADMIN_PREFIX = re.compile(r"^.*[市区县省](?=[^市区县省]{3,}$)")
# A name holding one of these characters is a clause, not a place (小区的路, 我们这条街).
NOT_IN_PLACE = re.compile(r"[的了是有和把被很都也就还又个我你他她们这那对从到给让要会能说]")
GENERIC_PLACES = frozenset(
    {"小区", "社区", "公园", "学校", "医院", "市场", "花园", "广场", "本村", "我村", "该村"}
)
ISSUE_COLUMNS: tuple[str, ...] = (
    "issue_id", "rank", "heat", "title", "place", "grid_id", "category", "first_at", "last_at",
    "n_reports", "n_reporters", "likes", "growth", "concentration", "member_ids",
)  # fmt: skip
MEMBER_COLUMNS: tuple[str, ...] = ("issue_id", "event_id", "reported_at", "title", "text")
MEMBER_TEXT_CHARS = 160
# A title that says only how the report came in (随手拍, 市民来电反映问题, 网格巡查上报): the text says more.
GENERIC_TITLE = re.compile(
    r".{0,4}|.{0,6}(上报|来电|反映|诉求|工单|巡查|发现|随手拍|求助|投诉|问题|告警|异常)"
)
# The report's category, finest first, when the log has one (a labelled log, or the classifier's output).
CATEGORY_COLUMNS: tuple[str, ...] = ("leaf_id", "category_l3", "category_l2", "category_l1")


def places(text: str) -> frozenset[str]:
    """Place names in a text, without the district in front (A4区洪山公园 -> 洪山公园), at most the last 6
    characters of each (so 米兰春天G2栋 and 春天G2栋 meet)."""
    found = set()
    for match in PLACE.findall(text or ""):
        name = ADMIN_PREFIX.sub("", PLACE_NOISE.sub("", match))
        if len(name) >= 3 and name not in GENERIC_PLACES and not NOT_IN_PLACE.search(name):
            found.add(name[-6:])
    return frozenset(found)


@dataclass(frozen=True)
class HotIssueParams:
    min_similarity: float = 0.3
    unplaced_margin: float = 0.0
    max_gap_days: float = 30.0
    min_reports: int = 2  # an issue has at least this many reports
    same_category_bonus: float = 0.3  # added to the similarity of two reports of one category (when known)

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.__dict__.items()}


def prepared_texts(reports: pl.DataFrame) -> list[str]:
    title = "title" if "title" in reports.columns else None
    return reports.select(prepare_text_expr(title, "text").fill_null("")).to_series().to_list()


def cluster_reports(reports: pl.DataFrame, params: HotIssueParams | None = None) -> np.ndarray:
    """A cluster label per report (row order); singletons get their own label. Needs ``reported_at`` and
    ``text`` (``title`` and ``grid_id`` when present)."""
    params = params or HotIssueParams()
    n = reports.height
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    texts = prepared_texts(reports)
    vectors = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit_transform(texts)
    named = [places(t) for t in texts]
    seconds = reports["reported_at"].dt.epoch("s").to_numpy().astype(float)
    category = next((c for c in CATEGORY_COLUMNS if c in reports.columns), None)
    categories = reports[category].fill_null("").to_numpy() if category else None
    blocks = (
        reports["grid_id"].fill_null("").to_numpy()
        if "grid_id" in reports.columns
        else np.full(n, "", dtype=object)
    )
    next_label = 0
    for block in np.unique(blocks):
        rows = np.flatnonzero(blocks == block)
        if block == "" and "grid_id" in reports.columns and reports["grid_id"].null_count() < n:
            found = np.arange(len(rows))  # reports without a grid: each alone
        else:
            kinds = categories[rows] if categories is not None else None
            found = _cluster_block(vectors[rows], [named[i] for i in rows], seconds[rows], kinds, params)
        labels[rows] = found + next_label
        next_label += int(found.max()) + 1 if len(found) else 0
    return labels


def _cluster_block(
    vectors: sparse.csr_matrix,
    named: list[frozenset[str]],
    seconds: np.ndarray,
    categories: np.ndarray | None,
    params: HotIssueParams,
) -> np.ndarray:
    n = vectors.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    similarity = (vectors @ vectors.T).toarray()
    if categories is not None:
        known = categories != ""
        same = (categories[:, None] == categories[None, :]) & known[:, None] & known[None, :]
        similarity = similarity + params.same_category_bonus * same
    has_place = np.array([bool(p) for p in named])
    share = np.zeros((n, n), dtype=bool)
    index: dict[str, list[int]] = {}
    for i, found in enumerate(named):
        for name in found:
            index.setdefault(name, []).append(i)
    for members in index.values():
        share[np.ix_(members, members)] = True
    both = has_place[:, None] & has_place[None, :]
    distance = 1.0 - similarity
    distance[both & ~share] = 1.0
    distance[~both] += params.unplaced_margin
    distance[np.abs(seconds[:, None] - seconds[None, :]) > params.max_gap_days * 86_400] = 1.0 + 1e-6
    np.fill_diagonal(distance, 0.0)
    distance = np.clip(distance, 0.0, None)
    model = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - params.min_similarity,
    )
    return model.fit_predict(distance).astype(np.int64)


def hot_issues(
    reports: pl.DataFrame,
    previous: pl.DataFrame | None = None,
    params: HotIssueParams | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Issues of ``reports`` (the window) ranked by heat, and their member reports (redacted).
    ``previous``: the window before, for growth. Optional columns: grid_id, reporter_id, likes,
    category_l1, title."""
    params = params or HotIssueParams()
    reports = reports.with_columns(pl.Series("__cluster", cluster_reports(reports, params)))
    texts = prepared_texts(reports)
    groups = [g for g in reports.group_by("__cluster") if g[1].height >= params.min_reports]
    rows = [_issue(frame, texts) for _, frame in groups]
    if not rows:
        return _empty_issues(), pl.DataFrame(schema=dict.fromkeys(MEMBER_COLUMNS, pl.String))
    issues = pl.DataFrame(rows)
    issues = issues.with_columns(pl.Series("growth", _growth(issues, reports, previous, params)))
    heat = (
        pl.col("n_reports").log1p()
        + pl.col("n_reporters").log1p()
        + 0.5 * pl.col("likes").cast(pl.Float64).log1p()
        + 0.5 * pl.col("growth")
        + 0.5 * pl.col("concentration")
    )
    issues = (
        issues.with_columns(heat.round(4).alias("heat"))
        .sort(["heat", "n_reports", "first_at"], descending=[True, True, False])
        .with_columns(
            pl.int_range(1, pl.len() + 1).alias("rank"),
            pl.format("H{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(4)).alias("issue_id"),
        )
        .select(ISSUE_COLUMNS)
    )
    members = _members(issues, reports)
    return issues, members


def _issue(frame: pl.DataFrame, all_texts: list[str]) -> dict:
    ids = frame["event_id"].cast(pl.String).to_list()
    titles = frame["title"].to_list() if "title" in frame.columns else [None] * frame.height
    texts = frame["text"].fill_null("").to_list()
    named = Counter(p for t in texts for p in places(t))
    for title in titles:  # a place in a title is what the issue is about: it counts thrice
        named.update({p: 3 for p in places(title or "")})
    grid = frame["grid_id"].drop_nulls().mode().sort().to_list()[:1] if "grid_id" in frame.columns else []
    if grid:
        top = frame["grid_id"].value_counts().get_column("count").max() / frame.height
    else:
        top = named.most_common(1)[0][1] / frame.height if named else 0.0
    reporters = frame["reporter_id"].n_unique() if "reporter_id" in frame.columns else frame.height
    likes = int(frame["likes"].fill_null(0).sum()) if "likes" in frame.columns else 0
    category = (
        frame["category_l1"].drop_nulls().mode().sort().to_list()[:1]
        if "category_l1" in frame.columns
        else []
    )
    return {
        "title": _representative(titles, texts),
        "place": named.most_common(1)[0][0] if named else (grid[0] if grid else None),
        "grid_id": grid[0] if grid else None,
        "category": category[0] if category else None,
        "first_at": frame["reported_at"].min(),
        "last_at": frame["reported_at"].max(),
        "n_reports": frame.height,
        "n_reporters": reporters,
        "likes": likes,
        "concentration": round(float(min(top, 1.0)), 4),
        "member_ids": ids,
    }


def _representative(titles: list[str | None], texts: list[str]) -> str:
    """The phrase most like the others: the title (else the first clause) sharing most character
    bigrams with the rest, at most 40 characters."""
    candidates = [
        (
            title
            if title and not GENERIC_TITLE.fullmatch(title)
            else re.split(r"[，。！？；,.!?;]", text, maxsplit=1)[0] or text
        ).strip()[:40]
        for title, text in zip(titles, texts, strict=True)
    ]
    grams = [{c[i : i + 2] for i in range(len(c) - 1)} for c in candidates]
    counts = Counter(g for s in grams for g in s)
    scores = [sum(counts[g] - 1 for g in s) / math.sqrt(len(s) + 1) for s in grams]
    return candidates[int(np.argmax(scores))] if candidates else ""


def _growth(
    issues: pl.DataFrame, reports: pl.DataFrame, previous: pl.DataFrame | None, params: HotIssueParams
) -> list[float]:
    """log((n + 1) / (earlier similar reports + 1)) in [0, 2]; earlier = the previous window's reports
    at least ``min_similarity`` like the issue's centroid (and in its grid, when it has one)."""
    if previous is None or previous.is_empty():
        return [round(min(math.log(n + 1.0), 2.0), 4) for n in issues["n_reports"]]
    current, before = prepared_texts(reports), prepared_texts(previous)
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True).fit(current + before)
    position = {str(e): i for i, e in enumerate(reports["event_id"].cast(pl.String).to_list())}
    now, then = vectorizer.transform(current), vectorizer.transform(before)
    before_grid = previous["grid_id"].to_numpy() if "grid_id" in previous.columns else None
    out = []
    for members, grid, n in issues.select("member_ids", "grid_id", "n_reports").iter_rows():
        centroid = np.asarray(now[[position[m] for m in members]].mean(axis=0))
        centroid /= np.linalg.norm(centroid) or 1.0
        similar = (then @ centroid.T).ravel() >= params.min_similarity
        if grid is not None and before_grid is not None:
            similar &= before_grid == grid
        out.append(round(float(np.clip(math.log((n + 1.0) / (similar.sum() + 1.0)), 0.0, 2.0)), 4))
    return out


def _members(issues: pl.DataFrame, reports: pl.DataFrame) -> pl.DataFrame:
    """The member reports of every issue, personal data redacted and texts cut to MEMBER_TEXT_CHARS."""
    links = issues.select("issue_id", pl.col("member_ids").alias("event_id")).explode("event_id")
    title = pl.col("title") if "title" in reports.columns else pl.lit(None, dtype=pl.String)
    base = reports.select(
        pl.col("event_id").cast(pl.String), "reported_at", title.alias("title"), pl.col("text").fill_null("")
    )
    return (
        links.join(base, on="event_id", how="left")
        .with_columns(
            redact_pii_expr("title").alias("title"),
            redact_pii_expr("text").str.slice(0, MEMBER_TEXT_CHARS).alias("text"),
        )
        .sort("issue_id", "reported_at")
        .select(MEMBER_COLUMNS)
    )


def _empty_issues() -> pl.DataFrame:
    schema = dict.fromkeys(ISSUE_COLUMNS, pl.String) | {
        "rank": pl.Int64,
        "heat": pl.Float64,
        "n_reports": pl.Int64,
        "n_reporters": pl.Int64,
        "likes": pl.Int64,
        "growth": pl.Float64,
        "concentration": pl.Float64,
        "first_at": pl.Datetime("us"),
        "last_at": pl.Datetime("us"),
        "member_ids": pl.List(pl.String),
    }
    return pl.DataFrame(schema=schema)


# ---- scoring against ground truth --------------------------------------------------------------
def bcubed(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """B-cubed precision, recall and F1 (Bagga & Baldwin): per item, the share of its predicted cluster
    that shares its true cluster (precision) and of its true cluster found in its predicted one (recall),
    averaged over items."""
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    if not len(truth):
        return {"bcubed_precision": 0.0, "bcubed_recall": 0.0, "bcubed_f1": 0.0, "items": 0.0}
    pairs = Counter(zip(truth.tolist(), predicted.tolist(), strict=True))
    true_size, pred_size = Counter(truth.tolist()), Counter(predicted.tolist())
    precision = sum(c * c / pred_size[p] for (_, p), c in pairs.items()) / len(truth)
    recall = sum(c * c / true_size[t] for (t, _), c in pairs.items()) / len(truth)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "bcubed_precision": precision,
        "bcubed_recall": recall,
        "bcubed_f1": f1,
        "items": float(len(truth)),
    }
