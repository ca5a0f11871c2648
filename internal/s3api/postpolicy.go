package s3api

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// The policy document of a browser-form upload (POST Object): a JSON
// object whose "expiration" (ISO 8601, UTC) ends its validity and whose
// "conditions" each form field must meet. The names "expiration" and
// "conditions" are case-sensitive; operators and field names are not.

// maxPolicyDocument bounds the decoded policy (S3 allows 20 KB).
const maxPolicyDocument = 20 << 10

// maxPolicyConditions bounds the conditions of one policy.
const maxPolicyConditions = 100

// postCondition is one condition of a policy: eq or starts-with on a
// form field (lower-case, without its "$"), or content-length-range.
type postCondition struct {
	Op       string // "eq", "starts-with" or "content-length-range"
	Field    string
	Value    string
	Min, Max int64
}

// postPolicy is a parsed policy document.
type postPolicy struct {
	Expiration time.Time
	Conditions []postCondition
}

func invalidPolicy(format string, args ...any) error {
	return s3Error("InvalidPolicyDocument", "invalid policy document: "+format, args...)
}

// parsePostPolicy parses a decoded policy document.
func parsePostPolicy(doc []byte) (*postPolicy, error) {
	if len(doc) > maxPolicyDocument {
		return nil, invalidPolicy("larger than %d bytes", maxPolicyDocument)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil || top == nil {
		return nil, invalidPolicy("not a JSON object")
	}
	var p postPolicy
	var exp string
	if raw, ok := top["expiration"]; !ok || json.Unmarshal(raw, &exp) != nil {
		return nil, invalidPolicy("the policy must contain an \"expiration\" string")
	}
	t, err := time.Parse(time.RFC3339Nano, exp)
	if err != nil || !strings.HasSuffix(exp, "Z") {
		return nil, invalidPolicy("the expiration %q is not an ISO 8601 UTC time (2006-01-02T15:04:05Z)", clip(exp))
	}
	p.Expiration = t
	var conds []json.RawMessage
	if raw, ok := top["conditions"]; !ok || json.Unmarshal(raw, &conds) != nil || conds == nil {
		return nil, invalidPolicy("the policy must contain a \"conditions\" list")
	}
	if len(conds) > maxPolicyConditions {
		return nil, invalidPolicy("more than %d conditions", maxPolicyConditions)
	}
	for _, raw := range conds {
		c, err := parsePostCondition(raw)
		if err != nil {
			return nil, err
		}
		p.Conditions = append(p.Conditions, c)
	}
	return &p, nil
}

// parsePostCondition parses {"field": "value"}, [op, "$field", "value"]
// or ["content-length-range", min, max].
func parsePostCondition(raw json.RawMessage) (postCondition, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' {
		var m map[string]string
		if err := json.Unmarshal(raw, &m); err != nil || len(m) != 1 {
			return postCondition{}, invalidPolicy("a condition object must hold exactly one field and its string value")
		}
		for k, v := range m {
			return postCondition{Op: "eq", Field: strings.ToLower(strings.TrimPrefix(k, "$")), Value: v}, nil
		}
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
		return postCondition{}, invalidPolicy("a condition must be an object or a list")
	}
	var op string
	if err := json.Unmarshal(list[0], &op); err != nil {
		return postCondition{}, invalidPolicy("a condition list must start with its operator")
	}
	op = strings.ToLower(op)
	switch op {
	case "eq", "starts-with":
		var field, value string
		if len(list) != 3 || json.Unmarshal(list[1], &field) != nil || json.Unmarshal(list[2], &value) != nil ||
			!strings.HasPrefix(field, "$") || len(field) < 2 {
			return postCondition{}, invalidPolicy("%s takes a \"$field\" and a string value", op)
		}
		return postCondition{Op: op, Field: strings.ToLower(field[1:]), Value: value}, nil
	case "content-length-range":
		var lo, hi float64
		if len(list) != 3 || json.Unmarshal(list[1], &lo) != nil || json.Unmarshal(list[2], &hi) != nil ||
			lo < 0 || hi < lo || lo != math.Trunc(lo) || hi != math.Trunc(hi) || hi > math.MaxInt64/2 {
			return postCondition{}, invalidPolicy("content-length-range takes two whole numbers, 0 <= min <= max")
		}
		return postCondition{Op: op, Min: int64(lo), Max: int64(hi)}, nil
	}
	return postCondition{}, invalidPolicy("unknown condition operator %q", clip(op))
}

// postPolicyFree are the form fields no condition needs to name: the
// signature's own fields, the file, fields prefixed x-ignore-, and the
// checksums (which only constrain the upload).
func postPolicyFree(field string) bool {
	switch field {
	case "policy", "signature", "awsaccesskeyid", "x-amz-signature", "x-amz-algorithm", "x-amz-credential", "x-amz-date",
		"x-amz-security-token", "file":
		return true
	}
	return strings.HasPrefix(field, "x-ignore-") || strings.HasPrefix(field, "x-amz-checksum-")
}

// check verifies the policy against the form's fields (lower-case names,
// including "bucket", the bucket the form is posted to) at time now: not
// expired, every condition met, every field named by a condition. It
// returns the size range the file must fall in (0, -1 when unbounded).
func (p *postPolicy) check(fields map[string]string, now time.Time) (lo, hi int64, err error) {
	if !now.Before(p.Expiration) {
		return 0, 0, s3Error("AccessDenied", "invalid according to policy: policy expired")
	}
	lo, hi = 0, -1
	named := map[string]bool{}
	for _, c := range p.Conditions {
		if c.Op == "content-length-range" {
			lo, hi = c.Min, c.Max
			continue
		}
		named[c.Field] = true
		v, ok := fields[c.Field]
		if !ok {
			return 0, 0, s3Error("AccessDenied", "invalid according to policy: policy condition failed: the form has no field %q", clip(c.Field))
		}
		if (c.Op == "eq" && v != c.Value) || (c.Op == "starts-with" && !strings.HasPrefix(v, c.Value)) {
			return 0, 0, s3Error("AccessDenied", "invalid according to policy: policy condition failed: [%q, \"$%s\", %q]", c.Op, clip(c.Field), clip(c.Value))
		}
	}
	for f := range fields {
		if f != "bucket" && !named[f] && !postPolicyFree(f) {
			return 0, 0, s3Error("AccessDenied", "invalid according to policy: extra input fields: %s", clip(f))
		}
	}
	return lo, hi, nil
}
