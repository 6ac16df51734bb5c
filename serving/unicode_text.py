"""One check for every text a request carries (report text, title, ids, grid ids in paths and queries).

JSON may spell a lone UTF-16 surrogate (`"\\ud800"`): Python then holds a str that cannot be encoded
to UTF-8, and the first library that encodes it (polars, a tokenizer, a log handler) raises deep inside
the model. Such text is refused at the edge with a 422 naming the field.

Control characters: tab, line feed, vertical tab, form feed and carriage return are kept (pasted text
carries them); every other C0 control, DEL and the C1 controls (U+0080-U+009F) are refused. No report
needs them, and they are what a NUL byte, a terminal escape sequence or a mis-decoded (latin-1) file
looks like.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StrictStr

ALLOWED_CONTROLS = "\t\n\x0b\x0c\r"
_REFUSED = re.compile(r"[\ud800-\udfff\x00-\x08\x0e-\x1f\x7f-\x9f]")


def check_text(value: str) -> str:
    """`value` unchanged, or ValueError naming the first refused character and its position."""
    refused = _REFUSED.search(value)
    if refused is None:
        return value
    code_point = ord(refused.group())
    kind = "a lone surrogate" if 0xD800 <= code_point <= 0xDFFF else "a control character"
    raise ValueError(
        f"is not valid text: {kind} U+{code_point:04X} at position {refused.start()} "
        "(send valid Unicode without control characters other than tab and line breaks)"
    )


CleanStr = Annotated[StrictStr, AfterValidator(check_text)]
"""A str holding valid Unicode text: use it for every text field of a request (body, query, path)."""
