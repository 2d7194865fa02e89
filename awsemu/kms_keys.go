package awsemu

import (
	"slices"
	"strings"
	"time"
)

type keyMetadata struct {
	AWSAccountId                string
	KeyId                       string
	Arn                         string
	CreationDate                epoch
	Enabled                     bool
	Description                 string
	KeyUsage                    string
	KeyState                    string
	DeletionDate                *epoch `json:",omitempty"`
	PendingDeletionWindowInDays int    `json:",omitempty"`
	Origin                      string
	KeyManager                  string
	CustomerMasterKeySpec       string
	KeySpec                     string
	EncryptionAlgorithms        []string
	MultiRegion                 bool
	MultiRegionConfiguration    *multiRegionConfig `json:",omitempty"`
}

type multiRegionConfig struct {
	MultiRegionKeyType string
	PrimaryKey         regionKey
	ReplicaKeys        []regionKey
}

type regionKey struct{ Arn, Region string }

func encryptionAlgorithms(k *key) []string {
	if k.symmetric() {
		return []string{algSymmetric}
	}
	return []string{algOAEPSHA1, algOAEPSHA256}
}

func (s *Server) metadata(k *key) *keyMetadata {
	m := &keyMetadata{
		AWSAccountId: k.Account, KeyId: k.ID, Arn: k.ARN, CreationDate: epoch(k.Created),
		Enabled: k.State == stateEnabled, Description: k.Description, KeyUsage: "ENCRYPT_DECRYPT",
		KeyState: k.State, DeletionDate: epochPtr(k.DeletionDate), Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: k.Spec, KeySpec: k.Spec, EncryptionAlgorithms: encryptionAlgorithms(k),
		MultiRegion: k.MultiRegion,
	}
	// AWS reports the window only while a primary waits for its replicas;
	// a key pending deletion has its DeletionDate instead.
	if k.State == statePendingReplicaDeletion {
		m.PendingDeletionWindowInDays = k.PendingWindow
	}
	if k.MultiRegion {
		m.MultiRegionConfiguration = s.multiRegionConfig(k)
	}
	return m
}

// related returns the keys sharing k's material: a multi-Region key's primary
// and replicas, ordered by region.
func (s *Server) related(k *key) []*key {
	var out []*key
	for _, r := range s.regions {
		if o := s.st.Keys[keyARN(r, k.Account, k.ID)]; o != nil && o.MaterialID == k.MaterialID {
			out = append(out, o)
		}
	}
	return out
}

func (s *Server) multiRegionConfig(k *key) *multiRegionConfig {
	primary := s.st.Materials[k.MaterialID].PrimaryRegion
	cfg := &multiRegionConfig{MultiRegionKeyType: "REPLICA", ReplicaKeys: []regionKey{}}
	if k.Region == primary {
		cfg.MultiRegionKeyType = "PRIMARY"
	}
	cfg.PrimaryKey = regionKey{Arn: keyARN(primary, k.Account, k.ID), Region: primary}
	for _, o := range s.related(k) {
		if o.Region != primary {
			cfg.ReplicaKeys = append(cfg.ReplicaKeys, regionKey{Arn: o.ARN, Region: o.Region})
		}
	}
	return cfg
}

func (s *Server) isPrimary(k *key) bool {
	return !k.MultiRegion || s.st.Materials[k.MaterialID].PrimaryRegion == k.Region
}

type tag struct{ TagKey, TagValue string }

type createKeyInput struct {
	Policy, Description, KeyUsage, KeySpec, CustomerMasterKeySpec, Origin string
	MultiRegion                                                           bool
	Tags                                                                  []tag
	BypassPolicyLockoutSafetyCheck                                        bool
}

