package awsemu

import (
	"encoding/json"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

type kmsOp struct {
	run     func(s *Server, c *call) (any, error)
	mutates bool // the state file is rewritten after success
}

// kmsOps is the route table of the KMS JSON protocol.
var kmsOps = map[string]kmsOp{
	"CreateKey":                       {(*Server).createKey, true},
	"DescribeKey":                     {(*Server).describeKey, false},
	"ListKeys":                        {(*Server).listKeys, false},
	"EnableKey":                       {(*Server).enableKey, true},
	"DisableKey":                      {(*Server).disableKey, true},
	"ScheduleKeyDeletion":             {(*Server).scheduleKeyDeletion, true},
	"CancelKeyDeletion":               {(*Server).cancelKeyDeletion, true},
	"EnableKeyRotation":               {(*Server).enableKeyRotation, true},
	"DisableKeyRotation":              {(*Server).disableKeyRotation, true},
	"GetKeyRotationStatus":            {(*Server).getKeyRotationStatus, false},
	"RotateKeyOnDemand":               {(*Server).rotateKeyOnDemand, true},
	"ListKeyRotations":                {(*Server).listKeyRotations, false},
	"ReplicateKey":                    {(*Server).replicateKey, true},
	"UpdatePrimaryRegion":             {(*Server).updatePrimaryRegion, true},
	"GetKeyPolicy":                    {(*Server).getKeyPolicy, false},
	"PutKeyPolicy":                    {(*Server).putKeyPolicy, true},
	"TagResource":                     {(*Server).tagResource, true},
	"UntagResource":                   {(*Server).untagResource, true},
	"ListResourceTags":                {(*Server).listResourceTags, false},
	"CreateAlias":                     {(*Server).createAlias, true},
	"UpdateAlias":                     {(*Server).updateAlias, true},
	"DeleteAlias":                     {(*Server).deleteAlias, true},
	"ListAliases":                     {(*Server).listAliases, false},
	"Encrypt":                         {(*Server).encrypt, false},
	"Decrypt":                         {(*Server).decrypt, false},
	"ReEncrypt":                       {(*Server).reEncrypt, false},
	"GenerateDataKey":                 {(*Server).generateDataKey, false},
	"GenerateDataKeyWithoutPlaintext": {(*Server).generateDataKeyWithoutPlaintext, false},
	"GetPublicKey":                    {(*Server).getPublicKey, false},
	"CreateGrant":                     {(*Server).createGrant, true},
	"ListGrants":                      {(*Server).listGrants, false},
	"RevokeGrant":                     {(*Server).revokeGrant, true},
	"RetireGrant":                     {(*Server).retireGrant, true},
}

// decode reads a JSON request into T. A body that is not a JSON object of the
// right shapes is a SerializationException, as on KMS.
func decode[T any](c *call) (*T, error) {
	v := new(T)
	if len(c.body) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, serializationErr("Start of structure or map found where not expected.")
		}
		return nil, serializationErr("%s", err.Error())
	}
	return v, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed response types are marshalled
	}
	return b
}

// epoch is a timestamp in the JSON protocols' format: seconds since the epoch.
type epoch time.Time

func (e epoch) MarshalJSON() ([]byte, error) {
	t := time.Time(e)
	return strconv.AppendFloat(nil, math.Round(float64(t.UnixMilli()))/1000, 'f', -1, 64), nil
}

func epochPtr(t time.Time) *epoch {
	if t.IsZero() {
		return nil
	}
	e := epoch(t)
	return &e
}

func required(name, v string) error {
	if v == "" {
		return validationErr("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", name)
	}
	return nil
}

