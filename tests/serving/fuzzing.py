"""What the schemathesis suites share: the checks' configuration for this API.

A request over a documented limit (`maxLength` of a text, `maxItems` of a batch) is refused with 413
(payload too large), which schemathesis does not count among the answers to schema-violating data; and
response bodies are validated with their string formats (`date-time` needs an offset).
"""

from __future__ import annotations

import os

from schemathesis.config import SchemathesisConfig

# examples per operation: a few dozen in the suite; GRIDSENSE_FUZZ_EXAMPLES=500 for a deeper run
MAX_EXAMPLES = int(os.environ.get("GRIDSENSE_FUZZ_EXAMPLES", "40"))

REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]

FUZZ_CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": REFUSALS},
            "response_schema_conformance": {"validate-formats": True},
        }
    }
)
