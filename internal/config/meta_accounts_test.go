package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline/threadline/internal/config"
)

// TestMetaAccounts: the quick-start pairs and the YAML list give the same
// accounts, the list adding names and channels; no error quotes a token.
func TestMetaAccounts(t *testing.T) {
	base := []string{"THREADLINE_META_APP_SECRET", "s", "THREADLINE_META_VERIFY_TOKEN", "v"}
	c, err := config.Load("", env(append(base, "THREADLINE_META_ACCOUNTS", " 111:EAAone , 222:EAAtwo,")...))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Meta.AccountList; len(got) != 2 || got[0].ID != "111" || got[1].Token.Reveal() != "EAAtwo" || got[0].Name != "" {
		t.Fatalf("pairs: %+v", got)
	}

	yaml := `THREADLINE_META_APP_SECRET: s
THREADLINE_META_VERIFY_TOKEN: v
THREADLINE_META_ACCOUNTS:
  - id: 112233445566778
    token: EAAPAGE
    name: Acme Help Desk
    slack_channel: C0FACEBOOK
  - id: "17841400000000001"
    token: IGTOKEN
    teams_channel: "19:ig@thread.tacv2"
`
	path := filepath.Join(t.TempDir(), "threadline.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = config.Load(path, env())
	if err != nil {
		t.Fatal(err)
	}
	want := []config.MetaAccount{
		{ID: "112233445566778", Token: "EAAPAGE", Name: "Acme Help Desk", SlackChannel: "C0FACEBOOK"},
		{ID: "17841400000000001", Token: "IGTOKEN", TeamsChannel: "19:ig@thread.tacv2"},
	}
	if got := c.Meta.AccountList; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("list: %+v", got)
	}
	if a, ok := c.Meta.MetaAccountByID("17841400000000001"); !ok || a.TeamsChannel == "" {
		t.Errorf("by id: %+v %v", a, ok)
	}
	if s := c.Meta.Accounts.String(); strings.Contains(s, "EAAPAGE") {
		t.Errorf("the setting prints its tokens: %s", s)
	}

	bad := []struct {
		name, env, yaml string
	}{
		{name: "pair without token", env: "111"},
		{name: "pair with a name for an id", env: "abc:EAAx"},
		{name: "pair twice", env: "111:EAAx,111:EAAy"},
		{name: "list without token", yaml: "  - id: 1\n    name: x\n"},
		{name: "list with a bad id", yaml: "  - id: page\n    token: EAAsecret\n"},
		{name: "list with an unknown field", yaml: "  - id: 1\n    token: EAAsecret\n    chanel: C1\n"},
		{name: "list with a bad slack channel", yaml: "  - id: 1\n    token: EAAsecret\n    slack_channel: '#support'\n"},
		{name: "list twice", yaml: "  - id: 1\n    token: EAAsecret\n  - id: 1\n    token: EAAother\n"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.yaml != "" {
				p := filepath.Join(t.TempDir(), "c.yaml")
				if werr := os.WriteFile(p, []byte("THREADLINE_META_ACCOUNTS:\n"+tc.yaml), 0o600); werr != nil {
					t.Fatal(werr)
				}
				_, err = config.Load(p, env(base...))
			} else {
				_, err = config.Load("", env(append(base, "THREADLINE_META_ACCOUNTS", tc.env)...))
			}
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.Key != "THREADLINE_META_ACCOUNTS" {
				t.Fatalf("err = %v, want one naming THREADLINE_META_ACCOUNTS", err)
			}
			if strings.Contains(err.Error(), "EAA") {
				t.Errorf("the error quotes a token: %v", err)
			}
		})
	}
}

// FuzzMetaAccounts: no value panics the parser; what it accepts are
// accounts with numeric, distinct ids and tokens, and what it refuses is
// never quoted back (the value holds tokens).
func FuzzMetaAccounts(f *testing.F) {
	for _, s := range []string{"111:EAAone,222:EAAtwo", `[{"id":1,"token":"EAAsecretsecret","name":"x","slack_channel":"C1"}]`,
		`[{"id":"abc","token":"EAAsecretsecret"}]`, `[{"id":1}]`, "[", "1:", ":EAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		var m config.Meta
		err := m.SetAccounts(v)
		if err != nil {
			if tv := strings.TrimSpace(v); len(tv) >= 12 && strings.Contains(err.Error(), tv) {
				t.Fatalf("the error quotes the value: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, a := range m.AccountList {
			if a.ID == "" || strings.Trim(a.ID, "0123456789") != "" || a.Token == "" || seen[a.ID] {
				t.Fatalf("accepted %+v from %q", a, v)
			}
			seen[a.ID] = true
		}
		if len(m.AccountList) == 0 {
			t.Fatalf("accepted no account from %q", v)
		}
	})
}
