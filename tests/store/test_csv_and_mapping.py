"""Reading messy CSV, neutralising formulas, mapping columns to fields: no database."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from ccpbx.errors import InvalidInput
from ccpbx.store.csvfile import CsvReader
from ccpbx.store.csvwrite import neutralise
from ccpbx.store.mapping import parse_map_options, plan
from ccpbx.store.progress import Progress
from ccpbx.store.rows import RowError, convert


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_utf8_bom_is_not_part_of_the_first_column(tmp_path: Path) -> None:
    """A BOM written by Excel does not end up in the first header name."""
    path = write(tmp_path, "\ufeffphone,name\n2125550123,Zoë\n".encode())
    with CsvReader(path) as reader:
        assert reader.header == ["phone", "name"]
        assert [r.cells for r in reader] == [["2125550123", "Zoë"]]


def test_latin1_file_is_refused_unless_its_encoding_is_named(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 refuse the file; named as Latin-1, they are read as such."""
    path = write(tmp_path, "phone;name\n2125550123;Zoë Müller\n".encode("latin-1"))
    with pytest.raises(InvalidInput, match=r"not valid UTF-8: line 2, column 14: byte eb"):
        CsvReader(path)
    with CsvReader(path, encoding="latin-1") as reader:
        assert reader.format.encoding == "iso8859-1"
        assert next(iter(reader)).cells == ["2125550123", "Zoë Müller"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    """Comma, semicolon, tab and pipe files are all split correctly."""
    rows = [["phone", "name", "city"], ["2125550123", "Ann", "Paris"], ["2125550124", "Bo", "Rome"]]
    path = write(tmp_path, "\n".join(delimiter.join(r) for r in rows).encode())
    with CsvReader(path) as reader:
        assert reader.header == rows[0]
        assert [r.cells for r in reader] == rows[1:]


def test_semicolon_file_with_commas_inside_cells(tmp_path: Path) -> None:
    """Commas inside the cells of a semicolon file do not fool the sniffer."""
    text = (
        "phone;name;notes\n"
        '2125550123;"Doe, John";likes calls, mornings\n'
        "2125550124;Ann;a, b, c, d\n"
        "2125550125;Bo;none\n"
    )
    with CsvReader(write(tmp_path, text.encode())) as reader:
        assert reader.format.delimiter == ";"
        assert [r.cells[1] for r in reader] == ["Doe, John", "Ann", "Bo"]


def test_nul_bytes_are_removed_and_the_record_flagged(tmp_path: Path) -> None:
    """A NUL byte never reaches a cell; the record it was in is marked, the others not."""
    path = write(tmp_path, b"phone,name\n2125550123,Ann\n2125550124,B\x00o\n2125550125,Cy\n")
    with CsvReader(path) as reader:
        records = list(reader)
    assert [(r.line, r.had_nul) for r in records] == [(2, False), (3, True), (4, False)]
    assert records[1].cells == ["2125550124", "Bo"]


def test_line_numbers_count_physical_lines_with_multiline_cells(tmp_path: Path) -> None:
    """A quoted cell spanning lines shifts the following records' line numbers."""
    path = write(tmp_path, b'phone,notes\n2125550123,"two\nlines"\n2125550124,x\n\n2125550125,y\n')
    with CsvReader(path) as reader:
        assert [r.line for r in reader] == [2, 4, 6]


def test_empty_file_is_refused(tmp_path: Path) -> None:
    """No header, no import."""
    with pytest.raises(InvalidInput, match="empty"):
        CsvReader(write(tmp_path, b""))


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+12125550123", "+12125550123"),
        ("-5", "-5"),
        ("-2.5", "-2.5"),
        ("+1 (212) 555-0101", "+1 (212) 555-0101"),
        ("-2+3", "'-2+3"),
        ("+A1", "'+A1"),
        ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
        ("+", "'+"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ann", "Ann"),
        ("", ""),
    ],
)
def test_formula_cells_are_neutralised(cell: str, safe: str) -> None:
    """Cells starting with = + - @ TAB or CR get a leading apostrophe, unless they are
    made of digits and phone punctuation only (a number); others are untouched."""
    assert neutralise(cell) == safe


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_off_a_terminal_writes_a_line_every_few_seconds() -> None:
    """Piped stderr gets a plain line with rate and ETA every five seconds, no bar."""
    out = io.StringIO()
    clock = _Clock()
    bar = Progress(1000, "import x.csv", stream=out, clock=clock)
    clock.now += 1
    bar.update(100, 10_000)
    assert out.getvalue() == ""
    clock.now += 4
    bar.update(500, 50_000)
    clock.now += 1
    bar.update(600, 60_000)
    bar.finish()
    assert out.getvalue() == "import x.csv:  50% 50,000 rows, 10,000 rows/s, ETA 5 s\n"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_shows_rate_and_eta() -> None:
    """On a terminal the bar is redrawn at most five times a second, with rows/s and ETA."""
    out = _Terminal()
    clock = _Clock()
    bar = Progress(200, "import x.csv", stream=out, clock=clock)
    clock.now += 0.25
    bar.update(50, 5000)
    clock.now += 0.05
    bar.update(60, 6000)
    clock.now += 0.25
    bar.update(100, 10000)
    bar.finish()
    text = out.getvalue()
    assert "\rimport x.csv [######                   ]  25% 5,000 rows, 20,000 rows/s, ETA 1 s" in (
        text
    )
    assert text.count("\r") == 2
    assert "50% 10,000 rows, 18,182 rows/s, ETA 1 s" in text
    assert text.endswith("\n")


