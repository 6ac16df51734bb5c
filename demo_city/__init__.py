"""The synthetic demo city 示范市: seeded grids, two years of events and Chinese report texts.

``generate_demo_city(out_dir, seed=7, n_grids=360, start=date(2024, 1, 1), weeks=104)`` writes
``grids.parquet`` and ``events.parquet``; same arguments, same bytes.
"""

from demo_city.city import DemoCity, generate_demo_city
from demo_city.texts import late_template_ids, template_coverage, template_problems

__all__ = ["DemoCity", "generate_demo_city", "late_template_ids", "template_coverage", "template_problems"]
