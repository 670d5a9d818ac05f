-- 0001_init: every table of the vault. Times are UTC Unix milliseconds.
-- IDs are opaque random strings; rowids never leave the database.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id                    TEXT PRIMARY KEY,
  username              TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash         TEXT NOT NULL,
  studio                TEXT NOT NULL DEFAULT '',
  disabled_ms           INTEGER,
  tokens_valid_after_ms INTEGER NOT NULL DEFAULT 0,
  created_ms            INTEGER NOT NULL,
  updated_ms            INTEGER NOT NULL
) STRICT;

-- A session is one login: the family of refresh tokens issued from it and the
-- access tokens carrying its id. Revoking it ends them all at once.
CREATE TABLE sessions (
  id          TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL,
  revoked_ms  INTEGER,
  user_agent  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
  token_hash  BLOB PRIMARY KEY,
  family_id   TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  created_ms  INTEGER NOT NULL,
  expires_ms  INTEGER NOT NULL,
  spent_ms    INTEGER
) STRICT;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE setup_tokens (
  token_hash  BLOB PRIMARY KEY,
  created_ms  INTEGER NOT NULL,
  used_ms     INTEGER
) STRICT;

CREATE TABLE albums (
  id             TEXT PRIMARY KEY,
  owner_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title          TEXT NOT NULL,
  description    TEXT NOT NULL DEFAULT '',
  cover_media_id TEXT,
  created_ms     INTEGER NOT NULL,
  updated_ms     INTEGER NOT NULL
) STRICT;
CREATE INDEX albums_owner ON albums(owner_id, created_ms);

-- Encrypted files on disk. refs counts the rows pointing at a blob; when it
-- drops to zero, delete_after_ms is set and the collector removes the file
-- after a grace period (a slightly older restored database still finds it).
CREATE TABLE blobs (
  id              TEXT PRIMARY KEY,
  key_id          TEXT NOT NULL,
  wrapped_key     BLOB NOT NULL,
  size            INTEGER NOT NULL,
  refs            INTEGER NOT NULL DEFAULT 0,
  created_ms      INTEGER NOT NULL,
  delete_after_ms INTEGER
) STRICT;
CREATE INDEX blobs_key ON blobs(key_id);
CREATE INDEX blobs_delete_after ON blobs(delete_after_ms) WHERE delete_after_ms IS NOT NULL;

CREATE TABLE media (
  id           TEXT PRIMARY KEY,
  owner_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  album_id     TEXT NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
  blob_id      TEXT NOT NULL REFERENCES blobs(id),
  sha256       TEXT NOT NULL,
  crc32        INTEGER NOT NULL,
  size         INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  kind         TEXT NOT NULL,
  filename     TEXT NOT NULL,
  width        INTEGER NOT NULL DEFAULT 0,
  height       INTEGER NOT NULL DEFAULT 0,
  orientation  INTEGER NOT NULL DEFAULT 1,
  taken_ms     INTEGER,
  camera       TEXT NOT NULL DEFAULT '',
  lens         TEXT NOT NULL DEFAULT '',
  enc_location BLOB,
  status       TEXT NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'ready', 'failed')),
  created_ms   INTEGER NOT NULL,
  UNIQUE (album_id, sha256)
) STRICT;
CREATE INDEX media_album_order ON media(album_id, taken_ms, filename);
CREATE INDEX media_owner_sha ON media(owner_id, sha256);
CREATE INDEX media_blob ON media(blob_id);

-- Derived files: thumb, preview, stripped original (location removed) ...
CREATE TABLE derivatives (
  media_id     TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
  variant      TEXT NOT NULL,
  blob_id      TEXT NOT NULL REFERENCES blobs(id),
  size         INTEGER NOT NULL,
  crc32        INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  width        INTEGER NOT NULL DEFAULT 0,
  height       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (media_id, variant)
) STRICT, WITHOUT ROWID;
CREATE INDEX derivatives_blob ON derivatives(blob_id);

-- Blob reference counting is kept by triggers so no code path can forget it.
CREATE TRIGGER media_blob_ref AFTER INSERT ON media BEGIN
  UPDATE blobs SET refs = refs + 1, delete_after_ms = NULL WHERE id = NEW.blob_id;
END;
CREATE TRIGGER media_blob_unref AFTER DELETE ON media BEGIN
  UPDATE blobs SET refs = refs - 1,
    delete_after_ms = CASE WHEN refs - 1 <= 0 THEN CAST(unixepoch('subsec') * 1000 AS INTEGER) ELSE NULL END
  WHERE id = OLD.blob_id;
