"""What the naltrexone rules are about: naltrexone orders, opioid orders, and (patient-view) a patient whose
naltrexone therapy is current. Rules name these ids in `applies_to`."""

from __future__ import annotations

from cds_service.record.model import MedicationUse
from cds_service.rules.base import Scope

NALTREXONE_ORDERS = "naltrexone-orders"
OPIOID_ORDERS = "opioid-orders"
UNRESOLVED_ORDERS = "unresolved-orders"  # a draft whose Medication could not be read: it may be either
ON_NALTREXONE = "patient-on-naltrexone"  # patient-view: naltrexone therapy current (scope in patient_view.py)
# patient-view: whether naltrexone is current could not be checked (part of the medication records unread)
THERAPY_UNCHECKED = "naltrexone-therapy-unchecked"
ORDER_HOOKS = ("order-select", "order-sign")


def is_antagonist_order(order: MedicationUse) -> bool:
    return order.has("opioid-antagonist-therapy")


def is_opioid_order(order: MedicationUse) -> bool:
    return order.has("opioid")


def is_unresolved_order(order: MedicationUse) -> bool:
    """Nothing is known of the medicine (its Medication could not be read): it may be naltrexone or an opioid,
    so the order gets a card saying it could not be checked, never a silent all-clear."""
    return order.unresolved_reference is not None


UNCHECKED_SCOPE = Scope(THERAPY_UNCHECKED, "patient view (naltrexone therapy could not be checked)",
                        ("patient-view",))

ORDER_SCOPES = (
    Scope(NALTREXONE_ORDERS, "naltrexone orders", ORDER_HOOKS, orders=is_antagonist_order),
    Scope(OPIOID_ORDERS, "opioid orders", ORDER_HOOKS, orders=is_opioid_order),
    Scope(UNRESOLVED_ORDERS, "orders whose medication could not be read", ORDER_HOOKS, orders=is_unresolved_order),
)
