# ShieldX default routing policy.
#
# Evaluates the base rules held in data.shieldx.rules (the same JSON format as ORCH_POLICY_PATH, so the compiled
# policy and the base rules agree by construction) and answers one decision object:
#   {"action": "allow" | "deny" | "divert" | "tarpit", "divert_to"?: pool, "tarpit_ms"?: ms, "reason": text}
# Order: the first matching advanced rule wins; then allow_all; then the allowed list; otherwise deny.
package shieldx.routing

import rego.v1

rules := data.shieldx.rules

default decision := {"action": "deny", "reason": "not allowed by any rule"}

decision := advanced_decision if {
	advanced_decision
} else := {"action": "allow", "reason": "allow_all"} if {
	rules.allow_all == true
} else := {"action": "allow", "reason": "allowed list"} if {
	some entry in rules.allowed
	tenant_matches(entry.tenant)
	scope_matches(entry.scopes)
}

# The first advanced rule (in list order) that matches the request.
advanced_decision := to_decision(rules.advanced[first]) if {
	matching := [i | some i, rule in rules.advanced; rule_matches(rule)]
	count(matching) > 0
	first := min(matching)
}

rule_matches(rule) if {
	tenant_matches(rule.tenant)
	scope_matches(rule.scopes)
	path_matches(object.get(rule, "path_prefix", "/"))
}

# The path starts with the prefix, or is the directory a prefix ending in "/" names ("/internal/" covers "/internal").
path_matches(prefix) if startswith(input.path, prefix)

path_matches(prefix) if {
	count(prefix) > 1
	endswith(prefix, "/")
	input.path == trim_suffix(prefix, "/")
}

tenant_matches(tenant) if tenant == "*"

tenant_matches(tenant) if tenant == input.tenant

scope_matches(scopes) if "*" in scopes

scope_matches(scopes) if input.scope in scopes

to_decision(rule) := d if {
	rule.action == "tarpit"
	d := {"action": "tarpit", "tarpit_ms": object.get(rule, "tarpit_ms", object.get(rules, "tarpit_ms", 1000)), "reason": object.get(rule, "reason", "advanced rule")}
} else := d if {
	rule.action == "divert"
	d := {"action": "divert", "divert_to": rule.divert_to, "reason": object.get(rule, "reason", "advanced rule")}
} else := {"action": rule.action, "reason": object.get(rule, "reason", "advanced rule")}
