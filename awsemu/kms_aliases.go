package awsemu

import (
	"regexp"
	"strings"
)

var aliasNameRe = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)

type aliasInput struct {
	AliasName, TargetKeyId, KeyId string
	Limit                         *int32
	Marker                        string
}

func checkAliasName(name string) error {
	if err := required("aliasName", name); err != nil {
		return err
	}
	if !aliasNameRe.MatchString(name) {
		return validationErr("1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", name)
	}
	if strings.HasPrefix(name, "alias/aws/") {
		return errf(400, "InvalidAliasNameException", "Alias names starting with alias/aws/ are reserved for AWS managed keys")
	}
	return nil
}

// aliasTarget resolves the key an alias is to point at: a key id or key ARN
// in the caller's account and region, usable for an alias.
func (s *Server) aliasTarget(c *call, ref, action string) (*key, error) {
	k, err := s.keyFor(c, ref, false, action, nil)
	if err != nil {
		return nil, err
	}
	if k.Account != c.p.Account {
		return nil, notFoundErr("Key '%s' does not exist", k.ARN)
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Server) createAlias(c *call) (any, error) {
	in, err := decode[aliasInput](c)
	if err != nil {
		return nil, err
	}
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	k, err := s.aliasTarget(c, in.TargetKeyId, "kms:CreateAlias")
	if err != nil {
		return nil, err
	}
	arn := aliasARN(c.region, c.p.Account, in.AliasName)
	if s.st.Aliases[arn] != nil {
		return nil, errf(400, "AlreadyExistsException", "An alias with the name %s already exists", arn)
	}
	now := s.now()
	s.st.Aliases[arn] = &alias{Name: in.AliasName, ARN: arn, Account: c.p.Account, Region: c.region, KeyID: k.ID, Created: now, Updated: now}
	return struct{}{}, nil
}

// ownAlias finds an alias of the caller's account in the request's region.
func (s *Server) ownAlias(c *call, name string) (*alias, error) {
	if err := checkAliasName(name); err != nil {
		return nil, err
	}
	arn := aliasARN(c.region, c.p.Account, name)
	a := s.st.Aliases[arn]
	if a == nil {
		return nil, notFoundErr("Alias %s is not found.", arn)
	}
	return a, nil
}

func (s *Server) updateAlias(c *call) (any, error) {
	in, err := decode[aliasInput](c)
	if err != nil {
		return nil, err
	}
	a, err := s.ownAlias(c, in.AliasName)
	if err != nil {
		return nil, err
	}
	if _, err := s.aliasTarget(c, a.KeyID, "kms:UpdateAlias"); err != nil {
		return nil, err
	}
	k, err := s.aliasTarget(c, in.TargetKeyId, "kms:UpdateAlias")
	if err != nil {
		return nil, err
	}
	old := s.st.Keys[keyARN(c.region, c.p.Account, a.KeyID)]
	if old != nil && old.symmetric() != k.symmetric() {
		return nil, validationErr("The new target key must have the same key type and key usage as the current target key")
	}
	a.KeyID, a.Updated = k.ID, s.now()
	return struct{}{}, nil
}

func (s *Server) deleteAlias(c *call) (any, error) {
	in, err := decode[aliasInput](c)
	if err != nil {
		return nil, err
	}
	a, err := s.ownAlias(c, in.AliasName)
	if err != nil {
		return nil, err
	}
	k := s.st.Keys[keyARN(c.region, c.p.Account, a.KeyID)]
	if k != nil {
		c.ev.Resources = append(c.ev.Resources, k.ARN)
		if err := s.authorizeKey(c, k, "kms:DeleteAlias", nil); err != nil {
			return nil, err
		}
	}
	delete(s.st.Aliases, a.ARN)
	return struct{}{}, nil
}

type aliasEntry struct {
	AliasName, AliasArn string
	TargetKeyId         string `json:",omitempty"`
	CreationDate        epoch
	LastUpdatedDate     epoch
}

func (s *Server) listAliases(c *call) (any, error) {
	in, err := decode[aliasInput](c)
	if err != nil {
		return nil, err
	}
	filter := ""
	if in.KeyId != "" {
		k, err := s.keyFor(c, in.KeyId, false, "kms:ListAliases", nil)
		if err != nil {
			return nil, err
		}
		filter = k.ID
	} else if err := s.authorizeIdentity(c, "kms:ListAliases"); err != nil {
		return nil, err
	}
	var all []aliasEntry
	for _, arn := range sortedKeys(s.st.Aliases) {
		a := s.st.Aliases[arn]
		if a.Account == c.p.Account && a.Region == c.region && (filter == "" || a.KeyID == filter) {
			all = append(all, aliasEntry{a.Name, a.ARN, a.KeyID, epoch(a.Created), epoch(a.Updated)})
		}
	}
	items, next, err := page(all, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return listOutput("Aliases", items, next), nil
}
