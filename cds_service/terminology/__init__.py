"""Clinical terminology: the project's own value sets (FHIR ValueSet JSON in `data/`), loaded once.

CONTRACT (implemented by `loader.py`; everything else in the tree uses only these names):

- `Ingredient(name, rxcui, classes, strength_mg)`: one active ingredient *as it occurs in a product*.
  `classes` are contextual: naltrexone inside morphine/naltrexone (Embeda) is NOT "opioid-antagonist-therapy",
  naloxone inside buprenorphine/naloxone is NOT "naloxone-rescue" (both get "abuse-deterrent").
- `Product(rxcui, display, ingredients, dose_form, classes)`: a recognised RxNorm concept
  (IN, MIN, SCD, SBD...).
- `get_terminology() -> Terminology`: the process-wide instance, loaded on first use.

Ingredient classes: "opioid" (everything naltrexone blocks), "opioid-full-agonist", "opioid-partial-agonist",
"opioid-mixed-agonist-antagonist", "opioid-peripheral" (loperamide, diphenoxylate, difenoxin),
"opioid-maintenance" (buprenorphine, methadone), "naltrexone", "samidorphan",
"opioid-antagonist-therapy" (naltrexone or samidorphan not combined with an opioid), "naloxone",
"naloxone-rescue", "abuse-deterrent".
Product classes: "cough-medicine" (opioid antitussive products), "extended-release-injection" (naltrexone XR).
Condition classes: "opioid-use-disorder", "opioid-use-disorder-remission", "opioid-agonist-therapy",
"alcohol-use-disorder", "severe-liver-disease" (+ "acute-hepatitis", "hepatic-failure", "cirrhosis"),
"off-label-indication" (+ "multiple-sclerosis", "fibromyalgia", "amyotrophic-lateral-sclerosis",
"autism-developmental-disorder", "borderline-personality-disorder", "dissociative-disorder", "cancer",
"opioid-induced-constipation").
Observation classes: "alt", "ast", "urine-opioid-screen", "urine-naltrexone".
"""

from cds_service.terminology.loader import (
    Ingredient,
    Product,
    Terminology,
    get_terminology,
)
from cds_service.terminology.systems import ATC, ICD10, ICD10CM, ICD10GM, LOINC, NDC, RXNORM, SNOMED, canonical

__all__ = [
    "ATC",
    "ICD10",
    "ICD10CM",
    "ICD10GM",
    "LOINC",
    "NDC",
    "RXNORM",
    "SNOMED",
    "Ingredient",
    "Product",
    "Terminology",
    "canonical",
    "get_terminology",
]
