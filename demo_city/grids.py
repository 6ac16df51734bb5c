"""The demo city's grids: a jittered ~500 m lattice around a fictional centre, with correlated attributes.

The city is round: the ``n_grids`` lattice cells nearest the centre. The old town is in the middle, so
old compounds (老旧小区), old buildings, elderly residents and shops thin out towards the edge.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

CITY_NAME = "示范市"
GRID_SPACING_M = 500.0
CENTRE_LAT, CENTRE_LON = 30.25, 120.15
METRES_PER_DEGREE_LAT = 111_320.0
CENTRAL_DISTRICT = "中山区"
# Outer districts by compass sector, counter-clockwise from east.
SECTOR_DISTRICTS = ("东城区", "北湖区", "西湖区", "南山区")
COMMUNITY_STEMS = (
    "桂花", "红星", "翠苑", "文晖", "和平", "朝晖", "湖滨", "长庆", "新华", "紫荆", "丰潭", "望江", "景芳",
    "采荷", "南苑", "北苑", "东园", "西园", "春晖", "秋涛", "明珠", "金桥", "银杏", "梧桐", "香樟", "兰亭",
    "清泰", "凤凰", "青龙", "白塔", "石桥", "柳营", "杨柳", "荷花", "水月", "云栖", "松木", "竹园", "梅林",
    "枫桥", "锦绣", "华苑", "康乐", "安居", "幸福", "光明", "建设", "胜利", "东风", "向阳", "红旗", "友谊",
    "团结", "育才", "新民", "永安", "长寿", "富春", "钱塘", "滨江", "海棠", "丁香", "芙蓉", "牡丹", "玉泉",
    "星光", "天河", "嘉禾", "绿洲", "晨曦", "太平", "仁和", "德胜", "瑞丰", "庆丰", "万宁", "三元", "四季",
    "五福", "百合", "千岛", "九溪", "龙井", "宝石",
)
OLD_COMMUNITY_SUFFIXES = ("新村", "里", "坊", "")
NEW_COMMUNITY_SUFFIXES = ("花园", "苑", "家园", "")
GRID_COLUMNS = (
    "grid_id", "district", "community", "x_m", "y_m", "lat", "lon", "population", "households",
    "elderly_share", "building_age", "commercial_density", "old_compound",
)


def make_grids(n_grids: int, rng: np.random.Generator) -> pl.DataFrame:
    """``n_grids`` grids with location, district, community and correlated attributes."""
    if n_grids < 1:
        raise ValueError("n_grids must be at least 1")
    rows, cols = _lattice_cells(n_grids, rng)
    x = cols * GRID_SPACING_M + rng.normal(0.0, 60.0, n_grids)
    y = rows * GRID_SPACING_M + rng.normal(0.0, 60.0, n_grids)
    radius = np.hypot(x, y) / max(float(np.hypot(x, y).max()), 1.0)
    attrs = _attributes(radius, rng)
    district = _districts(x, y, radius)
    lat, lon = to_lat_lon(x, y)
    return pl.DataFrame(
        {
            "grid_id": [f"G{i + 1:04d}" for i in range(n_grids)],
            "district": district,
            "community": _communities(rows, cols, district, attrs["old_compound"], rng),
            "x_m": np.round(x, 1),
            "y_m": np.round(y, 1),
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            **attrs,
        }
    ).select(GRID_COLUMNS)


def to_lat_lon(x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local metres east/north of the centre to WGS84 degrees (flat-earth; fine over a city)."""
    lat = CENTRE_LAT + y_m / METRES_PER_DEGREE_LAT
    lon = CENTRE_LON + x_m / (METRES_PER_DEGREE_LAT * math.cos(math.radians(CENTRE_LAT)))
    return lat, lon


def neighbour_table(x_m: np.ndarray, y_m: np.ndarray, radius_m: float = 1.6 * GRID_SPACING_M) -> np.ndarray:
    """Padded (n_grids, max_neighbours) array of neighbour indices within ``radius_m``; -1 pads.

    A grid without neighbours lists itself, so sampling a neighbour always succeeds.
    """
    distance = np.hypot(x_m[:, None] - x_m[None, :], y_m[:, None] - y_m[None, :])
    near = (distance <= radius_m) & (distance > 0)
    isolated = ~near.any(axis=1)
    near[isolated, isolated] = True
    width = int(near.sum(axis=1).max())
    table = np.full((len(x_m), width), -1, dtype=np.int64)
    for i, row in enumerate(near):  # one pass per grid (hundreds), not per event
        found = np.flatnonzero(row)
        table[i, : len(found)] = found
    return table


