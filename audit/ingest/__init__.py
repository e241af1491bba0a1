"""Read a dataset directory, validate every row, and account for each one.

Every input row ends as exactly one of: loaded, updated (snapshot tables),
duplicate (identical to a stored or earlier row), or rejected with all its
reasons. Parquet files are read, typed, checked and staged by DuckDB in one
statement (sql_stage.py, with the checks of sql_checks.py rendered from
schemas.py); the rows it does not pass, and every other file, go through
read.py → map.py → parse.py → check.py: read in chunks (memory stays flat),
parsed with Polars expressions, checked with pandera where a cheap test
says a value may fail, and staged in DuckDB. Keys are then compared across
the whole load and with the store in SQL (merge.py). A bad value is
reported as it was written. One load is one DuckDB transaction: any error
leaves the store as it was.
"""

from .check import validate
from .merge import REJECTED_SCHEMA, LoadResult, TableCounts, load_dataset, merge_table
from .stage import Staged, stage_table
from .parse import TS_MAX, TS_MIN, parse
from .read import CHUNK_ROWS, FORMATS, KNOWN_COLUMNS, discover, read_chunks, read_file

__all__ = ["CHUNK_ROWS", "FORMATS", "KNOWN_COLUMNS", "LoadResult", "REJECTED_SCHEMA", "Staged", "TS_MAX",
           "TS_MIN", "TableCounts", "discover", "load_dataset", "merge_table", "parse", "read_chunks",
           "read_file", "stage_table", "validate"]