func (s *Server) createKey(c *call) (any, error) {
	in, err := decode[createKeyInput](c)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, "kms:CreateKey"); err != nil {
		return nil, err
	}
	spec, err := checkCreateKey(in)
	if err != nil {
		return nil, err
	}
	if err := s.checkKeyPolicy(in.Policy); err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	k, err := s.addKey(c.p.Account, c.region, spec, in.MultiRegion, in.Policy)
	if err != nil {
		return nil, err
	}
	k.Description, k.Tags = in.Description, tags
	c.ev.Resources = []string{k.ARN}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

func checkCreateKey(in *createKeyInput) (string, error) {
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	}
	if spec == "" {
		spec = specSymmetric
	}
	if _, rsa := rsaBits[spec]; spec != specSymmetric && !rsa {
		return "", unsupportedErr("KeySpec %s is not supported by this emulator", spec)
	}
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" {
		return "", unsupportedErr("KeyUsage %s is not supported by this emulator", in.KeyUsage)
	}
	if in.Origin != "" && in.Origin != "AWS_KMS" {
		return "", unsupportedErr("Origin %s is not supported by this emulator", in.Origin)
	}
	if len(in.Description) > 8192 {
		return "", validationErr("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	return spec, nil
}

func checkPolicy(doc string) error {
	if doc == "" {
		return nil
	}
	if len(doc) > 32768 {
		return validationErr("1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 32768")
	}
	if _, err := parsePolicy(doc); err != nil {
		return errf(400, "MalformedPolicyDocumentException", "%s", err.Error())
	}
	return nil
}

// checkKeyPolicy is checkPolicy, and KMS's refusal of a key policy naming
// a user or role that does not exist (as when the key's policy names a
// role of another account created after it). Only the world's accounts are
// known: a principal of any other account is accepted.
func (s *Server) checkKeyPolicy(doc string) error {
	if err := checkPolicy(doc); err != nil || doc == "" {
		return err
	}
	pol, err := parsePolicy(doc)
	if err != nil {
		return err
	}
	for _, st := range pol.Statements {
		if st.Principal == nil {
			continue
		}
		for _, p := range st.Principal.AWS {
			if !s.principalKnown(p) {
				return errf(400, "MalformedPolicyDocumentException", "Policy contains a statement with one or more invalid principals.")
			}
		}
	}
	return nil
}

// principalKnown reports whether an IAM user or role ARN names an
// existing entity, or names an account the world does not hold; every
// other principal (account id, root ARN, session ARN) is accepted.
func (s *Server) principalKnown(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return true
	}
	acct, res, ok := strings.Cut(rest, ":")
	a := s.st.Accounts[acct]
	if !ok || a == nil {
		return true
	}
	kind, path, ok := strings.Cut(res, "/")
	name := path[strings.LastIndex(path, "/")+1:]
	switch {
	case !ok:
		return true
	case kind == "role":
		return a.Roles[name] != nil
	case kind == "user":
		return a.Users[name] != nil
	}
	return true
}

