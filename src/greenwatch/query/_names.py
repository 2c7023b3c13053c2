"""The query stage's light names: what the command line offers before anything is loaded."""

from __future__ import annotations

KPIS: dict[str, str] = {
    "pue": "Power usage effectiveness, facility / IT energy (ISO/IEC 30134-2)",
    "dcie": "Data centre infrastructure efficiency, 1 / PUE",
    "ppue": "Partial PUE of cooling, (IT + cooling) / IT energy (ISO/IEC 30134-2 Annex)",
    "wue": "Water usage effectiveness, site water / IT energy, L/kWh (ISO/IEC 30134-9)",
    "cue": "Carbon usage effectiveness, location-based CO2 / IT energy, kg/kWh (ISO/IEC 30134-8)",
    "ref": "Renewable energy factor, renewable / facility energy (ISO/IEC 30134-3)",
    "erf": "Energy reuse factor, reused / facility energy (ISO/IEC 30134-6)",
    "ere": "Energy reuse effectiveness, (1 - ERF) x PUE",
    "carbon": "CO2 of facility energy, location- and market-based, kg",
    "it_energy": "IT equipment energy at the PUE-category meter, kWh",
}
