"""The naltrexone pack's thresholds: site policy, one place, overridable by `CDS_NALTREXONE_*` variables.

Like the look-back periods of the CDC opioid guideline's CQL config library: the rules name them, never
hard-code them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cds_service.rules.base import RuleContext


class NaltrexoneConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDS_NALTREXONE_", extra="ignore")

    opioid_free_days: int = Field(7, description="Opioid-free days required before naltrexone (fewer: critical).")
    opioid_free_full_days: int = Field(
        10, description="Up to this many opioid-free days the start is borderline (warning): 7-10 days per label.")
    maintenance_free_days: int = Field(
        14, description="Days after the last buprenorphine or methadone during which withdrawal can still be "
        "precipitated (warning).")
    urine_positive_lookback_days: int = Field(14, description="A positive urine opioid screen this recent is critical.")
    urine_negative_lookback_days: int = Field(
        7, description="A negative urine opioid screen this recent confirms abstinence.")
    urine_needed_silent_when_positive: bool = Field(
        True, description="urine-screen-needed stays silent when urine-screen-positive fires for the same order "
        "(the positive card already asks for a repeat screen).")
    opioid_history_lookback_days: int = Field(
        90, description="Opioid exposure this recent counts as opioid history (urine screen needed).")
    liver_test_lookback_days: int = Field(90, description="ALT/AST results this recent are used; older ones are not.")
    liver_warning_uln_multiple: float = Field(3.0, description="ALT or AST at or above this multiple of ULN: warning.")
    liver_critical_uln_multiple: float = Field(
        5.0, description="ALT or AST at or above this multiple of ULN: critical.")
    liver_baseline_multiple: float = Field(
        3.0, description="On naltrexone, ALT or AST at or above this multiple of the pre-treatment baseline: warning "
        "(stop naltrexone if it persists).")
    liver_monitoring_first_days: int = Field(
        28, description="On naltrexone, liver tests are due this many days after the start (about 4 weeks).")
    liver_monitoring_interval_days: int = Field(
        90, description="After the first follow-up, liver tests are due every this many days (about 3 months).")
    alt_default_uln: float = Field(40.0, description="ALT upper limit of normal (U/L) when the result has none.")
    ast_default_uln: float = Field(40.0, description="AST upper limit of normal (U/L) when the result has none.")
    minimum_age: int = Field(20, description="Patients younger than this get the young-patient warning.")
    low_dose_max_mg: float = Field(5.0, description="A daily dose at or under this is low-dose naltrexone (info).")
    history_days: int = Field(
        365, description="Lab results and past (not current) medication use older than this are not read at all: "
        "no rule looks back further than the look-backs above (the longest one wins if it is larger); "
        "liver-tests-missing still shows an older result up to this age.")
    xr_naltrexone_days: int = Field(
        30, description="An extended-release naltrexone injection blocks opioids for this many days after any record "
        "of it (administration, dispense, order or statement).")
    xr_next_dose_from_day: int = Field(
        26, description="From this many days after an extended-release injection the next one is due: a new "
        "naltrexone order is then the routine next dose (every 4 weeks, a couple of days early allowed; sooner it is "
        "a duplicate), and patient-view reminds that the injection is due (info).")
    xr_lapse_notice_days: int = Field(
        30, description="patient-view: after an injection's interval has run out, warn for this many more days "
        "(lost tolerance, fading blockade: the overdose window); later, the therapy is no longer current.")
    oral_naltrexone_block_hours: int = Field(
        72, description="Oral naltrexone blocks opioid analgesia for this many hours after its last possible dose.")


# What a naltrexone rule sees: `ctx.config` is this pack's config, so mypy catches a misspelt threshold.
NaltrexoneContext = RuleContext[NaltrexoneConfig]