// defaultKeyPolicy is the policy KMS gives a key created without one: the
// account root may do everything, which delegates to IAM policies.
func defaultKeyPolicy(account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` +
		account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// addKey creates a key with fresh material.
func (s *Server) addKey(account, region, spec string, multiRegion bool, policy string) (*key, error) {
	now := s.now()
	m, err := newMaterial(spec, now)
	if err != nil {
		return nil, err
	}
	if multiRegion {
		m.PrimaryRegion = region
	}
	if policy == "" {
		policy = defaultKeyPolicy(account)
	}
	id := newKeyID(multiRegion)
	k := &key{
		ID: id, ARN: keyARN(region, account, id), Account: account, Region: region, Spec: spec,
		State: stateEnabled, Created: now, Policy: policy, MultiRegion: multiRegion, MaterialID: m.ID,
		Tags: map[string]string{},
	}
	s.st.Materials[m.ID] = m
	s.st.Keys[k.ARN] = k
	return k, nil
}

type keyIDInput struct {
	KeyId       string
	GrantTokens []string
}

func (s *Server) describeKey(c *call) (any, error) {
	in, err := decode[keyIDInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, true, "kms:DescribeKey", nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

type listInput struct {
	KeyId  string
	Limit  *int32
	Marker string
}

func (s *Server) listKeys(c *call) (any, error) {
	in, err := decode[listInput](c)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeIdentity(c, "kms:ListKeys"); err != nil {
		return nil, err
	}
	type entry struct{ KeyId, KeyArn string }
	var all []entry
	for _, arn := range sortedKeys(s.st.Keys) {
		k := s.st.Keys[arn]
		if k.Account == c.p.Account && k.Region == c.region {
			all = append(all, entry{k.ID, k.ARN})
		}
	}
	items, next, err := page(all, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return listOutput("Keys", items, next), nil
}

func listOutput[T any](name string, items []T, next string) map[string]any {
	if items == nil {
		items = []T{}
	}
	out := map[string]any{name: items, "Truncated": next != ""}
	if next != "" {
		out["NextMarker"] = next
	}
	return out
}

func (s *Server) enableKey(c *call) (any, error) {
	return s.setEnabled(c, "kms:EnableKey", stateEnabled)
}

func (s *Server) disableKey(c *call) (any, error) {
	return s.setEnabled(c, "kms:DisableKey", stateDisabled)
}

func (s *Server) setEnabled(c *call, action, to string) (any, error) {
	in, err := decode[keyIDInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, action, nil)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	k.State = to
	return struct{}{}, nil
}

type scheduleInput struct {
	KeyId               string
	PendingWindowInDays *int32
}

func (s *Server) scheduleKeyDeletion(c *call) (any, error) {
	in, err := decode[scheduleInput](c)
	if err != nil {
		return nil, err
	}
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, validationErr("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:ScheduleKeyDeletion", nil)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	s.schedule(k, int(days))
	out := map[string]any{"KeyId": k.ARN, "KeyState": k.State, "PendingWindowInDays": days}
	if !k.DeletionDate.IsZero() {
		out["DeletionDate"] = epoch(k.DeletionDate)
	}
	return out, nil
}

// schedule starts k's deletion. A primary multi-Region key with replicas
// waits in PendingReplicaDeletion until they are gone; see sweep.
func (s *Server) schedule(k *key, days int) {
	k.PendingWindow = days
	if k.MultiRegion && s.isPrimary(k) && len(s.related(k)) > 1 {
		k.State, k.DeletionDate = statePendingReplicaDeletion, time.Time{}
		return
	}
	k.State, k.DeletionDate = statePendingDeletion, s.now().Add(time.Duration(days)*24*time.Hour)
	s.nextSweep = time.Time{}
}

func (s *Server) cancelKeyDeletion(c *call) (any, error) {
	in, err := decode[keyIDInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:CancelKeyDeletion", nil)
	if err != nil {
		return nil, err
	}
	if k.State != statePendingDeletion && k.State != statePendingReplicaDeletion {
		return nil, invalidStateErr("%s is not pending deletion.", k.ARN)
	}
	k.State, k.DeletionDate, k.PendingWindow = stateDisabled, time.Time{}, 0
	return map[string]any{"KeyId": k.ARN}, nil
}

// sweep applies what the clock has made due: deletions and automatic
// rotations. It runs before every operation, cheaply when nothing is due.
func (s *Server) sweep() {
	now := s.now()
	if !s.nextSweep.IsZero() && now.Before(s.nextSweep) {
		return
	}
	next := now.Add(24 * time.Hour)
	for _, arn := range sortedKeys(s.st.Keys) {
		k := s.st.Keys[arn]
		if k.State == statePendingDeletion && !now.Before(k.DeletionDate) {
			s.deleteKey(k)
		}
	}
	// Primaries whose replicas are all gone start their own waiting period.
	for _, k := range s.st.Keys {
		if k.State == statePendingReplicaDeletion && len(s.related(k)) == 1 {
			k.State, k.DeletionDate = statePendingDeletion, now.Add(time.Duration(k.PendingWindow)*24*time.Hour)
		}
		if k.State == statePendingDeletion {
			next = minTime(next, k.DeletionDate)
		}
	}
	for _, m := range s.st.Materials {
		next = minTime(next, s.rotateIfDue(m, now))
	}
	// A session is forgotten a day after it expires; its token still
	// carries the expiration (see sessionToken), so its use keeps
	// reporting ExpiredTokenException.
	for id, sess := range s.st.Sessions {
		if now.Sub(sess.Expiration) > 24*time.Hour {
			delete(s.st.Sessions, id)
		}
	}
	s.nextSweep = next
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// deleteKey removes a key for good, with its aliases; the material goes when
// no key uses it any more.
func (s *Server) deleteKey(k *key) {
	delete(s.st.Keys, k.ARN)
	for arn, a := range s.st.Aliases {
		if a.Account == k.Account && a.Region == k.Region && a.KeyID == k.ID {
			delete(s.st.Aliases, arn)
		}
	}
	for _, o := range s.st.Keys {
		if o.MaterialID == k.MaterialID {
			return
		}
	}
	delete(s.st.Materials, k.MaterialID)
}

func (s *Server) rotateIfDue(m *material, now time.Time) time.Time {
	if !m.Rotation || m.NextRotation.IsZero() {
		return now.Add(24 * time.Hour)
	}
	for !now.Before(m.NextRotation) {
		m.Versions = append(m.Versions, &backingKey{Secret: randomBytes(32), Created: m.NextRotation, Type: "AUTOMATIC"})
		m.NextRotation = m.NextRotation.Add(time.Duration(m.RotationPeriod) * 24 * time.Hour)
	}
	return m.NextRotation
}

type rotationInput struct {
	KeyId                string
	RotationPeriodInDays *int32
	Limit                *int32
	Marker               string
}

// rotationKey resolves a key for the rotation operations, which apply to
// symmetric keys and, for multi-Region keys, to the primary only.
func (s *Server) rotationKey(c *call, ref, action string, primaryOnly bool) (*key, *material, error) {
	k, err := s.keyFor(c, ref, false, action, nil)
	if err != nil {
		return nil, nil, err
	}
	if !k.symmetric() {
		return nil, nil, unsupportedErr("%s key type is not supported for this operation", k.Spec)
	}
	if primaryOnly && !s.isPrimary(k) {
		return nil, nil, unsupportedErr("%s is a multi-Region replica key; manage rotation on its primary key", k.ARN)
	}
	return k, s.st.Materials[k.MaterialID], nil
}

func (s *Server) enableKeyRotation(c *call) (any, error) {
	in, err := decode[rotationInput](c)
	if err != nil {
		return nil, err
	}
	period := int32(365)
	if in.RotationPeriodInDays != nil {
		period = *in.RotationPeriodInDays
	}
	if period < 90 || period > 2560 {
		return nil, validationErr("1 validation error detected: Value '%d' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value between 90 and 2560", period)
	}
	k, m, err := s.rotationKey(c, in.KeyId, "kms:EnableKeyRotation", true)
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	m.Rotation, m.RotationPeriod = true, int(period)
	m.NextRotation = s.now().Add(time.Duration(period) * 24 * time.Hour)
	s.nextSweep = time.Time{}
	return struct{}{}, nil
}

func (s *Server) disableKeyRotation(c *call) (any, error) {
	in, err := decode[rotationInput](c)
	if err != nil {
		return nil, err
	}
	k, m, err := s.rotationKey(c, in.KeyId, "kms:DisableKeyRotation", true)
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	m.Rotation, m.NextRotation = false, time.Time{}
	return struct{}{}, nil
}

func (s *Server) getKeyRotationStatus(c *call) (any, error) {
	in, err := decode[rotationInput](c)
	if err != nil {
		return nil, err
	}
	k, m, err := s.rotationKey(c, in.KeyId, "kms:GetKeyRotationStatus", false)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	out := map[string]any{"KeyId": k.ARN, "KeyRotationEnabled": m.Rotation}
	if m.Rotation {
		out["RotationPeriodInDays"] = m.RotationPeriod
		out["NextRotationDate"] = epoch(m.NextRotation)
	}
	return out, nil
}

func (s *Server) rotateKeyOnDemand(c *call) (any, error) {
	in, err := decode[rotationInput](c)
	if err != nil {
		return nil, err
	}
	k, m, err := s.rotationKey(c, in.KeyId, "kms:RotateKeyOnDemand", true)
	if err != nil {
		return nil, err
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if n := countOnDemand(m); n >= 25 {
		return nil, errf(400, "LimitExceededException", "The on-demand rotations limit has been reached for %s", k.ARN)
	}
	m.Versions = append(m.Versions, &backingKey{Secret: randomBytes(32), Created: s.now(), Type: "ON_DEMAND"})
	return map[string]any{"KeyId": k.ARN}, nil
}

func countOnDemand(m *material) int {
	n := 0
	for _, v := range m.Versions {
		if v.Type == "ON_DEMAND" {
			n++
		}
	}
	return n
}

func (s *Server) listKeyRotations(c *call) (any, error) {
	in, err := decode[rotationInput](c)
	if err != nil {
		return nil, err
	}
	k, m, err := s.rotationKey(c, in.KeyId, "kms:ListKeyRotations", false)
	if err != nil {
		return nil, err
	}
	type rotation struct {
		KeyId, RotationType string
		RotationDate        epoch
	}
	var all []rotation
	for _, v := range m.Versions[1:] {
		all = append(all, rotation{KeyId: k.ARN, RotationType: v.Type, RotationDate: epoch(v.Created)})
	}
	items, next, err := page(all, in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return listOutput("Rotations", items, next), nil
}

type replicateInput struct {
	KeyId, ReplicaRegion, Policy, Description string
	Tags                                      []tag
	BypassPolicyLockoutSafetyCheck            bool
}

func (s *Server) replicateKey(c *call) (any, error) {
	in, err := decode[replicateInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:ReplicateKey", nil)
	if err != nil {
		return nil, err
	}
	if err := s.checkReplicate(k, in); err != nil {
		return nil, err
	}
	tags, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	r := s.addReplica(k, in.ReplicaRegion, in.Policy)
	r.Description, r.Tags = in.Description, tags
	return map[string]any{"ReplicaKeyMetadata": s.metadata(r), "ReplicaPolicy": r.Policy, "ReplicaTags": tagList(r.Tags)}, nil
}

func (s *Server) checkReplicate(k *key, in *replicateInput) error {
	if !k.MultiRegion || !s.isPrimary(k) {
		return unsupportedErr("%s is not a multi-Region primary key", k.ARN)
	}
	if err := notPendingDeletion(k); err != nil {
		return err
	}
	if !slices.Contains(s.regions, in.ReplicaRegion) || in.ReplicaRegion == k.Region {
		return validationErr("%s is not a valid replica region", in.ReplicaRegion)
	}
	if s.st.Keys[keyARN(in.ReplicaRegion, k.Account, k.ID)] != nil {
		return errf(400, "AlreadyExistsException", "Replica key %s already exists", keyARN(in.ReplicaRegion, k.Account, k.ID))
	}
	return s.checkKeyPolicy(in.Policy)
}

func (s *Server) addReplica(k *key, region, policy string) *key {
	if policy == "" {
		policy = defaultKeyPolicy(k.Account)
	}
	r := &key{
		ID: k.ID, ARN: keyARN(region, k.Account, k.ID), Account: k.Account, Region: region, Spec: k.Spec,
		State: stateEnabled, Created: s.now(), Policy: policy, MultiRegion: true, MaterialID: k.MaterialID,
		Tags: map[string]string{},
	}
	s.st.Keys[r.ARN] = r
	return r
}

type updatePrimaryInput struct{ KeyId, PrimaryRegion string }

func (s *Server) updatePrimaryRegion(c *call) (any, error) {
	in, err := decode[updatePrimaryInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:UpdatePrimaryRegion", nil)
	if err != nil {
		return nil, err
	}
	if !k.MultiRegion || !s.isPrimary(k) {
		return nil, unsupportedErr("%s is not a multi-Region primary key", k.ARN)
	}
	if err := usable(k); err != nil {
		return nil, err
	}
	if s.st.Keys[keyARN(in.PrimaryRegion, k.Account, k.ID)] == nil {
		return nil, notFoundErr("Key '%s' does not exist", keyARN(in.PrimaryRegion, k.Account, k.ID))
	}
	s.st.Materials[k.MaterialID].PrimaryRegion = in.PrimaryRegion
	return struct{}{}, nil
}

type policyInput struct {
	KeyId, PolicyName, Policy      string
	BypassPolicyLockoutSafetyCheck bool
}

func checkPolicyName(name string) error {
	if name != "" && name != "default" {
		return notFoundErr("No such policy exists")
	}
	return nil
}

func (s *Server) getKeyPolicy(c *call) (any, error) {
	in, err := decode[policyInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:GetKeyPolicy", nil)
	if err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	return map[string]any{"Policy": k.Policy, "PolicyName": "default"}, nil
}

func (s *Server) putKeyPolicy(c *call) (any, error) {
	in, err := decode[policyInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:PutKeyPolicy", nil)
	if err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if err := required("policy", in.Policy); err != nil {
		return nil, err
	}
	if err := s.checkKeyPolicy(in.Policy); err != nil {
		return nil, err
	}
	k.Policy = in.Policy
	return struct{}{}, nil
}

type tagsInput struct {
	KeyId   string
	Tags    []tag
	TagKeys []string
	Limit   *int32
	Marker  string
}

func checkTags(tags []tag) (map[string]string, error) {
	m := map[string]string{}
	for _, t := range tags {
		if len(t.TagKey) < 1 || len(t.TagKey) > 128 || len(t.TagValue) > 256 {
			return nil, errf(400, "TagException", "Tag key must be 1 to 128 characters and tag value at most 256")
		}
		m[t.TagKey] = t.TagValue
	}
	if len(m) > 50 {
		return nil, errf(400, "LimitExceededException", "A key can have at most 50 tags")
	}
	return m, nil
}

func tagList(m map[string]string) []tag {
	out := []tag{}
	for _, k := range sortedKeys(m) {
		out = append(out, tag{k, m[k]})
	}
	return out
}

func (s *Server) tagResource(c *call) (any, error) {
	in, err := decode[tagsInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:TagResource", nil)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	add, err := checkTags(in.Tags)
	if err != nil {
		return nil, err
	}
	merged := map[string]string{}
	for _, m := range []map[string]string{k.Tags, add} {
		for n, v := range m {
			merged[n] = v
		}
	}
	if len(merged) > 50 {
		return nil, errf(400, "LimitExceededException", "A key can have at most 50 tags")
	}
	k.Tags = merged
	return struct{}{}, nil
}

func (s *Server) untagResource(c *call) (any, error) {
	in, err := decode[tagsInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:UntagResource", nil)
	if err != nil {
		return nil, err
	}
	if err := notPendingDeletion(k); err != nil {
		return nil, err
	}
	for _, t := range in.TagKeys {
		delete(k.Tags, t)
	}
	return struct{}{}, nil
}

func (s *Server) listResourceTags(c *call) (any, error) {
	in, err := decode[tagsInput](c)
	if err != nil {
		return nil, err
	}
	k, err := s.keyFor(c, in.KeyId, false, "kms:ListResourceTags", nil)
	if err != nil {
		return nil, err
	}
	items, next, err := page(tagList(k.Tags), in.Limit, in.Marker)
	if err != nil {
		return nil, err
	}
	return listOutput("Tags", items, next), nil
}
