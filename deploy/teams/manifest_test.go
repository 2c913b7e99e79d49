package teams_test

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/threadline/threadline/bridge"
)

type manifest struct {
	ManifestVersion string `json:"manifestVersion"`
	ID              string `json:"id"`
	Icons           struct{ Color, Outline string }
	Bots            []struct {
		BotID        string   `json:"botId"`
		Scopes       []string `json:"scopes"`
		CommandLists []struct {
			Scopes   []string `json:"scopes"`
			Commands []struct{ Title, Description string }
		} `json:"commandLists"`
	} `json:"bots"`
	WebApplicationInfo struct{ ID string } `json:"webApplicationInfo"`
	Authorization      struct {
		Permissions struct {
			ResourceSpecific []struct{ Name, Type string } `json:"resourceSpecific"`
		}
	}
}

// TestPackage builds the app package as the README says and checks what
// Teams requires of it.
func TestPackage(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	const appID = "00000000-1111-2222-3333-444444444444"
	out := filepath.Join(t.TempDir(), "app.zip")
	cmd := exec.Command("./package.sh", out)
	cmd.Env = append(os.Environ(), "THREADLINE_TEAMS_APP_ID="+appID)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("package.sh: %v\n%s", err, b)
	}
	z, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	files := map[string][]byte{}
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		files[f.Name], _ = io.ReadAll(r)
		r.Close()
	}
	var m manifest
	if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if strings.Contains(string(files["manifest.json"]), "${") {
		t.Error("a placeholder was left in the packaged manifest")
	}
	if m.ID != appID || len(m.Bots) != 1 || m.Bots[0].BotID != appID || m.WebApplicationInfo.ID != appID {
		t.Errorf("app ids: %+v", m)
	}
	// Icons: a 192x192 color icon and a 32x32 outline, both PNG.
	for name, size := range map[string]uint32{m.Icons.Color: 192, m.Icons.Outline: 32} {
		b := files[name]
		if len(b) < 24 || string(b[1:4]) != "PNG" || binary.BigEndian.Uint32(b[16:20]) != size || binary.BigEndian.Uint32(b[20:24]) != size {
			t.Errorf("icon %s is not a %dx%d PNG", name, size, size)
		}
	}
	rsc := false
	for _, p := range m.Authorization.Permissions.ResourceSpecific {
		rsc = rsc || (p.Name == "ChannelMessage.Read.Group" && p.Type == "Application")
	}
	if !rsc {
		t.Error("the ChannelMessage.Read.Group resource-specific permission is missing")
	}
	if len(m.Bots[0].CommandLists) != 1 {
		t.Fatalf("command lists: %+v", m.Bots[0].CommandLists)
	}
	cmds := m.Bots[0].CommandLists[0].Commands
	if len(cmds) == 0 || len(cmds) > 10 {
		t.Errorf("%d commands; Teams shows 1 to 10", len(cmds))
	}
	seen := map[string]bool{}
	for _, c := range cmds {
		if seen[c.Title] || len(c.Title) > 32 || len(c.Description) > 128 {
			t.Errorf("command %+v: duplicate or too long", c)
		}
		seen[c.Title] = true
		// Every listed command is a verb of the one grammar.
		if _, ok := bridge.Verb(c.Title).Spec(); !ok {
			t.Errorf("command %q is not a verb of the command grammar", c.Title)
		}
	}
}

func TestPackageNeedsAGUID(t *testing.T) {
	cmd := exec.Command("./package.sh", filepath.Join(t.TempDir(), "app.zip"))
	cmd.Env = append(os.Environ(), "THREADLINE_TEAMS_APP_ID=not-a-guid")
	if err := cmd.Run(); err == nil {
		t.Error("package.sh accepted an app id that is not a GUID")
	}
}
