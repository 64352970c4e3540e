#!/usr/bin/env python3
"""Builds assets/carbon_intensity.csv and assets/cpu_tdp.csv from carbontracker's and codecarbon's data.

Not run by the tests or CI: the generated CSVs are committed; this script documents how they were made.
Inputs (both MIT licensed):

    pip download --no-deps codecarbon==3.3.2 carbontracker==2.4.7 -d /var/tmp/dl
    unzip codecarbon-3.3.2-py3-none-any.whl -d /var/tmp/dl/cc
    unzip carbontracker-2.4.7-py3-none-any.whl -d /var/tmp/dl/ct
    # codecarbon's vendor spec scrapes (cores, threads), from github.com/mlco2/codecarbon at b05965e,
    # codecarbon/data/hardware/cpu_dataset_builder/{amd_cpu_server,amd_cpu_desktop,intel_cpu_ark}_dataset.csv
    python3 assets/make_tables.py /var/tmp/dl/ct /var/tmp/dl/cc /var/tmp/dl/ccrepo
"""

import csv
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).parent


def carbon(ct: Path, cc: Path) -> None:
    rows = []
    with open(ct / "carbontracker/data/carbon-intensities.csv", newline="") as f:
        for r in csv.DictReader(f):
            rows.append(
                (r["alpha-2"], r["Code"], r["Entity"], int(r["Year"]),
                 round(float(r["Carbon intensity of electricity (gCO2eq/kWh)"]), 1), "carbontracker")
            )
    # Countries carbontracker lacks but codecarbon has (Namibia: alpha-2 "NA", likely lost as pandas' NaN).
    alpha2_of = {"NAM": "NA"}
    have = {r[1] for r in rows}
    mix = json.loads((cc / "codecarbon/data/private_infra/global_energy_mix.json").read_text())
    for code, entry in mix.items():
        if code in have or entry.get("carbon_intensity") is None:
            continue
        if code not in alpha2_of:
            sys.exit(f"no alpha-2 code known for {code}; add it to alpha2_of")
        rows.append((alpha2_of[code], code, entry["country_name"], int(entry["year"]),
                     round(float(entry["carbon_intensity"]), 1), "codecarbon"))
    rows.sort(key=lambda r: r[0])
    with open(HERE / "carbon_intensity.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["alpha2", "alpha3", "country", "year", "g_per_kwh", "from"])
        w.writerows(rows)
    # Cross-check of the world average: generation-weighted mean of codecarbon's per-country 2022-23 figures.
    total = sum(e["total_TWh"] for e in mix.values() if e.get("carbon_intensity") is not None)
    weighted = sum(e["total_TWh"] * e["carbon_intensity"] for e in mix.values() if e.get("carbon_intensity") is not None)
    print(f"carbon_intensity.csv: {len(rows)} countries; codecarbon generation-weighted mean {weighted / total:.1f} g/kWh")


def clean(name: str) -> str:
    name = re.sub(r"[®™]|\(R\)|\(TM\)", "", name)
    name = re.sub(r"\s+Processor\b", "", name)
    name = re.sub(r"\s+with .*", "", name)
    return re.sub(r"\s+", " ", name).strip()


# Families kept from codecarbon's 4900-row cpu_power.csv: what deep-learning work runs on today
# (servers, workstations, recent desktops and laptops). Older lines (Opteron, Phenom, Athlon,
# Pentium, Celeron, Atom, Core 2, first-generation Core) are left out to keep the table small.
KEEP = [
    r"^AMD EPYC ",
    r"^AMD Ryzen ",
    r"^Intel Xeon (Platinum|Gold|Silver|Bronze|w\d|W-|E-|E3-|E5-|E7-|D-|Max|CPU Max|6\d\d\d)",
    r"^Intel Core (i[3579]-([4-9]\d{3}|1\d{4})|Ultra )",
]


def tdp(cc: Path, repo: Path) -> None:
    specs = {}  # cleaned name -> (cores, threads)
    for file in ["amd_cpu_server_dataset.csv", "amd_cpu_desktop_dataset.csv"]:
        with open(repo / file, newline="", encoding="utf-8-sig") as f:
            for r in csv.DictReader(f):
                cores, threads = r["# of CPU Cores"].strip(), r["# of Threads"].strip()
                if cores.isdigit() and threads.isdigit():
                    specs[clean(r["Name"])] = (int(cores), int(threads))
    with open(repo / "intel_cpu_ark_dataset.csv", newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            name = clean(r["cpu_name"])
            if not name.startswith("Intel "):
                name = "Intel " + name
            cores = r["total_cores"].strip()
            if cores.isdigit():
                specs.setdefault(name, (int(cores), None))  # ARK's scrape has cores, not threads
    keep = [re.compile(p) for p in KEEP]
    rows = {}
    with open(cc / "codecarbon/data/hardware/cpu_power.csv", newline="") as f:
        for r in csv.DictReader(f):
            name = r["Name"].strip()
            if not any(p.search(name) for p in keep):
                continue
            try:
                watts = float(r["TDP"])
            except ValueError:
                continue
            cores, threads = specs.get(name, (None, None))
            rows[name] = (name, f"{watts:g}", cores or "", threads or "")
    with open(HERE / "cpu_tdp.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "tdp_w", "cores", "threads"])
        w.writerows(sorted(rows.values()))
    with_threads = sum(1 for r in rows.values() if r[3] != "")
    with_cores = sum(1 for r in rows.values() if r[2] != "")
    print(f"cpu_tdp.csv: {len(rows)} CPUs, {with_cores} with cores, {with_threads} with threads")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    ct, cc, repo = map(Path, sys.argv[1:])
    carbon(ct, cc)
    tdp(cc, repo)
