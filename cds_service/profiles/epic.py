"""`epic`: Epic (Hyperspace / Hyperdrive) as its public CDS Hooks documentation describes it.

Follows: Epic on FHIR, "CDS Hooks" documentation (fhir.epic.com/Documentation?docId=cds-hooks), sections
Cards, Suggestions, Actions, Links, Feedback:

* only `selectionBehavior: "any"`;
* one action per suggestion; the suggestion `label` is required but not shown, the action's `description`
  is what users read (a create+delete pair becomes two suggestions, each with its description);
* a suggestion without an action shows nothing: it becomes guidance in the detail;
* `delete` is supported; `create` of a ServiceRequest or MedicationRequest (the MedicationRequest's dose
  details are ignored, defaults come from the drug record: the description says so); `update` only of a
  ServiceRequest (any other update becomes guidance);
* `source.topic.code` alphanumeric, at most 100 characters and stable: the rule id without its hyphens
  (`opioid-concurrent` -> `opioidconcurrent`; `system` and `display` unchanged);
* links: absolute and SMART (registered in Epic), `appContext` supported; detail is GitHub-flavoured markdown.
"""

from cds_service.profiles.base import ClientProfile, alphanumeric_code

PROFILE = ClientProfile(
    name="epic",
    title="Epic",
    document="Epic on FHIR, CDS Hooks documentation (https://fhir.epic.com/Documentation?docId=cds-hooks): "
    "cards, suggestions, actions, links",
    selection_behavior="any",
    max_actions_per_suggestion=1,
    applies={
        "create": frozenset({"ServiceRequest", "MedicationRequest"}),
        "update": frozenset({"ServiceRequest"}),
        "delete": None,
    },
    action_notes={"create MedicationRequest": "Epic fills the dose from the drug record's defaults: check the "
                  "dose and directions before signing"},
    suggestions_without_actions=False,
    topic_code=alphanumeric_code,
)
