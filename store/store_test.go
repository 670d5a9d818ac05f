package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/photovault/photovault/store"
	"github.com/photovault/photovault/store/storetest"
)

func TestMigrationsIdempotent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), store.FileName)
	s, err := store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := s.SchemaVersion(ctx)
	if err != nil || v1 < 1 {
		t.Fatalf("version %d %v", v1, err)
	}
	if _, err := s.CreateUser(ctx, "ada", "hash"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(ctx, path, store.Options{})
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer s.Close()
	v2, _ := s.SchemaVersion(ctx)
	if v2 != v1 {
		t.Fatalf("second start changed schema version %d → %d", v1, v2)
	}
	if n, _ := s.CountUsers(ctx); n != 1 {
		t.Fatalf("rows lost across restart: %d users", n)
	}
}

func TestBindMasterKey(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.BindMasterKey(ctx, "check-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.BindMasterKey(ctx, "check-a"); err != nil {
		t.Fatalf("same key refused: %v", err)
	}
	if err := s.BindMasterKey(ctx, "check-b"); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("different key: want ErrWrongKey, got %v", err)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	u, err := s.CreateUser(ctx, "Ada", "h1")
	if err != nil {
		t.Fatal(err)
	}
	if !store.ValidID(u.ID) {
		t.Fatalf("id %q not valid", u.ID)
	}
	if _, err := s.CreateUser(ctx, "ada", "h2"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("case-insensitive duplicate: %v", err)
	}
	got, err := s.UserByUsername(ctx, "ADA")
	if err != nil || got.ID != u.ID {
		t.Fatalf("lookup: %v", err)
	}
	if _, err := s.UserByID(ctx, store.NewID()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if err := s.SetUserDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, u.ID)
	if !got.Disabled {
		t.Fatal("not disabled")
	}
	if err := s.SetPassword(ctx, u.ID, "h3", ""); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UserByID(ctx, u.ID)
	if got.PasswordHash != "h3" {
		t.Fatal("password not changed")
	}
	if err := s.SetPassword(ctx, store.NewID(), "h", ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestValidID(t *testing.T) {
	for _, bad := range []string{"", "1", "../../etc/passwd", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "aaaaaaaaaaaaaaaaaaaaaaaaa'"} {
		if store.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
	if !store.ValidID(store.NewID()) {
		t.Error("NewID not valid")
	}
}
