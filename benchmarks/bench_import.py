"""Import time of jrfit's entry points, as ratios to importing numpy, in fresh interpreters.

Run: python benchmarks/bench_import.py [--repeat N]

Each entry is imported in a new ``python -c`` process, N times (median); the
baseline, ``import numpy`` (which every entry needs), is timed the same way in
the same run, so the ratios compare like with like on any machine. ``jrfit
--help`` is the command line's start-up (its parser imports the forward model
but not MNE or PyMC).
"""

import argparse
import statistics
import subprocess
import sys
import time

ENTRIES = {
    "import numpy (baseline)": "import numpy",
    "import jrfit": "import jrfit",
    "import jrfit.model.spectrum": "import jrfit.model.spectrum",
    "import jrfit.simulators.column": "import jrfit.simulators.column",
    "import jrfit.dynamics.bifurcation": "import jrfit.dynamics.bifurcation",
    "jrfit --help (parser)": "import jrfit.cli.app as a; a.build_parser()",
}


def _time(code, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5, help="imports per entry (median is shown)")
    args = ap.parse_args()
    _time("import jrfit.cli.app", 1)  # warm the numba and bytecode caches once
    base = _time(ENTRIES["import numpy (baseline)"], args.repeat)
    for name, code in ENTRIES.items():
        t = base if code == "import numpy" else _time(code, args.repeat)
        print(f"{name:36s} {t:6.3f} s  {t / base:5.2f} x numpy")


if __name__ == "__main__":
    main()
