#!/usr/bin/env python3
"""Generates src/schema_fields.json from the published Tripletex OpenAPI spec: for each schema the
sandbox serves (and the schemas they reference, two levels deep), the property names and, for
object/array-of-object properties, the referenced schema name. The sandbox uses it to validate
`fields=` selections (unknown field -> 400 code 11000) and to expand nested selections.

Usage: python3 tools/gen_schema_fields.py ../../../shared/reference/tripletex-openapi-2.74.00.json > src/schema_fields.json
"""
import json, sys

ROOTS = ["Client", "Company", "LoggedInUserInfo", "SessionToken", "Customer", "Invoice", "Posting",
         "Voucher", "Account", "PostingRules", "CloseGroup", "VoucherType"]
DEPTH = 3

spec = json.load(open(sys.argv[1]))
schemas = spec["components"]["schemas"]

def target(prop):
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    if prop.get("type") == "array" and "$ref" in prop.get("items", {}):
        return prop["items"]["$ref"].rsplit("/", 1)[-1]
    return None

out = {}
frontier = list(ROOTS)
for _ in range(DEPTH):
    nxt = []
    for name in frontier:
        if name in out or name not in schemas:
            continue
        props = schemas[name].get("properties", {})
        out[name] = {k: target(v) for k, v in props.items()}
        nxt.extend(t for t in out[name].values() if t)
    frontier = nxt
json.dump(dict(sorted(out.items())), sys.stdout, separators=(",", ":"), sort_keys=True)
print()
