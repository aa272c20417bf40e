package shieldx.routing_test

import rego.v1

import data.shieldx.routing

base := {"service": "api", "tenant": "acme", "scope": "read", "path": "/v1/items", "method": "POST", "ip": "10.0.0.1"}

test_allow_all_allows_ordinary_requests if {
	routing.decision.action == "allow" with input as base
}

test_internal_paths_are_denied if {
	d := routing.decision with input as object.union(base, {"path": "/internal/metrics"})
	d.action == "deny"
}

test_internal_prefix_covers_the_directory_itself if {
	d := routing.decision with input as object.union(base, {"path": "/internal"})
	d.action == "deny"
}

test_internal_prefix_needs_the_slash if {
	routing.decision.action == "allow" with input as object.union(base, {"path": "/internalize"})
}

test_scanners_are_tarpitted_with_the_default_hold if {
	d := routing.decision with input as object.union(base, {"scope": "scanner"})
	d.action == "tarpit"
	d.tarpit_ms == 1500
}

test_quarantine_is_diverted if {
	d := routing.decision with input as object.union(base, {"tenant": "quarantine"})
	d.action == "divert"
	d.divert_to == "static"
}

test_first_matching_rule_wins if {
	d := routing.decision with input as object.union(base, {"tenant": "quarantine", "path": "/internal/x"})
	d.action == "deny"
}

strict := {
	"allow_all": false,
	"allowed": [{"tenant": "acme", "scopes": ["read"]}],
	"advanced": [],
	"tarpit_ms": 500,
}

test_allowed_list_when_not_allow_all if {
	routing.decision.action == "allow" with input as base with data.shieldx.rules as strict
}

test_deny_outside_the_allowed_list if {
	d := routing.decision with input as object.union(base, {"scope": "write"}) with data.shieldx.rules as strict
	d.action == "deny"
}

test_deny_unknown_tenant if {
	d := routing.decision with input as object.union(base, {"tenant": "other"}) with data.shieldx.rules as strict
	d.action == "deny"
}
