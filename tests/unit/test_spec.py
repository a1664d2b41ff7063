from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from edge.spec.loader import (
    TMF669,
    TMF680,
    VENDORED,
    SpecError,
    check,
    is_list_operation,
    list_parameter_names,
    load_document,
    normalise,
    official_document,
    spec_path,
)

OFFICIAL_SHA256 = "0a499572400f7d646227a31d4437e8a897330057f8e4555f96babe453fb25698"


def test_vendored_document_is_the_official_file_byte_for_byte() -> None:
    assert hashlib.sha256(spec_path().read_bytes()).hexdigest() == OFFICIAL_SHA256


def test_official_document_is_valid_swagger_2() -> None:
    doc = official_document()
    assert doc["swagger"] == "2.0"
    assert doc["info"]["version"] == "4.0.0"


def test_normalise_media_types_drop_the_charset() -> None:
    spec = normalise(official_document(), base_path="/x/v4")
    assert spec["consumes"] == ["application/json"]
    assert spec["produces"] == ["application/json"]
    assert spec["basePath"] == "/x/v4"
    assert "host" not in spec


def test_normalise_rejects_negative_paging() -> None:
    spec = normalise(official_document())
    params = {p["name"]: p for p in spec["paths"]["/queryProductRecommendation"]["get"]["parameters"]}
    assert params["offset"]["minimum"] == 0
    assert params["limit"]["minimum"] == 0


def test_normalise_accepts_aborted_without_trailing_space_and_keeps_the_original() -> None:
    enum = normalise(official_document())["definitions"]["ProductStatusType"]["enum"]
    assert "aborted " in enum and "aborted" in enum


def test_normalise_types_validfor_on_create() -> None:
    spec = normalise(official_document())
    assert spec["definitions"]["QueryProductRecommendation_Create"]["properties"]["validFor"] == {
        "$ref": "#/definitions/TimePeriod",
        "description": "The period in which the queryProductRecommendation is valid",
    }


def test_normalise_does_not_touch_its_input() -> None:
    doc = official_document()
    before = copy.deepcopy(doc)
    normalise(doc, base_path="/a")
    assert doc == before


def test_list_parameter_names() -> None:
    assert list_parameter_names(official_document()) == {"fields", "offset", "limit"}


def test_a_broken_document_fails_to_load(tmp_path: Path) -> None:
    broken = official_document()
    broken["paths"]["/queryProductRecommendation"]["get"]["responses"] = "nope"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    with pytest.raises(SpecError, match="not a valid OpenAPI document"):
        load_document(path)


def test_a_non_json_document_fails_to_load(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{nope")
    with pytest.raises(SpecError, match="cannot read"):
        load_document(path)


def test_check_refuses_a_non_object() -> None:
    with pytest.raises(SpecError):
        check([1, 2])


def test_normalise_declares_partial_content_on_the_list() -> None:
    responses = normalise(official_document())["paths"]["/queryProductRecommendation"]["get"]["responses"]
    assert responses["206"]["schema"] == responses["200"]["schema"]
    assert responses["206"]["headers"] == responses["200"]["headers"]


def test_every_vendored_document_has_its_licence_and_loads() -> None:
    for document in VENDORED:
        assert (document.path.parent / "LICENSE").is_file(), document.folder
        assert document.normalised("/x")["basePath"] == "/x"


def test_a_documents_own_fixes_are_declared_beside_it() -> None:
    assert TMF680.fixes_path.parent == TMF680.path.parent
    assert [op["op"] for op in TMF680.fixes()] == ["test", "add", "copy"]


def test_family_fixes_only_for_a_document_that_is_not_vendored() -> None:
    other = official_document()
    other["info"]["version"] = "4.0.1"
    enum = normalise(other)["definitions"]["ProductStatusType"]["enum"]
    assert "aborted" not in enum and "aborted " in enum
    assert normalise(other)["consumes"] == ["application/json"]


def test_fixes_that_no_longer_fit_the_document_fail_loudly() -> None:
    changed = official_document()
    changed["definitions"]["ProductStatusType"]["enum"][-1] = "aborted"  # the quirk is gone
    with pytest.raises(SpecError, match="fixes do not apply"):
        normalise(changed)


def test_every_paging_get_declares_partial_content() -> None:
    spec = normalise(official_document())
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if is_list_operation(method, operation):
                assert "206" in operation["responses"], path


def test_tmf669_is_vendored_verbatim_and_its_patch_takes_merge_patch() -> None:
    assert hashlib.sha256(TMF669.path.read_bytes()).hexdigest() == (
        "76de706c1abdb6d8870e585a003a9e2af2d2e88ef84b92be425fe8683c492f5c")
    assert (TMF669.path.parent / "LICENSE").read_bytes() == (TMF680.path.parent / "LICENSE").read_bytes()
    raw = TMF669.raw()
    assert "consumes" not in raw["paths"]["/partyRole/{id}"]["patch"]  # the document's omission
    spec = TMF669.normalised("/tmf-api/partyRoleManagement/v4")
    assert spec["paths"]["/partyRole/{id}"]["patch"]["consumes"] == ["application/merge-patch+json", "application/json"]
    assert spec["consumes"] == ["application/json"] and "host" not in spec
    assert "206" in spec["paths"]["/partyRole"]["get"]["responses"]
    assert normalise(raw)["paths"]["/partyRole/{id}"]["patch"]["consumes"][0] == "application/merge-patch+json"


def test_tmf669_fixes_fail_loudly_when_the_patch_operation_changes() -> None:
    changed = TMF669.raw()
    changed["paths"]["/partyRole/{id}"]["patch"]["operationId"] = "updatePartyRole"
    with pytest.raises(SpecError, match="fixes do not apply"):
        normalise(changed)
