package main

import (
	"strings"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
)

// The customer's second AWS account in the lifecycle scripts' world (a
// vault account beside the demo account 222222222222), for keys used
// through a role in the other account:
//
//	VAULT_ACCOUNT  333333333333
//	VAULT_KEY      its multi-Region key in eu-west-1 (replica in eu-central-1),
//	               under KMS's default policy: only its own root may use it
//	XROLE          a role in 222222222222 the platform may assume with
//	               EXTERNAL_ID, whose own policy is the generated one for
//	               VAULT_KEY (tenant xacct)
//	VAULT_ROLE     a role in 333333333333, the same for REPLICA (the demo
//	               key's replica in eu-central-1, in 222222222222)
//
// Its administrator's credentials are vaultAdminKey/vaultAdminSecret
// (emu put-policy picks the administrator of the key's account). IAM has
// no API in the emulator, so the roles are made here, from the generated
// trust and role policies, as the customer would apply them.
const (
	vaultAccount     = "333333333333"
	vaultKeyID       = "mrk-3d3e3f00112233445566778899aabbcc"
	vaultAdminKey    = "AKIABYOKVAULTADMIN01"
	vaultAdminSecret = "byok-vault-admin-secret"
	xacctTenant      = "xacct"
	xacctRoleName    = "byok-xacct"
)

var vaultKeyARN = "arn:aws:kms:" + devRegion + ":" + vaultAccount + ":key/" + vaultKeyID

// xacctPlatform is the platform configuration the roles are generated for:
// the lifecycle scripts' platform account, two hosting regions.
const xacctPlatform = `regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
  - name: eu-central-1
    platform_account_id: "111111111111"
policy:
  require_multi_region: true
`

// xacctRole is the role of account roleAccount for keyARN, from the
// generated trust and role policies.
func xacctRole(region, keyARN, roleAccount string) (awsemu.Role, error) {
	pcfg, err := platform.Parse(strings.NewReader(xacctPlatform), nil)
	if err != nil {
		return awsemu.Role{}, err
	}
	m, err := onboarding.NewModel(pcfg, onboarding.Request{TenantID: xacctTenant, ExternalID: lifecycleExternalID, Region: region,
		Pattern: platform.AssumedRole, KeyARN: keyARN, RoleName: xacctRoleName, RoleAccount: roleAccount})
	if err != nil {
		return awsemu.Role{}, err
	}
	return awsemu.Role{Name: xacctRoleName, TrustPolicy: string(m.TrustPolicy().JSON()),
		Policies: map[string]string{"byok-key-access": string(m.RolePolicy().JSON())}}, nil
}

// addVaultAccount adds the vault account and the two roles to world, and
// returns the scripts' variables naming them.
func addVaultAccount(world *awsemu.World) (map[string]string, error) {
	toVault, err := xacctRole(devRegion, vaultKeyARN, devCustomerAccount)
	if err != nil {
		return nil, err
	}
	fromVault, err := xacctRole(devReplica, replicaARN(devKeyARN), vaultAccount)
	if err != nil {
		return nil, err
	}
	world.Accounts[1].Roles = append(world.Accounts[1].Roles, toVault)
	world.Accounts = append(world.Accounts, awsemu.Account{ID: vaultAccount,
		Users: []awsemu.User{{Name: "admin", AccessKeyID: vaultAdminKey, SecretAccessKey: vaultAdminSecret,
			Policies: map[string]string{"kms": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}}},
		Keys: []awsemu.Key{{ID: vaultKeyID, Region: devRegion, MultiRegion: true, Replicas: []string{devReplica}, Rotation: true,
			Description: "the vault account's key"}},
		Roles: []awsemu.Role{fromVault}})
	return map[string]string{
		"VAULT_ACCOUNT": vaultAccount, "VAULT_KEY": vaultKeyARN, "VAULT_REPLICA": replicaARN(vaultKeyARN),
		"XROLE":      "arn:aws:iam::" + devCustomerAccount + ":role/" + xacctRoleName,
		"VAULT_ROLE": "arn:aws:iam::" + vaultAccount + ":role/" + xacctRoleName,
	}, nil
}

// adminCredentials is the administrator of account's credentials.
func adminCredentials(account string) awsStatic {
	if account == vaultAccount {
		return awsStatic{AccessKeyID: vaultAdminKey, SecretAccessKey: vaultAdminSecret}
	}
	return awsStatic{AccessKeyID: demoCustomerKey, SecretAccessKey: demoCustomerSecret}
}
