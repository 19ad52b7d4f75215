"""How a file is decoded and cut into records, and how each physical line is accounted for:
no database."""

from __future__ import annotations

from pathlib import Path

import pytest

from ccpbx.errors import InvalidInput
from ccpbx.store.csvfile import CsvReader, Record
from ccpbx.store.staging import check_reject_path, default_reject_path


def write(tmp_path: Path, data: bytes, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def read_all(path: Path, **kw: object) -> tuple[CsvReader, list[Record]]:
    with CsvReader(path, **kw) as reader:  # type: ignore[arg-type]
        return reader, list(reader)


def test_bom_and_one_latin1_byte_is_refused_with_line_and_column(tmp_path: Path) -> None:
    """A UTF-8 file with a BOM and one Latin-1 byte is refused, the bad byte located."""
    data = "\ufeffphone,name\n2125550101,José Núñez\n".encode() + b"2125550102,Andr\xe9\n"
    with pytest.raises(InvalidInput) as refused:
        CsvReader(write(tmp_path, data))
    assert "not valid UTF-8: line 3, column 16: byte e9" in refused.value.message
    assert "--encoding" in refused.value.message
    assert (refused.value.details["line"], refused.value.details["column"]) == (3, 16)


def test_a_bom_file_is_never_read_as_latin1(tmp_path: Path) -> None:
    """Naming Latin-1 for a file that starts with a UTF-8 BOM is refused: never mixed."""
    data = "\ufeffphone,name\n2125550101,José\n".encode() + b"2125550102,Andr\xe9\n"
    with pytest.raises(InvalidInput, match="byte-order mark"):
        CsvReader(write(tmp_path, data), encoding="latin-1")


def test_bad_byte_after_a_lone_cr_counts_lines_like_the_reader(tmp_path: Path) -> None:
    """Line numbers in the encoding error count LF, CRLF and lone CR line ends."""
    data = b"phone\r\n2125550101\r2125550102\n21255501\xff03\n"
    with pytest.raises(InvalidInput, match="line 4, column 9"):
        CsvReader(write(tmp_path, data))


def test_named_cp1252_decodes_its_own_letters(tmp_path: Path) -> None:
    """--encoding cp1252 reads the curly quotes and euro sign of a Windows export."""
    data = "phone;note\n2125550101;“5 €”\n".encode("cp1252")
    _, records = read_all(write(tmp_path, data), encoding="cp1252")
    assert records[0].cells == ["2125550101", "“5 €”"]


def test_unknown_encoding_is_refused() -> None:
    """An encoding Python does not know is an error, not a guess."""
    with pytest.raises(InvalidInput, match="unknown encoding"):
        CsvReader(Path("/nonexistent"), encoding="klingon")


def test_unclosed_quote_refuses_one_line_and_reads_the_rest_again(tmp_path: Path) -> None:
    """A quote left open on one line is an "unclosed quote" reject; the next lines are rows."""
    data = b'phone,name\n2125550101,Ann\n2125550102,"Bo\n2125550103,Cy\n2125550104,Di\n'
    reader, records = read_all(write(tmp_path, data))
    assert [(r.line, r.span, r.error is not None) for r in records] == [
        (2, 1, False),
        (3, 1, True),
        (4, 1, False),
        (5, 1, False),
    ]
    assert records[1].error is not None
    assert records[1].error.startswith("unclosed quote")
    assert "end of the file" in records[1].error
    assert records[1].cells == ["2125550102", "Bo"]
    assert reader.lines == 5


def test_runaway_quote_stops_at_the_field_limit(tmp_path: Path) -> None:
    """A quote that runs past the field limit is refused there, not at the end of the file."""
    body = b"".join(b"21255501%02d,P%d\n" % (i, i) for i in range(10, 60))
    data = b'phone,name\n2125550100,"Open\n' + body + b'2125550199,"closed, far away"\n'
    reader, records = read_all(write(tmp_path, data), max_field=100)
    assert records[0].error is not None
    assert "runs past 100 characters" in records[0].error
    good = [r for r in records if r.error is None]
    assert [r.cells[0] for r in good][:2] == ["2125550110", "2125550111"]
    assert len(good) == 51
    assert reader.lines == 53


def test_quote_closed_where_a_field_cannot_end(tmp_path: Path) -> None:
    """A quote closed by a later line's quote followed by text is an unclosed quote too."""
    data = b'phone,name\n2125550101,"Ann\n2125550102,Bo"b,x\n2125550103,Cy\n'
    _, records = read_all(write(tmp_path, data))
    assert records[0].error is not None
    assert "closes where a field cannot end, on line 3" in records[0].error
    assert [r.line for r in records] == [2, 3, 4]


def test_misplaced_quote_on_one_line_refuses_that_line(tmp_path: Path) -> None:
    """Text after a closing quote on a single line refuses that record only."""
    data = b'phone,name\n2125550101,"Ann"x\n2125550102,Bo\n'
    _, records = read_all(write(tmp_path, data))
    assert records[0].error is not None
    assert records[0].error.startswith("misplaced quote")
    assert records[1].cells == ["2125550102", "Bo"]


def test_field_over_the_limit_on_one_line_is_refused(tmp_path: Path) -> None:
    """A field longer than the limit refuses its record and does not disturb the next."""
    data = b"phone,name\n2125550101," + b"x" * 50 + b"\n2125550102,Bo\n"
    _, records = read_all(write(tmp_path, data), max_field=40)
    assert records[0].error == "a field is longer than 40 characters"
    assert records[0].cells[0] == "2125550101"
    assert records[1].cells == ["2125550102", "Bo"]


def test_quoted_field_over_several_lines_is_one_record(tmp_path: Path) -> None:
    """A legitimate multi-line field is one record whose span counts its lines."""
    data = b'phone,notes\n2125550101,"one\ntwo\r\nthree"\n\n2125550102,x\n'
    reader, records = read_all(write(tmp_path, data))
    assert [(r.line, r.span) for r in records] == [(2, 3), (6, 1)]
    assert records[0].cells[1] == "one\ntwo\r\nthree"
    assert (reader.lines, reader.header_lines, reader.blank_lines) == (6, 1, 1)


def test_lines_of_only_separators_are_blank(tmp_path: Path) -> None:
    """A spreadsheet's empty row (",,") is skipped like an empty line."""
    data = b"phone,name\n,,\n  ,\n2125550101,Ann\n\n"
    reader, records = read_all(write(tmp_path, data))
    assert [r.line for r in records] == [4]
    assert reader.blank_lines == 3
    assert reader.lines == 5


def test_unreadable_header_names_line_1(tmp_path: Path) -> None:
    """A header with a broken quote refuses the file."""
    with pytest.raises(InvalidInput, match="line 1"):
        CsvReader(write(tmp_path, b'phone,"name\n'))


@pytest.mark.parametrize(
    ("name", "rejects"),
    [
        ("leads.csv", "leads.rejects.csv"),
        ("dnc.txt", "dnc.rejects.csv"),
        ("raw", "raw.rejects.csv"),
    ],
)
def test_reject_file_is_named_file_rejects_csv(name: str, rejects: str) -> None:
    """The reject file of FILE.csv is FILE.rejects.csv, beside it."""
    assert default_reject_path(Path("/data") / name) == Path("/data") / rejects


def test_reject_file_may_not_be_the_input(tmp_path: Path) -> None:
    """--rejects naming the file being imported is refused before anything is written."""
    src = write(tmp_path, b"phone\n")
    with pytest.raises(InvalidInput, match="is the file being imported"):
        check_reject_path(src, tmp_path / "." / "in.csv")


def test_utf16_file_is_named_as_such_and_read_when_asked(tmp_path: Path) -> None:
    """A UTF-16 file (Excel's "Unicode text") is refused with the --encoding to use."""
    path = write(tmp_path, "phone\tname\n2125550101\tZoë\n".encode("utf-16"))
    with pytest.raises(InvalidInput, match="--encoding utf-16"):
        CsvReader(path)
    _, records = read_all(path, encoding="utf-16")
    assert records[0].cells == ["2125550101", "Zoë"]


def test_bad_byte_location_across_read_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bad byte's line is right when CRLF pairs straddle the chunks it is counted in."""
    monkeypatch.setattr("ccpbx.store.csvfile._CHUNK", 7)
    data = b"phone\r\n" + b"212555\r\n" * 5 + b"21\xff\r\n"
    with pytest.raises(InvalidInput, match="line 7, column 3"):
        CsvReader(write(tmp_path, data))
