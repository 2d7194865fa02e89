package awsemu

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// buildState turns a world into the emulator's state, creating its keys.
func buildState(w *World) (*state, error) {
	st := &state{
		Accounts: map[string]*account{}, Keys: map[string]*key{}, Materials: map[string]*material{},
		Aliases: map[string]*alias{}, Sessions: map[string]*session{}, SessionKey: randomBytes(32),
	}
	for _, a := range w.Accounts {
		if err := addAccount(st, &a); err != nil {
			return nil, fmt.Errorf("awsemu: world: account %s: %w", a.ID, err)
		}
	}
	s := &Server{st: st, regions: w.Regions}
	for _, a := range w.Accounts {
		for _, k := range a.Keys {
			if err := s.addWorldKey(a.ID, &k); err != nil {
				return nil, fmt.Errorf("awsemu: world: account %s: key %q: %w", a.ID, k.ID, err)
			}
		}
	}
	st.index()
	return st, nil
}

func addAccount(st *state, a *Account) error {
	acct := &account{ID: a.ID, Users: map[string]*user{}, Roles: map[string]*role{}}
	for _, u := range a.Users {
		if err := checkPolicies(u.Policies); err != nil {
			return fmt.Errorf("user %s: %w", u.Name, err)
		}
		acct.Users[u.Name] = &user{Name: u.Name, AccessKeyID: u.AccessKeyID, SecretAccessKey: u.SecretAccessKey, Policies: maps.Clone(u.Policies)}
	}
	for _, r := range a.Roles {
		if err := checkPolicies(r.Policies); err != nil {
			return fmt.Errorf("role %s: %w", r.Name, err)
		}
		if _, err := parsePolicy(r.TrustPolicy); err != nil {
			return fmt.Errorf("role %s: trust policy: %w", r.Name, err)
		}
		acct.Roles[r.Name] = &role{Name: r.Name, TrustPolicy: r.TrustPolicy, Policies: maps.Clone(r.Policies), MaxSessionDuration: r.MaxSessionDuration}
	}
	st.Accounts[a.ID] = acct
	return nil
}

func checkPolicies(m map[string]string) error {
	for name, doc := range m {
		if _, err := parsePolicy(doc); err != nil {
			return fmt.Errorf("policy %s: %w", name, err)
		}
	}
	return nil
}

func (s *Server) addWorldKey(acct string, wk *Key) error {
	spec := wk.Spec
	if spec == "" {
		spec = specSymmetric
	}
	if err := checkPolicy(wk.Policy); err != nil {
		return err
	}
	k, err := s.addKey(acct, wk.Region, spec, wk.MultiRegion, wk.Policy)
	if err != nil {
		return err
	}
	if wk.ID != "" {
		k, err = s.renameKey(k, wk.ID)
		if err != nil {
			return err
		}
	}
	k.Description = wk.Description
	for n, v := range wk.Tags {
		k.Tags[n] = v
	}
	return s.finishWorldKey(k, wk)
}

// renameKey gives a world key the id the world file asks for.
func (s *Server) renameKey(k *key, id string) (*key, error) {
	if !keyIDRe.MatchString(id) || k.MultiRegion != strings.HasPrefix(id, "mrk-") {
		return nil, fmt.Errorf("id must be a UUID, or mrk- and 32 hex digits for a multi-Region key")
	}
	if s.st.Keys[keyARN(k.Region, k.Account, id)] != nil {
		return nil, fmt.Errorf("duplicate key id")
	}
	delete(s.st.Keys, k.ARN)
	k.ID, k.ARN = id, keyARN(k.Region, k.Account, id)
	s.st.Keys[k.ARN] = k
	return k, nil
}

func (s *Server) finishWorldKey(k *key, wk *Key) error {
	for _, r := range wk.Replicas {
		s.addReplica(k, r, k.Policy)
	}
	if wk.Rotation {
		m := s.st.Materials[k.MaterialID]
		m.Rotation, m.NextRotation = true, s.now().Add(time.Duration(m.RotationPeriod)*24*time.Hour)
	}
	if wk.Disabled {
		k.State = stateDisabled
	}
	for _, name := range wk.Aliases {
		if err := checkAliasName(name); err != nil {
			return err
		}
		arn := aliasARN(k.Region, k.Account, name)
		if s.st.Aliases[arn] != nil {
			return fmt.Errorf("duplicate alias %s", name)
		}
		s.st.Aliases[arn] = &alias{Name: name, ARN: arn, Account: k.Account, Region: k.Region, KeyID: k.ID, Created: k.Created, Updated: k.Created}
	}
	return nil
}

// index rebuilds the lookup tables that are derived from the state.
func (st *state) index() {
	st.AccessKeys = map[string]accessKey{}
	for _, a := range st.Accounts {
		for _, u := range a.Users {
			st.AccessKeys[u.AccessKeyID] = accessKey{account: a.ID, user: u.Name}
		}
	}
}

// SetStateFile makes the server load its state from path when the file exists
// and write an atomic snapshot there after every change. Keys, aliases,
// grants, sessions and the clock come from the file; accounts, users, roles
// and their policies stay those of the world, so that editing the world file
// takes effect on restart.
func (s *Server) SetStateFile(path string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err == nil {
		st := &state{}
		if err := json.Unmarshal(data, st); err != nil {
			return fmt.Errorf("awsemu: state file %s: %w", path, err)
		}
		st.Accounts = s.st.Accounts
		if len(st.SessionKey) == 0 {
			st.SessionKey = s.st.SessionKey
		}
		st.index()
		s.st, s.nextSweep = st, time.Time{}
	}
	s.stateFile = path
	return s.writeState()
}

// saveLocked snapshots the state when a state file is set; s.mu is held.
// Failures are reported on stderr and do not fail the request: the emulator
// keeps serving from memory.
func (s *Server) saveLocked() {
	if s.stateFile == "" {
		return
	}
	if err := s.writeState(); err != nil {
		fmt.Fprintf(os.Stderr, "awsemu: saving state: %v\n", err)
	}
}

// writeState writes the snapshot to a temporary file and renames it over the
// state file, so a crash leaves either the old or the new snapshot.
func (s *Server) writeState() error {
	data, err := json.Marshal(s.st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.stateFile), ".awsemu-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.stateFile)
}
