"""Read a dataset directory, validate every row, and account for each one.

Every input row ends as exactly one of: loaded, updated (snapshot tables),
duplicate (identical to a stored or earlier row), or rejected with all its
reasons. Files are read in chunks (Parquet by batches, other files whole and
then sliced), so memory stays flat however large the dataset: each chunk is
parsed with Polars expressions (keeping the types a file already gives),
checked with pandera where a cheap test says a value may fail, and staged in
DuckDB; keys are then compared across the whole load and with the store in
SQL. A bad value is reported as it was written.
One load is one DuckDB transaction: any error leaves the store as it was.
"""

from .check import validate
from .merge import (REJECTED_SCHEMA, LoadResult, Staged, TableCounts, load_dataset, merge_table,
                    stage_table)
from .parse import TS_MAX, TS_MIN, parse
from .read import CHUNK_ROWS, FORMATS, KNOWN_COLUMNS, discover, read_chunks, read_file

__all__ = ["CHUNK_ROWS", "FORMATS", "KNOWN_COLUMNS", "LoadResult", "REJECTED_SCHEMA", "Staged", "TS_MAX",
           "TS_MIN", "TableCounts", "discover", "load_dataset", "merge_table", "parse", "read_chunks",
           "read_file", "stage_table", "validate"]
