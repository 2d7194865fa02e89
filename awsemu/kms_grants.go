package awsemu

import (
	"encoding/base64"
	"regexp"
	"slices"
)

// grantOperations are the operations a grant may allow.
var grantOperations = []string{
	"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
	"CreateGrant", "RetireGrant", "DescribeKey", "GetPublicKey", "GenerateDataKeyPair",
	"GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
}

var principalARNRe = regexp.MustCompile(`^arn:aws:(iam|sts)::[0-9]{12}:(root|user/.+|role/.+|assumed-role/.+)$`)

type grantConstraints struct {
	EncryptionContextSubset map[string]string `json:",omitempty"`
	EncryptionContextEquals map[string]string `json:",omitempty"`
}

type grantInput struct {
	KeyId, GranteePrincipal, RetiringPrincipal, Name, GrantId, GrantToken string
	Operations                                                            []string
	Constraints                                                           *grantConstraints
	GrantTokens                                                           []string
	Limit                                                                 *int32
	Marker                                                                string
}

func checkGrant(in *grantInput) error {
	if !principalARNRe.MatchString(in.GranteePrincipal) {
		return validationErr("1 validation error detected: Value '%s' at 'granteePrincipal' failed to satisfy constraint: Member must be a valid principal ARN", in.GranteePrincipal)
	}
	if in.RetiringPrincipal != "" && !principalARNRe.MatchString(in.RetiringPrincipal) {
		return validationErr("1 validation error detected: Value '%s' at 'retiringPrincipal' failed to satisfy constraint: Member must be a valid principal ARN", in.RetiringPrincipal)
	}
	if len(in.Operations) == 0 {
		return validationErr("1 validation error detected: Value null at 'operations' failed to satisfy constraint: Member must not be null")
	}
	for _, op := range in.Operations {
		if !slices.Contains(grantOperations, op) {
			return validationErr("1 validation error detected: Value '%s' at 'operations' failed to satisfy constraint: Member must satisfy enum value set", op)
		}
	}
	if c := in.Constraints; c != nil && c.EncryptionContextEquals != nil && c.EncryptionContextSubset != nil {
		return validationErr("Only one of EncryptionContextEquals and EncryptionContextSubset may be set")
	}
	return nil
}

func (s *Server) createGrant(c *call) (any, error) {
	in, err := decode[grantInput](c)
	if err != nil {
		return nil, err
	}
	if err := checkGrant(in); err != nil {
		return nil, err
	}
	ctx := map[string][]string{
		"kms:GranteePrincipal":      {in.GranteePrincipal},
		"kms:GrantOperations":       in.Operations,
		"kms:GrantIsForAWSResource": {"false"},
	}
	if in.RetiringPrincipal != "" {
		ctx["kms:RetiringPrincipal"] = []string{in.RetiringPrincipal}
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:CreateGrant", ctx)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	if len(k.Grants) >= 50000 {
		return nil, errf(400, "LimitExceededException", "Too many grants for %s", k.ARN)
	}
	g := s.newGrant(c, k, in)
	return map[string]any{"GrantId": g.ID, "GrantToken": g.Token}, nil
}

func (s *Server) newGrant(c *call, k *key, in *grantInput) *grant {
	// A repeated CreateGrant with the same name and settings returns the same grant, as on KMS.
	for _, g := range k.Grants {
		if in.Name != "" && g.Name == in.Name && g.Grantee == in.GranteePrincipal && slices.Equal(g.Operations, in.Operations) {
			return g
		}
	}
	id := randomHex(32)
	g := &grant{
		ID: id, Token: base64.RawURLEncoding.EncodeToString(append([]byte(id), randomBytes(32)...)), Name: in.Name,
		Created: s.now(), Grantee: in.GranteePrincipal, Retiring: in.RetiringPrincipal,
		IssuingAccount: rootARN(c.p.Account), Operations: slices.Clone(in.Operations),
	}
	if in.Constraints != nil {
		g.ContextSubset, g.ContextEquals = in.Constraints.EncryptionContextSubset, in.Constraints.EncryptionContextEquals
	}
	k.Grants = append(k.Grants, g)
	return g
}