def test_default_mapping_recognises_common_headers() -> None:
    """Phone-like, name and zone headers map to fields; the rest become free-form fields."""
    p = plan(["Phone", "Mobile 2", "First Name", "Last Name", "TZ", "Email"])
    assert p.phones == (0, 1)
    assert (p.first_name, p.last_name, p.time_zone) == (2, 3, 4)
    assert p.fields == ((5, "Email"),)


def test_mapping_to_a_missing_column_refuses_the_import() -> None:
    """--map naming a column the file does not have is an error listing the real columns."""
    with pytest.raises(InvalidInput, match=r"'Telephone'.*does not have"):
        plan(["phone", "name"], {"Telephone": "phone"})


def test_mapping_to_an_unknown_field_refuses_the_import() -> None:
    """--map to a field that does not exist is refused rather than guessed."""
    with pytest.raises(InvalidInput, match="unknown field"):
        plan(["tel", "name"], {"tel": "fone"})


def test_file_without_a_phone_column_is_refused() -> None:
    """Without any column of numbers there is nothing to import."""
    with pytest.raises(InvalidInput, match="no column holds phone numbers"):
        plan(["name", "email"])


def test_map_options_are_parsed_and_checked() -> None:
    """COLUMN=FIELD pairs are read; a pair without = is refused."""
    assert parse_map_options(["Tel=phone", " Notes = fields.notes"]) == {
        "Tel": "phone",
        "Notes": "fields.notes",
    }
    with pytest.raises(InvalidInput):
        parse_map_options(["Tel"])


def test_convert_explains_each_refused_row() -> None:
    """Each refused record raises RowError with a reason a person can act on."""
    p = plan(["phone", "name", "priority", "consent", "tz"])
    with pytest.raises(RowError, match="missing phone"):
        convert(2, ["", "Ann", "", "", ""], p, "US")
    with pytest.raises(RowError, match="invalid phone number"):
        convert(2, ["+1 555 555 1234", "Ann", "", "", ""], p, "US")
    with pytest.raises(RowError, match="priority"):
        convert(2, ["2125550123", "Ann", "high", "", ""], p, "US")
    with pytest.raises(RowError, match="consent"):
        convert(2, ["2125550123", "Ann", "", "maybe", ""], p, "US")
    with pytest.raises(RowError, match="time zone"):
        convert(2, ["2125550123", "Ann", "", "", "Mars/Base"], p, "US")
    with pytest.raises(RowError, match="NUL"):
        convert(2, ["2125550123", "Ann", "", "", ""], p, "US", had_nul=True)
    with pytest.raises(RowError, match="6 cells"):
        convert(2, ["2125550123", "Ann", "", "", "", "extra"], p, "US")


def test_convert_gives_one_staging_row_per_distinct_number() -> None:
    """Two numbers give two rows (contact data on the first); a repeated number counts once."""
    p = plan(["phone", "phone2", "phone3", "name", "tz"])
    rows = convert(7, ["2125550123", "+1 212 555 0124", "212-555-0123", "Ann", ""], p, "US")
    assert [(r[0], r[1], r[2]) for r in rows] == [(7, 0, "+12125550123"), (7, 1, "+12125550124")]
    assert rows[0][4] == "Ann"
    assert rows[1][4] is None


def test_explicit_time_zone_replaces_the_number_zones() -> None:
    """A contact's own zone column overrides what the number suggests."""
    p = plan(["phone", "tz"])
    rows = convert(2, ["2125550123", "Europe/Paris"], p, "US")
    assert rows[0][3] == ["Europe/Paris"]
