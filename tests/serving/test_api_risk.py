from __future__ import annotations

import pytest


def risks_of(grid: dict) -> dict[str, tuple[float, int]]:
    return {risk["group"]: (risk["probability"], risk["rank"]) for risk in grid["risks"]}


def test_all_grids_of_the_latest_week_best_rank_first(client):
    response = client.get("/v1/risk")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["week_start"] == "2026-01-12"
    # best rank per grid: G0002 (dispute 1), G0004 (hazard 1), G0001 (hazard 2), G0003 (dispute 2); ties by id
    assert [grid["grid_id"] for grid in body["grids"]] == ["G0002", "G0004", "G0001", "G0003"]
    g0001 = body["grids"][2]
    assert risks_of(g0001) == {"dispute": (pytest.approx(0.10), 4), "hazard": (pytest.approx(0.50), 2)}
    assert g0001["district"] == "朝阳区"
    assert g0001["risks"][0]["model_version"] == "5"


def test_chosen_grids_in_request_order(client):
    response = client.get(
        "/v1/risk", params=[("grid_id", "G0003"), ("grid_id", "G0001"), ("grid_id", "G0003")]
    )

    assert response.status_code == 200, response.text
    grids = response.json()["grids"]
    assert [grid["grid_id"] for grid in grids] == ["G0003", "G0001"]
    assert risks_of(grids[0]) == {"dispute": (pytest.approx(0.40), 2), "hazard": (pytest.approx(0.30), 3)}


def test_top_and_group(client):
    response = client.get("/v1/risk", params={"group": "hazard", "top": 2})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["group"], body["top"]) == ("hazard", 2)
    assert [(g["grid_id"], risks_of(g)["hazard"][1]) for g in body["grids"]] == [("G0004", 1), ("G0001", 2)]
    assert all(len(grid["risks"]) == 1 for grid in body["grids"])


def test_top_without_group_keeps_the_top_of_each_group(client):
    grids = client.get("/v1/risk", params={"top": 1}).json()["grids"]

    assert {grid["grid_id"]: set(risks_of(grid)) for grid in grids} == {
        "G0002": {"dispute"},
        "G0004": {"hazard"},
    }


def test_unknown_grids_are_404_naming_them(client, assert_error):
    response = client.get("/v1/risk", params=[("grid_id", "G0001"), ("grid_id", "G9999"), ("grid_id", "X")])

    error = assert_error(response, 404, "unknown_grid", "grid_id")
    assert error["unknown_ids"] == ["G9999", "X"]
    assert "G9999" in error["message"]


@pytest.mark.parametrize(("params", "field"), [({"top": 0}, "top"), ({"top": "many"}, "top")])
def test_bad_query_parameters_are_422(client, assert_error, params, field):
    assert_error(client.get("/v1/risk", params=params), 422, "validation_error", field)


@pytest.mark.parametrize("path", ["/v1/risk", "/v1/risk/G0001/history"])
def test_an_unknown_group_is_422_naming_the_sites_groups(client, assert_error, path):
    error = assert_error(client.get(path, params={"group": "fire"}), 422, "unknown_group", "group")

    assert error["valid_groups"] == ["dispute", "hazard"]
    assert "'fire'" in error["message"] and "dispute, hazard" in error["message"]
