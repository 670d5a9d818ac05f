package server

func init() {
	protectedRoutes = append(protectedRoutes,
		protectedRoute{"POST", "/api/shares", map[string]any{"album_id": "{album}"}},
		protectedRoute{"GET", "/api/shares", nil},
		protectedRoute{"GET", "/api/shares/{share}", nil},
		protectedRoute{"PATCH", "/api/shares/{share}", map[string]any{"label": "x"}},
		protectedRoute{"DELETE", "/api/shares/{share}", nil},
		protectedRoute{"GET", "/api/shares/{share}/analytics", nil},
		protectedRoute{"GET", "/api/shares/{share}/access-log", nil},
		protectedRoute{"GET", "/api/shares/{share}/access-log.csv", nil},
		protectedRoute{"GET", "/api/shares/{share}/selections", nil},
		protectedRoute{"GET", "/api/shares/{share}/selections.csv", nil},
		protectedRoute{"GET", "/api/shares/{share}/selections.txt", nil},
		protectedRoute{"PATCH", "/api/auth/me", map[string]any{"studio": "x"}},
	)
	negativeFixtures = append(negativeFixtures, func(e *testEnv, victim owner, ids *fixtureIDs) {
		if ids.album == "" {
			ids.album = e.newAlbum(victim, "victim album").ID
		}
		ids.share = e.share(victim, map[string]any{"album_id": ids.album}).ID
	})
}
