package server

import (
	"strings"
	"testing"

	"github.com/photovault/photovault/store/keys"
)

func TestSealedText(t *testing.T) {
	k, _ := keys.Generate()
	other, _ := keys.Generate()
	sealed, err := SealText(k, "media1", "camera", "CanaryCam 9000")
	if err != nil || !strings.HasPrefix(sealed, "pv1:") || strings.Contains(sealed, "Canary") {
		t.Fatalf("seal: %v %q", err, sealed)
	}
	if v, err := OpenText(k, "media1", "camera", sealed); err != nil || v != "CanaryCam 9000" {
		t.Fatalf("open: %v %q", err, v)
	}
	if TextKeyID(sealed) != k.ID() {
		t.Fatal("key id")
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 1
	for name, c := range map[string]struct {
		key          keys.Key
		media, field string
		value        string
	}{
		"other media": {k, "media2", "camera", sealed},
		"other field": {k, "media1", "lens", sealed},
		"other key":   {other, "media1", "camera", sealed},
		"tampered":    {k, "media1", "camera", string(flipped)},
	} {
		if _, err := OpenText(c.key, c.media, c.field, c.value); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if v, _ := SealText(k, "m", "camera", ""); v != "" {
		t.Fatal("empty value sealed")
	}
	if v, err := OpenText(k, "m", "camera", "legacy plain"); err != nil || v != "legacy plain" {
		t.Fatal("unsealed legacy value")
	}
}
