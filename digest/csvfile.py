"""CSV files people make: checked whole as UTF-8 first, then read a record at a time.

A file that is not UTF-8 is refused before anything of it is used, naming its
first bad line. The records are read as a stream, and a stray quote costs
only its own line.
"""

from __future__ import annotations

import codecs
import collections
import csv
import io
import tempfile
from collections.abc import Iterator
from typing import BinaryIO, TextIO

from digest.errors import ImportRefused

READ_CHUNK = 1 << 20  # bytes read at a time when checking that a file is UTF-8
Record = tuple[int, list[str] | None, str]  # csv_records: line number, fields or None, why


def checked_text(binary: BinaryIO, name: str) -> TextIO:
    """The stream as text, once all of it is known to be UTF-8 (ImportRefused naming the
    first bad line otherwise). A stream that cannot seek is copied as it is read."""
    copy = binary if binary.seekable() else tempfile.TemporaryFile()  # noqa: SIM115
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1  # the line the next chunk starts on
    try:
        while True:
            chunk = binary.read(READ_CHUNK)
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last chunk
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = line + chunk[:max(exc.start - pending, 0)].count(b"\n")
                raise ImportRefused(f"{name}:{at}: not UTF-8 text ({exc.reason}); nothing "
                                    "was imported: save the file as UTF-8 CSV and import "
                                    "it again") from None
            if not chunk:
                break
            line += chunk.count(b"\n")
            if copy is not binary:
                copy.write(chunk)
        if copy is not binary:
            binary.close()
        copy.seek(0)
    except BaseException:
        copy.close()
        if copy is not binary:
            binary.close()  # as when it is copied whole: the stream is this function's
        raise
    return io.TextIOWrapper(copy, encoding="utf-8-sig", newline="")


def csv_records(lines: Iterator[str], line: int = 1
                 ) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, fields, "") per CSV record, or (line, None, why) for one unreadable;
    `line` is the number of the first line.

    A stray quote makes the csv module read on into the following lines, until
    a field passes 128 KiB (csv.Error) or the quote closes lines later. Either
    way that first line is reported and reading starts again on the line after
    it, so one bad line costs only itself. (No column of ours holds a line
    break, so a quoted field that spans lines is always such a mistake.) Only
    the lines of the record being read are kept (at most some 128 KiB).
    """
    taken: list[str] = []  # the lines the record being read has taken
    again: collections.deque[str] = collections.deque()  # lines to read once more, first

    def feed() -> Iterator[str]:
        for text in lines:
            taken.append(text)
            yield text
            while again:
                text = again.popleft()
                taken.append(text)
                yield text

    source = feed()
    while True:
        reader = csv.reader(source)
        try:
            for row in reader:
                if len(taken) > 1 and any("\n" in f or "\r" in f for f in row):
                    yield line, None, (f"a quoted field runs over lines {line}-"
                                       f"{line + len(taken) - 1}, probably a stray quote (\"); "
                                       "the lines after it were read again")
                    break
                yield line, row, ""
                line += len(taken)
                taken.clear()
            else:
                return
        except csv.Error as exc:
            yield line, None, (f"unreadable CSV ({exc}), probably a stray quote (\"); "
                               "the lines after it were read again")
        line += 1  # the bad record's first line is done; the others are read again
        again.extendleft(reversed(taken[1:]))
        taken.clear()
