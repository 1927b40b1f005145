"""What the naltrexone rules are about: naltrexone orders, opioid orders, and (patient-view) a patient whose
naltrexone therapy is current. Rules name these ids in `applies_to`."""

from __future__ import annotations

from cds_service.record.model import MedicationUse
from cds_service.rules.base import Scope

NALTREXONE_ORDERS = "naltrexone-orders"
OPIOID_ORDERS = "opioid-orders"
ON_NALTREXONE = "patient-on-naltrexone"  # patient-view: naltrexone therapy current (scope in patient_view.py)
ORDER_HOOKS = ("order-select", "order-sign")


def is_antagonist_order(order: MedicationUse) -> bool:
    return order.has("opioid-antagonist-therapy")


def is_opioid_order(order: MedicationUse) -> bool:
    return order.has("opioid")


ORDER_SCOPES = (
    Scope(NALTREXONE_ORDERS, "naltrexone orders", ORDER_HOOKS, orders=is_antagonist_order),
    Scope(OPIOID_ORDERS, "opioid orders", ORDER_HOOKS, orders=is_opioid_order),
)
