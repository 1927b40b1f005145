"""`generic`: plain CDS Hooks 2.0, for a client that follows the specification as written (the default).

Follows: CDS Hooks 2.0.1, §Card Attributes, §Suggestion, §Action, §Link (https://cds-hooks.hl7.org/2.0/).
Every action type on any resource, several actions per suggestion, `at-most-one` (the suggestions of a card
are alternatives), both link types with `appContext`, no limit on the detail.
"""

from cds_service.profiles.base import ClientProfile

PROFILE = ClientProfile(
    name="generic",
    title="CDS Hooks 2.0 client",
    document="CDS Hooks 2.0.1 specification, https://cds-hooks.hl7.org/2.0/ (Card, Suggestion, Action, Link)",
    selection_behavior="at-most-one",
    max_actions_per_suggestion=None,
    applies={"create": None, "update": None, "delete": None},
)
