"""The only module that knows Arrow's physical layout.

`text_buffers(array)` turns a pyarrow string array into the tuple the native
core reads without copying: (offsets, data, validity or None, offset, length,
large_offsets). `as_text_array` brings the text column types users meet
(string, large_string, string_view, dictionary-encoded, chunked, binary) to
one of the two layouts the core reads.
"""

from __future__ import annotations

import pyarrow as pa

from .errors import InvalidInput

_EMPTY = pa.py_buffer(b"")


def as_text_array(values, *, where: str = "text column") -> pa.Array:
    """One contiguous utf8 or large_utf8 array holding `values`.

    `values` may be an Array, a ChunkedArray or a list of str/None. Binary
    columns are viewed as text without validation: the core decodes invalid
    UTF-8 as U+FFFD, one code point per bad byte.
    """
    if isinstance(values, (list, tuple)):
        values = pa.array(values, type=pa.large_string())
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if not isinstance(values, pa.Array):
        raise InvalidInput(f"{where}: expected a pyarrow array or a list of str, got {type(values).__name__}")
    t = values.type
    if pa.types.is_dictionary(t):
        values = values.dictionary_decode()
        t = values.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return values
    if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(t):
        return values.cast(pa.large_string())
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        target = pa.string() if pa.types.is_binary(t) else pa.large_string()
        return pa.Array.from_buffers(target, len(values), values.buffers(), values.null_count, values.offset)
    if hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(t):
        values = values.cast(pa.large_binary())
        return pa.Array.from_buffers(pa.large_string(), len(values), values.buffers(), values.null_count,
                                     values.offset)
    raise InvalidInput(f"{where} has type {t}, not text: name a string column with --text-column")


def text_buffers(array: pa.Array) -> tuple:
    """The (offsets, data, validity, offset, length, large) tuple of a utf8/large_utf8 array."""
    large = pa.types.is_large_string(array.type)
    if not (large or pa.types.is_string(array.type)):
        raise InvalidInput(f"expected a string array, got {array.type}")
    validity, offsets, data = array.buffers()
    if array.null_count == 0:
        validity = None
    if offsets is None:
        # Arrow allows a length-0 array without buffers; the core needs offsets[offset].
        offsets = pa.py_buffer(b"\x00" * (8 if large else 4))
    return (offsets, data if data is not None else _EMPTY, validity, array.offset, len(array), large)
