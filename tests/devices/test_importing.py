"""Reading inventory files: CSV and YAML rows with their line numbers, a header that must make sense."""

from __future__ import annotations

import pytest

from netraven_tasks.devices.importing import ImportReport, InventoryFileError, check_rows, read_rows


def rows_of(tmp_path, name: str, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text)
    return read_rows(path)


def test_csv_rows_keep_their_lines_split_tags_and_leave_empty_cells_to_the_defaults(tmp_path):
    rows = rows_of(tmp_path, "d.csv", "\ufeffname,tags,site\n\nr1,core; edge ;,FRA\nr2,,\n")
    assert [(row.line, row.fields) for row in rows] == [
        (3, {"name": "r1", "tags": ["core", "edge"], "site": "FRA"}),
        (4, {"name": "r2", "tags": []}),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("address,site\nr1,FRA\n", "name included"), ("name,colour\nr1,red\n", "colour"),
     ("name,name\nr1,r1\n", "distinct")],
)  # fmt: skip
def test_a_csv_header_that_makes_no_sense_is_refused_as_a_whole(tmp_path, text, fragment):
    with pytest.raises(InventoryFileError, match=fragment):
        rows_of(tmp_path, "d.csv", text)


def test_a_row_with_the_wrong_number_of_fields_is_invalid_with_its_line(tmp_path):
    report = ImportReport()
    assert (
        check_rows(rows_of(tmp_path, "d.csv", "name,site\nr1,FRA,extra\nr2,AMS\n"), report)[0]["name"] == "r2"
    )
    assert report.invalid == [(2, "has 3 fields, the header 2")]


def test_yaml_lists_and_devices_mappings_keep_each_items_line(tmp_path):
    text = "devices:\n  - name: r1\n    tags: core;edge\n  - {name: r2, enabled: false}\n  - just a string\n"
    rows = rows_of(tmp_path, "inventory", text)  # no extension: recognised by its content
    assert [row.line for row in rows] == [2, 4, 5]
    report = ImportReport()
    checked = check_rows(rows, report)
    assert [v["name"] for v in checked] == ["r1", "r2"] and checked[0]["tags"] == ["core", "edge"]
    assert report.invalid == [(5, "must be a mapping of name, address, platform, site, tags")]
    with pytest.raises(InventoryFileError, match="list of devices"):
        rows_of(tmp_path, "d.yaml", "name: r1\n")
    with pytest.raises(InventoryFileError, match="not valid YAML"):
        rows_of(tmp_path, "d.yaml", "- name: [r1\n")
    # Only plain data: a Python tag is a row that cannot be read, never an object built.
    (unsafe,) = rows_of(tmp_path, "d.yaml", "- !!python/object/apply:os.system [id]\n")
    assert unsafe.fields is None and "cannot be read" in (unsafe.problem or "")
