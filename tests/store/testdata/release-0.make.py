from pathlib import Path

import pandas as pd

from greenwatch.inventory import load_inventory
from greenwatch.simulate import Simulator
from greenwatch.store import DuckDBStore

inv = load_inventory()
sites = tuple(s for s in inv.sites if s.id in ("guian-1", "sc-wuxi"))
inv2 = inv.model_copy(update={"sites": sites, "links": ()})
start = pd.Timestamp("2026-11-01T00:00Z")
sim = Simulator(inv2, seed=0, start=start)
print(sim.series_count())
d = Path("data")
d.mkdir(exist_ok=True)
st = DuckDBStore(d / "greenwatch.duckdb")
b = sim.advance(start + pd.Timedelta(hours=6), pd.Timedelta(minutes=5))
print(len(b), st.write(b))
st.close()
