package awskms_test

import (
	"testing"

	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/kmstest"
)

// TestConformance runs the provider suite against the emulator for each way
// the platform reaches a customer key.
func TestConformance(t *testing.T) {
	mrk := ref(mrkKey)
	mrk.FailoverRegions = []string{usEast1}
	for _, tc := range []struct {
		name       string
		rsa        bool
		key, other kms.KeyRef
	}{
		{"SymmetricDirect", false, ref(symKey), ref(symKey2)},
		{"SymmetricAlias", false, aliasRef(), ref(symKey2)},
		{"SymmetricViaRole", false, viaRole(ref(roleKey), externalID), viaRole(ref(symKey2), externalID)},
		{"SymmetricCrossRegion", false, ref(symKey), refIn(usEast1, symKeyUS)},
		{"MultiRegion", false, mrk, ref(symKey)},
		{"RSADirect", true, ref(rsaKey), ref(rsaKey2)},
		{"RSAViaRole", true, viaRole(ref(rsaKey), externalID), viaRole(ref(rsaKey2), externalID)},
		{"RSAToSymmetric", true, ref(rsaKey), ref(symKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.rsa)
			missing := tc.key
			missing.ID = keyARN(euWest1, missingKey)
			missing.FailoverRegions = nil
			kmstest.Run(t, func(t *testing.T) kmstest.Setup {
				return kmstest.Setup{Provider: e.p, Key: tc.key, OtherKey: tc.other, Missing: missing}
			})
		})
	}
}