END;
CREATE TRIGGER derivative_blob_ref AFTER INSERT ON derivatives BEGIN
  UPDATE blobs SET refs = refs + 1, delete_after_ms = NULL WHERE id = NEW.blob_id;
END;
CREATE TRIGGER derivative_blob_unref AFTER DELETE ON derivatives BEGIN
  UPDATE blobs SET refs = refs - 1,
    delete_after_ms = CASE WHEN refs - 1 <= 0 THEN CAST(unixepoch('subsec') * 1000 AS INTEGER) ELSE NULL END
  WHERE id = OLD.blob_id;
END;

-- Persistent job queue (derivatives, ...). One row per (kind, target).
CREATE TABLE jobs (
  id              INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL,
  target          TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  run_after_ms    INTEGER NOT NULL,
  locked_until_ms INTEGER,
  last_error      TEXT NOT NULL DEFAULT '',
  created_ms      INTEGER NOT NULL,
  UNIQUE (kind, target)
) STRICT;
CREATE INDEX jobs_ready ON jobs(state, run_after_ms);

CREATE TABLE public_shares (
  id               TEXT PRIMARY KEY,
  owner_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  album_id         TEXT NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
  token_hash       BLOB NOT NULL UNIQUE,
  label            TEXT NOT NULL DEFAULT '',
  password_hash    TEXT,
  password_version INTEGER NOT NULL DEFAULT 0,
  expires_ms       INTEGER,
  max_views        INTEGER,
  views            INTEGER NOT NULL DEFAULT 0,
  max_downloads    INTEGER,
  downloads        INTEGER NOT NULL DEFAULT 0,
  download         TEXT NOT NULL CHECK (download IN ('none', 'preview', 'original')),
  strip_location   INTEGER NOT NULL DEFAULT 1,
  watermark        TEXT NOT NULL DEFAULT '',
  selection_limit  INTEGER,
  notify_first_view INTEGER NOT NULL DEFAULT 0,
  first_viewed_ms  INTEGER,
  revoked_ms       INTEGER,
  created_ms       INTEGER NOT NULL,
  updated_ms       INTEGER NOT NULL
) STRICT;
CREATE INDEX idx_publicshare_token_hash ON public_shares(token_hash);
CREATE INDEX idx_publicshare_expires_at ON public_shares(expires_ms);
CREATE INDEX public_shares_owner ON public_shares(owner_id, created_ms);
CREATE INDEX public_shares_album ON public_shares(album_id);

CREATE TABLE share_items (
  share_id TEXT NOT NULL REFERENCES public_shares(id) ON DELETE CASCADE,
  media_id TEXT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
  PRIMARY KEY (share_id, media_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE share_access_logs (
  id          INTEGER PRIMARY KEY,
  share_id    TEXT NOT NULL REFERENCES public_shares(id) ON DELETE CASCADE,
  accessed_ms INTEGER NOT NULL,
  event       TEXT NOT NULL,
  ip_hash     TEXT NOT NULL,
  user_agent  TEXT NOT NULL DEFAULT '',
  media_id    TEXT
) STRICT;
CREATE INDEX idx_share_access_created_at ON share_access_logs(share_id, accessed_ms);

CREATE TABLE selections (
  id           TEXT PRIMARY KEY,
  share_id     TEXT NOT NULL REFERENCES public_shares(id) ON DELETE CASCADE,
  name         TEXT NOT NULL,
  email        TEXT NOT NULL,
  note         TEXT NOT NULL DEFAULT '',
  submitted_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX selections_share ON selections(share_id, submitted_ms);

CREATE TABLE selection_items (
  selection_id TEXT NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
  media_id     TEXT NOT NULL,
  PRIMARY KEY (selection_id, media_id)
) STRICT, WITHOUT ROWID;

-- Tamper-evident audit trail: hash = SHA-256(prev_hash || canonical row).
CREATE TABLE audit_logs (
  id          INTEGER PRIMARY KEY,
  created_ms  INTEGER NOT NULL,
  event_type  TEXT NOT NULL,
  actor       TEXT NOT NULL DEFAULT '',
  owner_id    TEXT NOT NULL DEFAULT '',
  target      TEXT NOT NULL DEFAULT '',
  ip_hash     TEXT NOT NULL DEFAULT '',
  request_id  TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT '',
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL
) STRICT;
CREATE INDEX idx_audit_event_type ON audit_logs(event_type, created_ms);