def lattice_position(x_m: np.ndarray, y_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) lattice index of each grid: texts name the streets between lattice rows/columns."""
    return np.rint(y_m / GRID_SPACING_M).astype(np.int64), np.rint(x_m / GRID_SPACING_M).astype(np.int64)


def _lattice_cells(n_grids: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = math.ceil(math.sqrt(n_grids / math.pi)) + 2
    rows, cols = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1), indexing="ij")
    rows, cols = rows.ravel(), cols.ravel()
    ragged_edge = np.hypot(rows, cols) + rng.uniform(0.0, 0.8, rows.size)
    chosen = np.sort(np.argsort(ragged_edge, kind="stable")[:n_grids])  # sorted: ids run row by row
    return rows[chosen], cols[chosen]


def _attributes(radius: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = radius.size
    old = rng.random(n) < 0.08 + 0.62 * np.exp(-((radius / 0.5) ** 2))
    building_age = np.where(
        old,
        np.clip(rng.normal(33.0, 6.0, n), 20, 60),
        np.clip(20.0 - 14.0 * radius + rng.normal(0.0, 4.0, n), 1, 25),
    )
    elderly = 0.12 + 0.09 * old + 0.002 * (building_age - 15) + rng.normal(0.0, 0.025, n)
    high_street = rng.random(n) < 0.12
    commercial = 0.65 * np.exp(-((radius / 0.45) ** 2)) + 0.3 * rng.beta(2, 5, n) + 0.3 * high_street
    population = (
        np.exp(rng.normal(math.log(4200.0), 0.3, n)) * np.where(old, 1.25, 1.0) * (1 - 0.25 * commercial)
    )
    household_size = np.clip(2.9 - 0.35 * old - 1.5 * (elderly - 0.15) + rng.normal(0, 0.1, n), 1.8, 3.4)
    return {
        "population": np.rint(population).astype(np.int64),
        "households": np.rint(population / household_size).astype(np.int64),
        "elderly_share": np.round(np.clip(elderly, 0.04, 0.45), 3),
        "building_age": np.rint(building_age).astype(np.int64),
        "commercial_density": np.round(np.clip(commercial, 0.0, 1.0), 3),
        "old_compound": old,
    }


def _districts(x: np.ndarray, y: np.ndarray, radius: np.ndarray) -> list[str]:
    sector = np.floor(((np.arctan2(y, x) + np.pi / 4) % (2 * np.pi)) / (np.pi / 2)).astype(np.int64) % 4
    names = np.array(SECTOR_DISTRICTS)[sector]
    return np.where(radius < 0.35, CENTRAL_DISTRICT, names).tolist()


def _communities(
    rows: np.ndarray, cols: np.ndarray, district: list[str], old: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """A community (社区) is a 3 x 3 block of lattice cells within one district; names are unique."""
    keys = [f"{d}|{r // 3}|{c // 3}" for d, r, c in zip(district, rows.tolist(), cols.tolist(), strict=True)]
    first_grid = {key: i for i, key in reversed(list(enumerate(keys)))}
    stems = [COMMUNITY_STEMS[i] for i in rng.permutation(len(COMMUNITY_STEMS))]
    names: dict[str, str] = {}
    for n, key in enumerate(dict.fromkeys(keys)):
        suffixes = OLD_COMMUNITY_SUFFIXES if old[first_grid[key]] else NEW_COMMUNITY_SUFFIXES
        suffix = suffixes[int(rng.integers(len(suffixes)))]
        repeat = n // len(stems)  # only for very large cities: 桂花二社区, 桂花三社区, ...
        names[key] = f"{stems[n % len(stems)]}{suffix}{_ordinal(repeat)}社区"
    return [names[key] for key in keys]


def _ordinal(repeat: int) -> str:
    return "" if repeat == 0 else str(repeat + 1) if repeat > 8 else "二三四五六七八九十"[repeat - 1]