// resolveKey finds the key a KeyId parameter names: a key id or alias name in
// the caller's account and region, or a key or alias ARN. Aliases are
// accepted only where KMS accepts them.
func (s *Server) resolveKey(c *call, ref string, allowAlias bool) (*key, error) {
	if err := required("keyId", ref); err != nil {
		return nil, err
	}
	region, acct, res := c.region, c.p.Account, ref
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[1] != "aws" || parts[2] != "kms" || parts[3] != c.region || !accountIDRe.MatchString(parts[4]) {
			return nil, notFoundErr("Invalid arn %s", ref)
		}
		acct, res = parts[4], parts[5]
	}
	if strings.HasPrefix(res, "alias/") {
		if !allowAlias {
			return nil, notFoundErr("Invalid keyId %s", ref)
		}
		return s.resolveAlias(region, acct, res)
	}
	id, ok := strings.CutPrefix(res, "key/")
	if strings.HasPrefix(ref, "arn:") && !ok {
		return nil, notFoundErr("Invalid arn %s", ref)
	}
	k := s.st.Keys[keyARN(region, acct, id)]
	if k == nil {
		return nil, notFoundErr("Key '%s' does not exist", keyARN(region, acct, id))
	}
	return k, nil
}

func (s *Server) resolveAlias(region, acct, name string) (*key, error) {
	arn := aliasARN(region, acct, name)
	a := s.st.Aliases[arn]
	if a == nil {
		return nil, notFoundErr("Alias %s is not found.", arn)
	}
	k := s.st.Keys[keyARN(region, acct, a.KeyID)]
	if k == nil {
		return nil, notFoundErr("Alias %s is not found.", arn)
	}
	return k, nil
}

// keyFor resolves ref and authorizes action on the key, recording the key in
// the event.
func (s *Server) keyFor(c *call, ref string, allowAlias bool, action string, ctx map[string][]string) (*key, error) {
	k, err := s.resolveKey(c, ref, allowAlias)
	if err != nil {
		return nil, err
	}
	c.ev.Resources = append(c.ev.Resources, k.ARN)
	if err := s.authorizeKey(c, k, action, ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// usable reports the error KMS gives for a cryptographic operation on a key
// that is not enabled.
func usable(k *key) error {
	switch k.State {
	case stateEnabled:
		return nil
	case stateDisabled:
		return errf(400, "DisabledException", "%s is disabled.", k.ARN)
	}
	return invalidStateErr("%s is pending deletion.", k.ARN)
}

// notPendingDeletion is the check of management operations that KMS refuses
// on keys pending deletion.
func notPendingDeletion(k *key) error {
	if k.State == statePendingDeletion || k.State == statePendingReplicaDeletion {
		return invalidStateErr("%s is pending deletion.", k.ARN)
	}
	return nil
}

// page slices items for the List operations' Limit and Marker; the marker is
// the offset of the next item.
func page[T any](items []T, limit *int32, marker string) (out []T, next string, err error) {
	n := 100
	if limit != nil {
		if *limit < 1 || *limit > 1000 {
			return nil, "", validationErr("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *limit)
		}
		n = int(*limit)
	}
	start := 0
	if marker != "" {
		start, err = strconv.Atoi(marker)
		if err != nil || start < 0 || start > len(items) {
			return nil, "", errf(400, "InvalidMarkerException", "Invalid marker %s", marker)
		}
	}
	end := min(start+n, len(items))
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// encryptionContextKeys turns an encryption context into the
// kms:EncryptionContext:<k> and kms:EncryptionContextKeys condition keys.
func encryptionContextKeys(ec map[string]string) map[string][]string {
	ctx := map[string][]string{}
	for k, v := range ec {
		ctx["kms:EncryptionContext:"+k] = []string{v}
		ctx["kms:EncryptionContextKeys"] = append(ctx["kms:EncryptionContextKeys"], k)
	}
	return ctx
}

func checkContext(ec map[string]string) error {
	for k := range ec {
		if k == "" {
			return validationErr("Encryption context keys must not be empty")
		}
	}
	if len(mustJSON(ec)) > 8192 {
		return validationErr("Encryption context is too large")
	}
	return nil
}

func lengthErr(field string, n, lo, hi int) error {
	if n < lo || n > hi {
		return validationErr("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between %d and %d", field, lo, hi)
	}
	return nil
}