type grantEntry struct {
	KeyId, GrantId, Name, GranteePrincipal, IssuingAccount string
	RetiringPrincipal                                      string `json:",omitempty"`
	CreationDate                                           epoch
	Operations                                             []string
	Constraints                                            *grantConstraints `json:",omitempty"`
}

func (s *Server) listGrants(c *call) (any, error) {
	in, err := decode[grantInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:ListGrants", nil)
	if err != nil {
		return nil, err
	}
	var all []grantEntry
	for _, g := range k.Grants {
		if (in.GrantId == "" || g.ID == in.GrantId) && (in.GranteePrincipal == "" || g.Grantee == in.GranteePrincipal) {
			all = append(all, entryOf(k, g))
		}
	}
	items, next, err := page(all, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return listOutput("Grants", items, next), nil
}

func entryOf(k *key, g *grant) grantEntry {
	e := grantEntry{
		KeyId: k.ARN, GrantId: g.ID, Name: g.Name, GranteePrincipal: g.Grantee, IssuingAccount: g.IssuingAccount,
		RetiringPrincipal: g.Retiring, CreationDate: epoch(g.Created), Operations: g.Operations,
	}
	if g.ContextEquals != nil || g.ContextSubset != nil {
		e.Constraints = &grantConstraints{g.ContextSubset, g.ContextEquals}
	}
	return e
}

func (s *Server) revokeGrant(c *call) (any, error) {
	in, err := decode[grantInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:RevokeGrant", nil)
	if err != nil {
		return nil, err
	}
	if !removeGrant(k, in.GrantId) {
		return nil, notFoundErr("Grant ID %s not found", in.GrantId)
	}
	return struct{}{}, nil
}

func removeGrant(k *key, id string) bool {
	i := slices.IndexFunc(k.Grants, func(g *grant) bool { return g.ID == id })
	if i < 0 {
		return false
	}
	k.Grants = slices.Delete(k.Grants, i, i+1)
	return true
}

// retireGrant lets the retiring principal, the grantee (when the grant allows
// RetireGrant) or the issuing account retire a grant, found by token or by key
// and id.
func (s *Server) retireGrant(c *call) (any, error) {
	in, err := decode[grantInput](c)
	if err != nil {
		return nil, err
	}
	k, g, err := s.findGrant(c, in)
	if err != nil {
		return nil, err
	}
	c.ev.Resources = append(c.ev.Resources, k.ARN)
	me := []string{c.p.ARN, c.p.RoleARN}
	allowed := slices.Contains(me, g.Retiring) ||
		(slices.Contains(me, g.Grantee) && slices.Contains(g.Operations, "RetireGrant")) ||
		g.IssuingAccount == rootARN(c.p.Account)
	if !allowed {
		return nil, accessDenied(c, "kms:RetireGrant", k.ARN, "because no resource-based policy allows the kms:RetireGrant action")
	}
	removeGrant(k, g.ID)
	return struct{}{}, nil
}

func (s *Server) findGrant(c *call, in *grantInput) (*key, *grant, error) {
	if in.GrantToken != "" {
		for _, k := range s.st.Keys {
			for _, g := range k.Grants {
				if g.Token == in.GrantToken {
					return k, g, nil
				}
			}
		}
		return nil, nil, errf(400, "InvalidGrantTokenException", "Grant token is invalid")
	}
	if in.KeyId == "" || in.GrantId == "" {
		return nil, nil, validationErr("Either GrantToken, or both KeyId and GrantId must be specified")
	}
	k, err := s.resolveKey(c, in.KeyId, false)
	if err != nil {
		return nil, nil, err
	}
	i := slices.IndexFunc(k.Grants, func(g *grant) bool { return g.ID == in.GrantId })
	if i < 0 {
		return nil, nil, errf(400, "InvalidGrantIdException", "Grant ID %s not found", in.GrantId)
	}
	return k, k.Grants[i], nil
}
