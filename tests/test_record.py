"""One Record through every stage: a rejection is stored on the record and written as the columns a rejects file
has always had; reading a row back gives the same record."""

from __future__ import annotations

import pytest

from wizevol.record import Record, Rejection, drop

CHILD = Record(id="seed-00001-r1", instruction="Sort a list in place.", round=1, method="add_constraints",
               parent_id="seed-00001", root_id="seed-00001", source={"id": "t-1"})


@pytest.mark.parametrize("rejection,columns", [
    (Rejection("rule", "refusal", "response contains 'sorry'", "response"),
     {"rule": "refusal", "reason": "response contains 'sorry'", "stage": "response"}),
    (Rejection("failed", "respond", "InternalServerError: 500 (after 3 attempts)"),
     {"stage": "respond", "error": "InternalServerError: 500 (after 3 attempts)"}),
    (Rejection("filter", "near_dup", "near-duplicate of x", details={"duplicate_of": "x"}),
     {"filter": "near_dup", "reason": "near-duplicate of x", "details": {"duplicate_of": "x"}}),
], ids=["rule", "failed", "filter"])
def test_a_rejection_is_written_as_its_columns_and_read_back(rejection, columns):
    row = CHILD.rejected(rejection).to_json()
    assert {k: row[k] for k in columns} == columns
    assert Record.from_json(row) == CHILD.rejected(rejection)
    assert "rejection" not in row


def test_a_kept_record_has_no_rejection_columns_and_drop_is_the_verdict():
    row = CHILD.to_json()
    assert not {"rule", "reason", "error", "filter"} & set(row) and row["source"] == {"id": "t-1"}
    assert Record.from_json(row).rejection is None
    assert drop("too short", words=3) == (False, "too short", {"words": 3})
    child = CHILD.rejected(Rejection("rule", "empty", "x", "evolve")).evolve_into("Sort.", 2, "complexity")
    assert child.rejection is None and child.source == {"id": "t-1"}  # a child starts clean, keeps the seed's fields
