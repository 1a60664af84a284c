"""What the backup pages compute without a server: the rows of a diff with their line numbers, the
label of a version against the previous one, the raw download's file name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from api.ui.backup_pages import change_label, download_name
from api.ui.diff_view import DiffRow, diff_rows
from netraven_tasks.backups.queries import HistoryForbidden, VersionRow, readable_history


def test_diff_rows_number_each_side_from_the_hunk_headers():
    lines = [
        "--- r1@aaaaaaaaaaaa\n", "+++ r1@bbbbbbbbbbbb\n", "@@ -3,3 +3,3 @@\n",
        " interface Gi0/1\n", "--- a comment line, removed\n", "+++ one added\n", " end\n",
        "@@ -40 +40,2 @@\n", " x\n", "+y\n", "\\ No newline at end of file\n",
    ]  # fmt: skip
    assert diff_rows(lines) == [
        DiffRow("hunk", None, None, "@@ -3,3 +3,3 @@"),
        DiffRow("context", 3, 3, "interface Gi0/1"),
        DiffRow("removed", 4, None, "-- a comment line, removed"),
        DiffRow("added", None, 4, "++ one added"),
        DiffRow("context", 5, 5, "end"),
        DiffRow("hunk", None, None, "@@ -40 +40,2 @@"),
        DiffRow("context", 40, 40, "x"),
        DiffRow("added", None, 41, "y"),
        DiffRow("note", None, None, "\\ No newline at end of file"),
    ]


def test_an_empty_diff_has_no_rows():
    assert diff_rows([]) == []


VERSION = VersionRow(
    sha256="b" * 64, size_bytes=10, changed=True, lines_added=3, lines_removed=1, driver="file",
    created_at=datetime(2026, 12, 4, tzinfo=UTC), job_log_id=None, launched_by=None, previous_sha256="a" * 64,
)  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "label"),
    [
        ({}, "+3 \u22121"),
        ({"previous_sha256": None, "lines_added": None, "lines_removed": None}, "first"),
        ({"changed": False, "lines_added": 0, "lines_removed": 0}, "unchanged"),
        ({"lines_added": None, "lines_removed": None}, "—"),  # stored before the counts were kept
        ({"lines_added": None, "lines_removed": None, "previous_sha256": "b" * 64}, "unchanged"),
    ],
)
def test_a_version_is_labelled_against_the_previous_one(changes, label):
    assert change_label(replace(VERSION, **changes)) == label


@pytest.mark.parametrize(
    ("device", "name"),
    [
        ("core-rtr-01", "core-rtr-01-0123456789ab.cfg"),
        ("fe80::1", "fe80__1-0123456789ab.cfg"),
        ("[2001:db8::1]", "_2001_db8__1_-0123456789ab.cfg"),
        ('r1"; filename=x', "r1___filename_x-0123456789ab.cfg"),
    ],
)
def test_the_raw_download_is_named_after_the_device_with_only_safe_characters(device, name):
    assert download_name(device, "0123456789ab" + "c" * 52) == name


def test_only_admins_read_a_history_other_than_their_own():
    assert readable_history(7, is_admin=True, owner=None) is None  # the shared history
    assert readable_history(7, is_admin=True, owner=9) == 9
    assert readable_history(9, is_admin=False, owner=None) == 9
    assert readable_history(9, is_admin=False, owner=9) == 9
    with pytest.raises(HistoryForbidden, match="only admins"):
        readable_history(9, is_admin=False, owner=7)
