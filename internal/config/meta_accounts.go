package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MetaAccount is one connected Facebook Page or Instagram professional
// account as configured.
type MetaAccount struct {
	ID    string
	Token Secret
	// Name is shown on cards instead of the name the Graph API gives.
	Name string
	// SlackChannel and TeamsChannel are where the account's new
	// conversations open, instead of the inbox channel; setting only one
	// routes them to that surface.
	SlackChannel string
	TeamsChannel string
}

// metaAccountRecord is an entry of the YAML list form.
type metaAccountRecord struct {
	ID           json.Number `json:"id"`
	Token        string      `json:"token"`
	Name         string      `json:"name"`
	SlackChannel string      `json:"slack_channel"`
	TeamsChannel string      `json:"teams_channel"`
}

// parseMetaAccounts reads THREADLINE_META_ACCOUNTS: comma-separated
// id:token pairs (the quick start), or the YAML file's list of mappings,
// which reaches here as JSON. Errors name entries by position and never
// quote a token.
func parseMetaAccounts(v string) ([]MetaAccount, error) {
	if strings.HasPrefix(strings.TrimSpace(v), "[") {
		return parseMetaAccountList(v)
	}
	var out []MetaAccount
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, token, ok := strings.Cut(part, ":")
		id, token = strings.TrimSpace(id), strings.TrimSpace(token)
		if _, err := strconv.ParseUint(id, 10, 64); err != nil || !ok || token == "" {
			return nil, fmt.Errorf("entry %d must be pageOrInstagramId:accessToken with a numeric id", i+1)
		}
		out = append(out, MetaAccount{ID: id, Token: Secret(token)})
	}
	return checkMetaAccountSet(out, "must list at least one pageOrInstagramId:accessToken")
}

func parseMetaAccountList(v string) ([]MetaAccount, error) {
	dec := json.NewDecoder(strings.NewReader(v))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	var recs []metaAccountRecord
	if err := dec.Decode(&recs); err != nil {
		// The decoder's message may quote the value, tokens included.
		return nil, errors.New("must be a list of mappings with id, token and optionally name, slack_channel, teams_channel")
	}
	var out []MetaAccount
	for i, r := range recs {
		id := strings.TrimSpace(r.ID.String())
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			return nil, fmt.Errorf("entry %d: id must be the numeric Page or Instagram account id", i+1)
		}
		if strings.TrimSpace(r.Token) == "" {
			return nil, fmt.Errorf("entry %d (%s): token is required", i+1, id)
		}
		if r.SlackChannel != "" && !strings.HasPrefix(r.SlackChannel, "C") && !strings.HasPrefix(r.SlackChannel, "G") {
			return nil, fmt.Errorf("entry %d (%s): slack_channel must be a channel id (C...)", i+1, id)
		}
		if r.TeamsChannel != "" && !strings.HasPrefix(r.TeamsChannel, "19:") {
			return nil, fmt.Errorf("entry %d (%s): teams_channel must be a channel id (19:...@thread.tacv2)", i+1, id)
		}
		out = append(out, MetaAccount{ID: id, Token: Secret(strings.TrimSpace(r.Token)), Name: strings.TrimSpace(r.Name),
			SlackChannel: r.SlackChannel, TeamsChannel: r.TeamsChannel})
	}
	return checkMetaAccountSet(out, "must list at least one account")
}

func checkMetaAccountSet(accounts []MetaAccount, empty string) ([]MetaAccount, error) {
	if len(accounts) == 0 {
		return nil, errors.New(empty)
	}
	seen := map[string]bool{}
	for i, a := range accounts {
		if seen[a.ID] {
			return nil, fmt.Errorf("entry %d: account %s is listed twice", i+1, a.ID)
		}
		seen[a.ID] = true
	}
	return accounts, nil
}

// SetAccounts sets THREADLINE_META_ACCOUNTS from its value, either form.
func (m *Meta) SetAccounts(v string) error {
	accounts, err := parseMetaAccounts(v)
	if err != nil {
		return err
	}
	m.Accounts, m.AccountList = Secret(v), accounts
	return nil
}

// MetaAccountByID returns the configured account with a platform id.
func (m Meta) MetaAccountByID(id string) (MetaAccount, bool) {
	for _, a := range m.AccountList {
		if a.ID == id {
			return a, true
		}
	}
	return MetaAccount{}, false
}
