"""The code location: wires assets, checks, resources, jobs and schedules. Nothing imports it."""

import warnings

import dagster as dg

# `backfill_policy=BackfillPolicy.single_run()` (one run for a range of months) is a beta
# parameter: Dagster warns once per asset in every process that loads the code location
# (40+ lines when `dg dev` starts). Silence exactly that warning, nothing else.
warnings.filterwarnings(
    "ignore", category=dg.BetaWarning,
    message=r"Parameter `backfill_policy` of function `(asset|multi_asset)` is currently in beta")
