package server

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// protectedRoute is one owner-only route. Paths may hold {album}, {media},
// {share}: the test fills them with ids that belong to the victim owner.
type protectedRoute struct {
	method, path string
	body         any
}

// protectedRoutes lists every route behind requireOwner. Each capability
// appends its routes here; TestNegativeAuth proves each one refuses
// anonymous, garbage, expired, alg=none and refresh-as-access callers.
var protectedRoutes = []protectedRoute{
	{"POST", "/api/auth/logout", nil},
	{"GET", "/api/auth/me", nil},
	{"POST", "/api/auth/password", map[string]string{"old_password": "x", "new_password": "y"}},
	{"GET", "/api/instance", nil},
	{"GET", "/api/audit", nil},
}

// fixtureIDs are ids of the victim's resources, filled by capability
// fixtures (see negativeFixtures).
type fixtureIDs struct{ album, media, share string }

// negativeFixtures create the victim's resources; capabilities that add
// routes with ids register a fixture function here.
var negativeFixtures []func(e *testEnv, victim owner, ids *fixtureIDs)

func fillPath(p string, ids fixtureIDs) string {
	r := strings.NewReplacer("{album}", ids.album, "{media}", ids.media, "{share}", ids.share)
	return r.Replace(p)
}

func TestNegativeAuth(t *testing.T) {
	e := newTestEnv(t, nil)
	victim := e.createOwner("victim")
	var ids fixtureIDs
	for _, f := range negativeFixtures {
		f(e, victim, &ids)
	}
	// An expired token: issued now, used 16 minutes later (checked last).
	parts := strings.Split(victim.access, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	callers := map[string]map[string]string{
		"anonymous":         nil,
		"garbage token":     {"Authorization": "Bearer garbage"},
		"basic auth":        {"Authorization": "Basic dmljdGltOnB3"},
		"alg none":          {"Authorization": "Bearer " + forge(map[string]any{"alg": "none", "typ": "at+jwt", "kid": "g1"}, claims, "")},
		"refresh as access": {"Authorization": "Bearer " + victim.refresh},
		"cookie sans csrf":  {"Cookie": "pv_at=" + victim.access},
	}
	check := func(caller string, hdr map[string]string) {
		for _, rt := range protectedRoutes {
			path := fillPath(rt.path, ids)
			resp, body := e.do(rt.method, path, rt.body, hdr)
			if rt.method == "GET" && caller == "cookie sans csrf" {
				continue // safe methods may use the cookie without CSRF proof
			}
			if resp.StatusCode != 401 && resp.StatusCode != 403 && resp.StatusCode != 404 {
				t.Errorf("%s %s as %s: %d %s", rt.method, path, caller, resp.StatusCode, body)
			}
		}
	}
	for caller, hdr := range callers {
		check(caller, hdr)
	}
	e.clock.Advance(16 * time.Minute)
	check("expired token", victim.bearer())
}
